"""Domain events: ``publish()`` writes an event in the caller's transaction (the outbox) and a Celery
fan-out delivers it to every ``subscribe()``-d handler after commit.

    from csintegration.events import publish, subscribe
    from csintegration.events.models import EventType

    with transaction.atomic():
        customer.save()
        publish(EventType.CUSTOMER_UPDATED, customer_id=customer.customer_id, payload={...})
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .registry import subscribe

if TYPE_CHECKING:
    from .models import Event


def publish(
    event_type: str, *, customer_id: str | None, payload: dict, occurred_at: datetime | None = None
) -> Event:
    """Record an event in the caller's transaction; after commit it is fanned out to subscribers.

    See ``csintegration.events.services.event_publish``.
    """
    # Imported here: this package is imported while Django loads its apps, before models may be.
    from .services import event_publish

    return event_publish(event_type, customer_id=customer_id, payload=payload, occurred_at=occurred_at)


def publish_many(messages) -> list[Event]:
    """Publish many events in the caller's transaction: ``[(event_type, customer_id, payload,
    occurred_at | None), …]``; returns the events in order. See ``services.event_publish_many``."""
    from .services import event_publish_many

    return event_publish_many(messages)


__all__ = ("publish", "publish_many", "subscribe")
