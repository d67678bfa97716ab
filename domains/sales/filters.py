"""Query filters of the opportunity and milestone lists."""

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.fields import prefixed_id_validator
from csintegration.api.filters import StrictFilterSet

from . import periods
from .models import Milestone, MilestoneKind, Opportunity, OpportunityStatus, OpportunityType


class PeriodField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("strip", False)  # read as sent, as the published pattern says
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in (None, ""):
            return None
        try:
            return periods.parse_exact_period(value)
        except periods.InvalidPeriod as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


@extend_schema_field({"type": "string", "pattern": periods.PERIOD_PATTERN, "example": "q1_2026"})
class PeriodFilter(django_filters.Filter):
    """Opportunities whose timeline falls within a quarter or month."""

    field_class = PeriodField

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(timeline_start__gte=value.start, timeline_end__lte=value.end)


def _customer_filter():
    return django_filters.CharFilter(
        field_name="customer_id", validators=[prefixed_id_validator("cust")], help_text="`cust_…`"
    )


class OpportunityFilter(StrictFilterSet):
    customer_id = _customer_filter()
    status = django_filters.MultipleChoiceFilter(
        choices=OpportunityStatus.choices, help_text="Repeat to match any of several statuses"
    )
    type = django_filters.MultipleChoiceFilter(choices=OpportunityType.choices)
    period = PeriodFilter(
        help_text=f"Timeline within {periods.FORMATS_HELP} (a quarter holds the opportunities of its months)"
    )

    class Meta:
        model = Opportunity
        fields = []


class MilestoneFilter(StrictFilterSet):
    customer_id = _customer_filter()
    milestone = django_filters.MultipleChoiceFilter(choices=MilestoneKind.choices)
    achieved_after = RFC3339DateTimeFilter(
        field_name="achieved_at", lookup_expr="gte", help_text="ISO 8601 time (inclusive)"
    )
    achieved_before = RFC3339DateTimeFilter(
        field_name="achieved_at", lookup_expr="lt", help_text="ISO 8601 time (exclusive)"
    )

    class Meta:
        model = Milestone
        fields = []
