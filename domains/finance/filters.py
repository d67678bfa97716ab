"""Query filters of the finance lists."""

import django_filters

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import StrictFilterSet

from . import selectors
from .models import Contract, Payment, PaymentStatus, ValueReport


class ContractFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="`cust_…`")
    in_force_on = django_filters.DateFilter(
        method="filter_in_force_on", help_text="Contracts in force on this date (YYYY-MM-DD)"
    )
    ends_after = django_filters.DateFilter(
        field_name="end_date", lookup_expr="gte", help_text="Ending on or after this date"
    )
    ends_before = django_filters.DateFilter(
        field_name="end_date", lookup_expr="lte", help_text="Ending on or before this date"
    )

    class Meta:
        model = Contract
        fields = []

    def filter_in_force_on(self, queryset, name, value):
        return queryset.filter(selectors.in_force_on(value))


class PaymentFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="`cust_…`")
    contract_id = django_filters.CharFilter(field_name="contract_id", help_text="`ctr_…`")
    status = django_filters.ChoiceFilter(
        choices=PaymentStatus.choices,
        method="filter_status",
        help_text="paid, overdue (unpaid past due date and grace, as of today) or open",
    )
    due_after = django_filters.DateFilter(
        field_name="due_date", lookup_expr="gte", help_text="Due on or after"
    )
    due_before = django_filters.DateFilter(
        field_name="due_date", lookup_expr="lte", help_text="Due on or before"
    )

    class Meta:
        model = Payment
        fields = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(selectors.payment_status_q(value))


class ValueReportFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="`cust_…`")
    reported_after = RFC3339DateTimeFilter(
        field_name="reported_at", lookup_expr="gte", help_text="ISO 8601 time; reported at or after"
    )
    reported_before = RFC3339DateTimeFilter(
        field_name="reported_at", lookup_expr="lt", help_text="ISO 8601 time; reported before"
    )

    class Meta:
        model = ValueReport
        fields = []
