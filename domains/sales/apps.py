"""App config of the sales domain: its event types, the re-evaluation of readiness when the customers' health
changes, the nightly re-evaluation, its demo data and its panel on the customer's admin page."""

from django.apps import AppConfig

#: names of the choice sets that several components of the OpenAPI document share (drf-spectacular would
#: otherwise name each after a hash, with a warning)
OPENAPI_ENUM_NAMES = {
    "OpportunityStatusEnum": "domains.sales.models.OpportunityStatus",
    "OpportunityTypeEnum": "domains.sales.models.OpportunityType",
    "MilestoneKindEnum": "domains.sales.models.MilestoneKind",
}


class SalesConfig(AppConfig):
    name = "domains.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.api.schema import register_enum_names
        from csintegration.events import subscribe
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import events  # noqa: F401  (registers the event types)
        from .conf import conf
        from .demo import seed_demo_sales
        from .panels import render_sales_panel
        from .services import readiness_on_customer_event

        # The customers app declares these types, so a subscription to them is never optional.
        register_enum_names(OPENAPI_ENUM_NAMES)
        subscribe(
            "sales.readiness",
            readiness_on_customer_event,
            event_types=["health_score_change", "customer.updated"],
            optional=False,
        )
        register_periodic_task(
            "sales-recompute-all-readiness",
            task="sales.recompute_all_readiness",
            schedule=crontab(hour=conf.SALES_READINESS_NIGHTLY_HOUR, minute=15),
            options={"queue": "bulk"},
        )
        register_demo_seeder("sales", seed_demo_sales, order=30)
        register_customer_panel(
            "sales", title="Sales: handoff, success plan and expansion", render=render_sales_panel, order=20
        )
