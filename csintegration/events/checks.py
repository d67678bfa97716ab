"""System checks of the event machinery: every subscription names types that some app declares."""

from django.core import checks

from .registry import ALL_EVENTS, subscribers
from .types import event_type_exists


def check_subscriptions(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    problems = []
    for subscriber in subscribers():
        if subscriber.optional:
            continue
        unknown = sorted(
            name for name in subscriber.event_types - {ALL_EVENTS} if not event_type_exists(name)
        )
        if unknown:
            problems.append(
                checks.Error(
                    f"The subscriber {subscriber.name!r} wants event types no app declares: "
                    f"{', '.join(unknown)}.",
                    hint="Declare them with register_event_type() in the publishing app's events.py, "
                    "or subscribe with optional=True.",
                    id="events.E001",
                )
            )
    return problems
