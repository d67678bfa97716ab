"""App config of the marketing domain: its event types, its subscribers, its periodic jobs, its demo data
and its panel on the customer's admin page."""

from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "domains.marketing"
    label = "marketing"
    verbose_name = "Marketing"

    def ready(self) -> None:
        from csintegration.adminsite.dashboard import register_dashboard_section
        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import events  # noqa: F401  (registers the event types)
        from .conf import conf
        from .dashboard import campaign_section
        from .demo import seed_demo_marketing
        from .panels import render_marketing_panel
        from .subscribers import subscribe_marketing

        subscribe_marketing()
        register_periodic_task(
            "marketing-complete-due-campaigns",
            task="marketing.complete_due_campaigns",
            schedule=float(conf.MARKETING_COMPLETION_CHECK_SECONDS),
            options={"expires": float(conf.MARKETING_COMPLETION_CHECK_SECONDS)},
        )
        register_periodic_task(
            "marketing-track-campaign-comparisons",
            task="marketing.track_campaign_comparisons",
            schedule=float(conf.MARKETING_COMPARISON_TRACK_SECONDS),
            options={"queue": "bulk", "expires": float(conf.MARKETING_COMPARISON_TRACK_SECONDS)},
        )
        register_demo_seeder("marketing", seed_demo_marketing, order=40)
        register_customer_panel(
            "marketing", title="Marketing: journey and campaigns", render=render_marketing_panel, order=10
        )
        register_dashboard_section(
            "campaigns",
            title="Campaigns running and their measured impact",
            render=campaign_section,
            order=40,
        )
