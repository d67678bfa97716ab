"""Reads of the event log shared by the API and the admin."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Event


def event_list() -> QuerySet[Event]:
    return Event.objects.all()


def event_get(*, event_id: str) -> Event:
    return get_object_or_404(Event, event_id=event_id)
