"""The state of the outbox read from the database: what the health check and the metrics show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min


@dataclass(frozen=True)
class OutboxState:
    backlog: int
    oldest_undispatched_seconds: float


def outbox_state(*, now: datetime) -> OutboxState:
    """One aggregate query on the partial index of undispatched events."""
    from csintegration.events.models import Event

    events = Event.objects.filter(dispatched_at__isnull=True).aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    oldest = events["oldest"]
    return OutboxState(
        backlog=events["count"],
        oldest_undispatched_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
