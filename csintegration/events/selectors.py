"""Reads of the event log shared by the API and the admin."""

from collections.abc import Collection

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Event
from .types import readable_event_types


def event_list(*, scopes: Collection[str] | None = None) -> QuerySet[Event]:
    """The log; with ``scopes``, only the types whose read scope is among them (None: every event)."""
    events = Event.objects.all()
    if scopes is not None:
        events = events.filter(event_type__in=[t.name for t in readable_event_types(frozenset(scopes))])
    return events


def event_get(*, event_id: str, scopes: Collection[str] | None = None) -> Event:
    return get_object_or_404(event_list(scopes=scopes), event_id=event_id)
