"""App config of the operations domain: its event types and step actions, the automation rules on the
event bus, the check-in after a sales handoff, its periodic jobs, demo data and customer panel."""

import importlib

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "domains.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from celery.schedules import crontab

        from csintegration.adminsite.dashboard import register_dashboard_section
        from csintegration.adminsite.panels import register_customer_panel
        from csintegration.events import subscribe
        from csintegration.schedules import register_periodic_task
        from csintegration.seeding import register_demo_seeder

        from . import builtin_steps, events  # noqa: F401  (register the event types and step actions)
        from .conf import conf
        from .dashboard import operations_section
        from .demo import seed_demo_operations
        from .panel import render_customer_panel
        from .services import check_in_after_handoff, rules_apply
        from .services.rules import SUBSCRIBER

        for module in conf.OPERATIONS_ACTION_MODULES:
            importlib.import_module(module)

        # Inline: a rule's run is created in the transaction of the change that fired it, with no trip
        # through the broker before its first step; every event type, since a rule may name any.
        subscribe(SUBSCRIBER, rules_apply, inline=True)
        subscribe(
            "operations.handoff_check_in",
            lambda event: check_in_after_handoff(event=event),
            event_types=["handoff_completed"],
            optional=True,
        )
        register_periodic_task(
            "operations-resume-stalled-steps",
            task="operations.resume_stalled_steps",
            schedule=conf.OPERATIONS_DISPATCH_INTERVAL_SECONDS,
            options={"queue": "default", "expires": conf.OPERATIONS_DISPATCH_INTERVAL_SECONDS},
        )
        register_periodic_task(
            "operations-escalate-overdue-tasks",
            task="operations.escalate_overdue_tasks",
            schedule=conf.OPERATIONS_ESCALATION_INTERVAL_SECONDS,
            options={"queue": "default", "expires": conf.OPERATIONS_ESCALATION_INTERVAL_SECONDS},
        )
        register_periodic_task(
            "operations-snapshot-performance",
            task="operations.snapshot_performance",
            schedule=crontab(hour=0, minute=20),
            options={"queue": "bulk"},
        )
        register_demo_seeder("operations", seed_demo_operations, order=60)
        register_customer_panel(
            "operations", title="Operations: tasks and workflows", render=render_customer_panel, order=60
        )
        register_dashboard_section(
            "operations", title="Tasks and workflows", render=operations_section, order=50
        )
