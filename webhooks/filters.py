"""Query filters of the endpoint and delivery lists."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from csintegration.api.filters import StrictFilterSet
from csintegration.events.models import EventType

from .models import Delivery, DeliveryStatus, WebhookEndpoint


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.ChoiceFilter):
    """``true`` or ``false``; anything else (``null``, ``1``, ``yes``) is a 400."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        super().__init__(*args, **kwargs)

    def filter(self, queryset, value):
        if value in ("true", "false"):
            return queryset.filter(**{self.field_name: value == "true"})
        return queryset


class EndpointFilter(StrictFilterSet):
    is_active = StrictBooleanFilter(help_text="true for active endpoints, false for disabled ones")

    class Meta:
        model = WebhookEndpoint
        fields = []


class DeliveryFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=DeliveryStatus.choices, help_text="Repeat to match any of several states"
    )
    event_type = django_filters.MultipleChoiceFilter(choices=EventType.choices)
    created_since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601 time; deliveries created since then"
    )

    class Meta:
        model = Delivery
        fields = []
