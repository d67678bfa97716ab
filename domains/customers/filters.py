"""Query filters of the customer list."""

import django_filters

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import IntegerFilter, StrictFilterSet

from .models import Customer, LifecycleStage, RiskLevel, Segment


class CustomerFilter(StrictFilterSet):
    risk_level = django_filters.MultipleChoiceFilter(
        choices=RiskLevel.choices, help_text="Repeat to match any of several levels"
    )
    lifecycle_stage = django_filters.MultipleChoiceFilter(choices=LifecycleStage.choices)
    segment = django_filters.MultipleChoiceFilter(choices=Segment.choices)
    health_score_min = IntegerFilter(
        field_name="health_score", lookup_expr="gte", min_value=0, max_value=100, help_text="Score at least"
    )
    health_score_max = IntegerFilter(
        field_name="health_score", lookup_expr="lte", min_value=0, max_value=100, help_text="Score at most"
    )
    updated_since = RFC3339DateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="RFC 3339 time; customers changed since then"
    )
    success_manager = django_filters.CharFilter(field_name="success_manager", lookup_expr="iexact")
    search = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Part of the name"
    )

    class Meta:
        model = Customer
        fields = []
