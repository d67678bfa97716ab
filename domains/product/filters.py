"""Query filters of the product lists: features, usage and feedback."""

import django_filters

from csintegration.api.filters import BooleanFilter, StrictFilterSet

from .models import (
    OPEN_STATUSES,
    BusinessImpact,
    Feature,
    FeatureUsage,
    Feedback,
    FeedbackPriority,
    FeedbackStatus,
    FeedbackType,
)


class FeatureFilter(StrictFilterSet):
    is_active = BooleanFilter(help_text="true: features counted in adoption rates")

    class Meta:
        model = Feature
        fields = []


class UsageFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="`cust_…`")
    feature_id = django_filters.CharFilter(field_name="feature_id", help_text="`feat_…`")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte", help_text="Days on or after")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte", help_text="Days on or before")

    class Meta:
        model = FeatureUsage
        fields = []


class FeedbackFilter(StrictFilterSet):
    customer_id = django_filters.CharFilter(field_name="customer_id", help_text="`cust_…`")
    status = django_filters.MultipleChoiceFilter(
        choices=FeedbackStatus.choices, help_text="Repeat to match any of several statuses"
    )
    open = BooleanFilter(
        method="filter_open", help_text="true: new, under review, planned or in progress; false: the others"
    )
    category = django_filters.CharFilter(field_name="category", help_text="A category label")
    type = django_filters.MultipleChoiceFilter(choices=FeedbackType.choices)
    priority = django_filters.MultipleChoiceFilter(choices=FeedbackPriority.choices)
    business_impact = django_filters.MultipleChoiceFilter(choices=BusinessImpact.choices)
    committed_release = django_filters.CharFilter(field_name="committed_release")

    class Meta:
        model = Feedback
        fields = []

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(status__in=OPEN_STATUSES) if value else queryset.exclude(status__in=OPEN_STATUSES)
        )
