"""Query filters of the marketing lists."""

import django_filters

from csintegration.api.datetimes import RFC3339DateTimeFilter
from csintegration.api.filters import StrictFilterSet

from .models import Campaign, CampaignStatus, CampaignType


class CampaignFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=CampaignStatus.choices, help_text="Repeat to match any of several statuses"
    )
    campaign_type = django_filters.MultipleChoiceFilter(choices=CampaignType.choices)
    trigger_type = django_filters.CharFilter(field_name="trigger_type", help_text="Exactly this trigger type")
    created_since = RFC3339DateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601 time; campaigns created since then"
    )

    class Meta:
        model = Campaign
        fields = []
