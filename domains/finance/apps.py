"""App config of the finance domain: its event types, the overdue check and the nightly refit of the
renewal model, its demo data and its panel on the customer's admin page."""

from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "domains.finance"
    label = "finance"
    verbose_name = "Finance"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.adminsite.customer_sets import register_customer_set
        from csintegration.adminsite.dashboard import register_dashboard_section
        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import events  # noqa: F401  (registers the event types)
        from .conf import conf
        from .dashboard import OPEN_EPISODES_SET, episodes_section, open_episode_customer_ids
        from .demo import seed_demo_finance
        from .panels import render_customer_panel

        register_periodic_task(
            "finance-check-payment-standings",
            task="finance.check_payment_standings",
            schedule=float(conf.FINANCE_OVERDUE_CHECK_SECONDS),
            options={"queue": "default", "expires": float(conf.FINANCE_OVERDUE_CHECK_SECONDS)},
        )
        # Routed to the bulk queue by its name (*.recompute*).
        register_periodic_task(
            "finance-recompute-renewal-model",
            task="finance.recompute_renewal_model",
            schedule=crontab(hour=3, minute=10),
            options={"queue": "bulk"},
        )
        register_demo_seeder("finance", seed_demo_finance, order=50)
        register_customer_panel(
            "finance", title="Contracts, payments and value", render=render_customer_panel, order=50
        )
        register_dashboard_section(
            "churn_episodes", title="Churn-risk episodes", render=episodes_section, order=15
        )
        register_customer_set(
            OPEN_EPISODES_SET,
            title="Open churn-risk episode",
            customer_ids=open_episode_customer_ids,
            order=20,
        )
