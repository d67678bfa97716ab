"""Query filters of the operations lists: workflow runs and CS tasks, and rules."""

import django_filters
from django.utils import timezone

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import BooleanFilter, StrictFilterSet

from .models import AutomationRule, CSTask, RunStatus, RunTrigger, TaskKind, TaskStatus, WorkflowRun

ID_HELP = "An id such as cust_12345"


class WorkflowRunFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text=ID_HELP)
    status = django_filters.MultipleChoiceFilter(
        choices=RunStatus.choices, help_text="Repeat to match any of several statuses"
    )
    workflow_type = django_filters.CharFilter(
        field_name="workflow_type", help_text="e.g. health_decline_intervention"
    )
    triggered_by = django_filters.MultipleChoiceFilter(choices=RunTrigger.choices)
    created_since = RFC3339DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601 time; runs created since then"
    )

    class Meta:
        model = WorkflowRun
        fields = []


class TaskFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text=ID_HELP)
    assignee = django_filters.CharFilter(
        field_name="assignee__email", lookup_expr="iexact", help_text="The assignee's e-mail address"
    )
    status = django_filters.MultipleChoiceFilter(choices=TaskStatus.choices, help_text="Repeatable")
    kind = django_filters.MultipleChoiceFilter(choices=TaskKind.choices, help_text="Repeatable")
    overdue = BooleanFilter(method="filter_overdue", help_text="true: open and past the due date")

    class Meta:
        model = CSTask
        fields = []

    def filter_overdue(self, queryset, name, value):
        overdue = {"status__in": ("open", "in_progress"), "due_at__lt": timezone.now()}
        return queryset.filter(**overdue) if value else queryset.exclude(**overdue)


class RuleFilter(StrictFilterSet):
    event_type = django_filters.CharFilter(field_name="event_type")
    is_active = BooleanFilter(field_name="is_active")

    class Meta:
        model = AutomationRule
        fields = []
