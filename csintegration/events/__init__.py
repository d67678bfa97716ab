"""Domain events: ``publish()`` writes an event in the caller's transaction (the outbox) and a Celery
fan-out delivers it to every ``subscribe()``-d handler after commit. Each app declares the types it
publishes with ``register_event_type()`` in its ``events.py``.

    from csintegration.events import EventMessage, publish_many

    with transaction.atomic():
        report.save()
        publish_many([EventMessage(REPORT_PUBLISHED.name, report.customer_id, {"report_id": report.pk})])
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from .registry import subscribe
from .types import (
    EventMessage,
    EventType,
    UnknownEventType,
    event_type_get,
    event_types,
    readable_event_types,
    register_event_type,
)

if TYPE_CHECKING:
    from .models import Event


def publish(
    event_type: str, *, customer_id: str | None, payload: dict, occurred_at: datetime | None = None
) -> Event:
    """Record one event in the caller's transaction; after commit it is fanned out to subscribers.

    See ``csintegration.events.services.event_publish``.
    """
    # Imported here: this package is imported while Django loads its apps, before models may be.
    from .services import event_publish

    return event_publish(event_type, customer_id=customer_id, payload=payload, occurred_at=occurred_at)


def publish_many(messages: Iterable[EventMessage]) -> list[Event]:
    """Publish many events in the caller's transaction, in a bounded number of queries; returns the
    events in order. See ``services.event_publish_many``."""
    from .services import event_publish_many

    return event_publish_many(messages)


__all__ = (
    "EventMessage",
    "EventType",
    "UnknownEventType",
    "event_type_get",
    "event_types",
    "publish",
    "publish_many",
    "readable_event_types",
    "register_event_type",
    "subscribe",
)
