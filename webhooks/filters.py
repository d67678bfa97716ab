"""Query filters of the endpoint and delivery lists."""

import django_filters

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import BooleanFilter, StrictFilterSet
from csintegration.events.filters import event_type_choices

from .models import Delivery, DeliveryStatus, WebhookEndpoint


class EndpointFilter(StrictFilterSet):
    is_active = BooleanFilter(help_text="true for active endpoints, false for disabled ones")

    class Meta:
        model = WebhookEndpoint
        fields = []


class DeliveryFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=DeliveryStatus.choices, help_text="Repeat to match any of several states"
    )
    event_type = django_filters.MultipleChoiceFilter(choices=event_type_choices)
    created_since = RFC3339DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="RFC 3339 time; deliveries created since then"
    )

    class Meta:
        model = Delivery
        fields = []
