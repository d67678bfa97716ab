"""Query filters of the event log."""

import django_filters

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import BooleanFilter, StrictFilterSet

from .models import Event
from .types import event_types


def event_type_choices() -> list[tuple[str, str]]:
    return [(event_type.name, event_type.label) for event_type in event_types()]


class EventFilter(StrictFilterSet):
    event_type = django_filters.MultipleChoiceFilter(
        choices=event_type_choices, help_text="Repeat to match any of several types"
    )
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="Events of this customer")
    occurred_after = RFC3339DateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", help_text="RFC 3339 time; events at or after it"
    )
    occurred_before = RFC3339DateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", help_text="RFC 3339 time; events strictly before it"
    )
    dispatched = BooleanFilter(
        method="filter_dispatched",
        help_text="true: handed to every subscriber; false: still in the outbox",
    )

    class Meta:
        model = Event
        fields = []

    def filter_dispatched(self, queryset, name, value):
        return queryset.filter(dispatched_at__isnull=not value)
