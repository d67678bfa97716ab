"""App config of outbound webhooks: the events subscriber that writes deliveries, and the dispatcher."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from csintegration.adminsite.dashboard import register_dashboard_section
        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.api.health import register_health_check
        from csintegration.events import subscribe
        from csintegration.observability.collectors import register_collector
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from .conf import conf
        from .dashboard import delivery_section
        from .deliveries import message_create_for_event
        from .demo import seed_demo_webhooks
        from .observability import DeliveryStateCollector, check_deliveries
        from .panels import render_customer_panel

        def on_event(event) -> None:
            message_create_for_event(event=event)

        subscribe("webhooks", on_event, inline=True)
        register_periodic_task(
            "webhooks-dispatch-due-deliveries",
            task="webhooks.dispatch_due_deliveries",
            schedule=conf.WEBHOOK_DISPATCH_INTERVAL_SECONDS,
            # Not on the webhooks queue: the dispatcher must run however busy the deliveries keep it.
            options={"queue": "default", "expires": conf.WEBHOOK_DISPATCH_INTERVAL_SECONDS},
        )
        register_health_check("deliveries", check_deliveries)
        register_collector("webhooks.deliveries", DeliveryStateCollector())
        register_demo_seeder("webhooks", seed_demo_webhooks, order=70)
        register_customer_panel(
            "webhooks", title="Webhook deliveries", render=render_customer_panel, order=90
        )
        register_dashboard_section("webhooks", title="Webhook deliveries", render=delivery_section, order=60)
