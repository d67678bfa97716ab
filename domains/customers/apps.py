"""App config of the customers domain: its event types, the projection of the other domains' events, its
nightly recompute and its demo data."""

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "domains.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import events  # noqa: F401  (registers the event types)
        from .demo import seed_demo_customers
        from .projections import subscribe_projections

        subscribe_projections()
        register_periodic_task(
            "customers-recompute-all-health",
            task="customers.recompute_all_health",
            schedule=crontab(hour=2, minute=30),
            options={"queue": "bulk"},
        )
        register_demo_seeder("customers", seed_demo_customers, order=10)
