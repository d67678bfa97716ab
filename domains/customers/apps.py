"""App config of the customers domain: its event types, the projection of the other domains' events, its
nightly recompute, its demo data and its dashboard sections."""

from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "domains.customers"
    label = "customers"
    verbose_name = "Customers"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.adminsite.customer_sets import register_customer_set
        from csintegration.adminsite.dashboard import register_dashboard_section
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import (
            dashboard,
            events,  # noqa: F401  (registers the event types)
        )
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
        register_dashboard_section(
            "risk", title="Who is at risk, and why", render=dashboard.risk_section, order=10
        )
        register_dashboard_section(
            "health", title="Health and lifecycle", render=dashboard.health_section, order=20
        )
        register_customer_set(
            "newly_at_risk",
            title="Newly at risk (7 days)",
            customer_ids=dashboard.newly_at_risk_ids,
            order=10,
        )
