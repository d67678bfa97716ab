"""Request and response bodies of the product API: features, usage, the adoption report and feedback.

Every computed figure says in its ``help_text`` what it counts over what window.
"""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.bulk import bulk_request_serializer, bulk_response_serializer
from csintegration.api.datetimes import WithinClock
from csintegration.api.fields import LabelField, PrefixedIdField, StrictIntegerField
from csintegration.api.updates import CreateOnlyFieldsMixin, NonEmptyBodyMixin
from domains.customers.models import Segment

from ..conf import conf
from ..models import (
    FEATURE_ID_PREFIX,
    FEEDBACK_ID_PREFIX,
    BusinessImpact,
    FeedbackPriority,
    FeedbackStatus,
    FeedbackType,
)

CUSTOMER_ID_PREFIX = "cust"
MAX_BULK_USAGE = 5000
MAX_USAGE_COUNT = 1_000_000_000
MAX_THRESHOLD = 1_000_000
MAX_DESCRIPTION = 10_000
SEGMENT_CHOICES = tuple(Segment.values)


def inline_choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field whose enum stays inline in the OpenAPI document: the feedback statuses and
    priorities share their names or values with other choice sets of the platform, and a shared enum
    component would need a name given in the project's settings."""
    values = [value for value, _ in choices]
    schema = {"anyOf": [{"type": "string", "enum": values}]}
    field_class = extend_schema_field(schema)(type("InlineChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


# --- Features --------------------------------------------------------------------------------------


class FeatureSerializer(CreateOnlyFieldsMixin, serializers.Serializer):
    create_only_fields = ("feature_id",)

    feature_id = PrefixedIdField(
        prefix=FEATURE_ID_PREFIX,
        required=False,
        help_text="`feat_…`, e.g. feat_analytics (default: generated)",
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    adoption_threshold = StrictIntegerField(
        min_value=1,
        max_value=MAX_THRESHOLD,
        required=False,
        help_text="Uses within the window that make a customer an adopter (default 1)",
    )
    window_days = StrictIntegerField(
        min_value=1,
        max_value=conf.PRODUCT_MAX_WINDOW_DAYS,
        required=False,
        help_text="The window, in days ending today (UTC) and including it, over which usage is added up "
        "(default 30)",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="Counted in customers' adoption rates (default true)"
    )
    recomputing = serializers.BooleanField(
        read_only=True,
        help_text="True while adoption is recomputed from the usage after a threshold change",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# --- Usage -------------------------------------------------------------------------------------------


def usage_days() -> tuple[timedelta, timedelta]:
    """The days a usage count may be for, from today (UTC): what is kept, to what may be announced."""
    kept = max(conf.PRODUCT_USAGE_RETENTION_DAYS, conf.PRODUCT_MAX_WINDOW_DAYS)
    return -timedelta(days=kept - 1), timedelta(days=conf.PRODUCT_USAGE_FUTURE_DAYS)


class UsageSerializer(serializers.Serializer):
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    feature_id = PrefixedIdField(prefix=FEATURE_ID_PREFIX)
    date = serializers.DateField(
        validators=[
            WithinClock(
                usage_days,
                too_early=("Older than the usage kept ({bound} at the earliest).", "too_old"),
                too_late=("This day is in the future.", "future"),
            )
        ],
        help_text="The day of use (UTC), from PRODUCT_USAGE_RETENTION_DAYS ago to PRODUCT_USAGE_FUTURE_DAYS "
        "ahead",
    )
    count = StrictIntegerField(
        min_value=0, max_value=MAX_USAGE_COUNT, help_text="Uses that day; replaces any count sent before"
    )


class UsageResultSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    feature_id = serializers.CharField()
    date = serializers.DateField()
    count = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["created", "replaced"], help_text="replaced: the day had a count, which this one replaced"
    )
    adopted = serializers.BooleanField(
        help_text="Whether the customer's usage of the feature over its window (days ending today, UTC) "
        "reaches its adoption threshold, after this write"
    )
    adoption_rate = serializers.FloatField(
        allow_null=True,
        help_text="The customer's adoption rate after this write: the share of active features whose usage "
        "over each one's own window reaches its threshold (null when no feature is active); sent to the "
        "health engine as the adoption_rate signal",
    )


class UsageRowSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    feature_id = serializers.CharField()
    date = serializers.DateField()
    count = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


UsageBulkRequestSerializer = bulk_request_serializer(
    "UsageBulk", bulk_field="items", item_serializer=UsageSerializer, max_items=MAX_BULK_USAGE
)
UsageBulkResponseSerializer = bulk_response_serializer(
    "UsageBulk",
    key_name="customer_id",
    statuses=["created", "replaced"],
    extra={
        "feature_id": serializers.CharField(required=False),
        "date": serializers.DateField(required=False),
        "adopted": serializers.BooleanField(
            required=False, help_text="As for POST /usage: adopted under the feature's window after the write"
        ),
        "adoption_rate": serializers.FloatField(
            required=False, allow_null=True, help_text="The customer's adoption rate after the write"
        ),
    },
)


# --- Adoption ----------------------------------------------------------------------------------------


class PreviousWindowSerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The day of the nightly snapshot used (one window back)")
    overall_adoption = serializers.FloatField(
        allow_null=True, help_text="The share of non-churned customers that had adopted, as of that day"
    )
    customers = serializers.IntegerField(help_text="Non-churned customers then")


class AdoptionMetricsSerializer(serializers.Serializer):
    overall_adoption = serializers.FloatField(
        allow_null=True,
        help_text="Share of non-churned customers (lifecycle stage other than churned) whose usage of the "
        "feature over the last window_days days (ending today, UTC) reaches the adoption threshold; null "
        "when there is no such customer",
    )
    segment_adoption = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="The same share within each segment (enterprise, mid_market, small_business); null for a "
        "segment without non-churned customers",
    )
    customers = serializers.IntegerField(help_text="Non-churned customers the shares are over")
    adopters = serializers.IntegerField(help_text="Of whom adopted the feature over the window")
    segment_customers = serializers.DictField(
        child=serializers.IntegerField(), help_text="Non-churned customers per segment"
    )
    window_days = serializers.IntegerField(help_text="The window used (the feature's unless asked)")
    adoption_threshold = serializers.IntegerField(help_text="Uses within the window that count as adoption")
    as_of = serializers.DateField(help_text="The last day of the window (today, UTC)")
    previous_window = PreviousWindowSerializer(
        allow_null=True,
        help_text="The overall adoption one window earlier, from the nightly snapshot taken on or before "
        "as_of minus window_days under the same window; null when there is none",
    )


class SuccessCorrelationSerializer(serializers.Serializer):
    adoption_success_link = serializers.FloatField(
        allow_null=True,
        help_text="Pearson correlation, over the non-churned customers, of adoption (1 adopted over the "
        "window, else 0) with the current health score (0 to 100); null when either is constant or fewer "
        "than two customers",
    )
    health_impact = serializers.ChoiceField(
        choices=["high", "medium", "low", "none", "negative", "unknown"],
        help_text="The band of adoption_success_link: high at or above 0.5, medium at or above 0.3, low at "
        "or above 0.1, negative at or below -0.1, none in between, unknown when it is null "
        "(PRODUCT_HEALTH_IMPACT_BANDS)",
    )
    retention_correlation = serializers.FloatField(
        allow_null=True,
        help_text="Pearson correlation, over every customer including churned ones, of adoption over the "
        "window with retention (1 for any lifecycle stage other than churned, i.e. active or renewing; 0 "
        "for churned); null when either is constant. Churned customers count with the usage they recorded "
        "in the window",
    )
    customers = serializers.IntegerField(help_text="Customers the retention correlation is over")
    churned_customers = serializers.IntegerField(help_text="Of whom churned")


class ImprovementOpportunitySerializer(serializers.Serializer):
    opportunity = serializers.CharField()
    rule = serializers.ChoiceField(
        choices=["low_overall_adoption", "low_segment_adoption", "weak_success_link", "falling_adoption"]
    )
    segment = serializers.CharField(allow_null=True)
    value = serializers.FloatField(help_text="The figure the rule read")
    threshold = serializers.FloatField(help_text="The bound it fell below")


class AdoptionReportSerializer(serializers.Serializer):
    feature_id = serializers.CharField()
    segment = serializers.ChoiceField(
        choices=Segment.choices, allow_null=True, help_text="The segment asked for; null: every segment"
    )
    adoption_metrics = AdoptionMetricsSerializer()
    success_correlation = SuccessCorrelationSerializer()
    improvement_opportunities = serializers.ListField(
        child=serializers.CharField(),
        help_text="From the rules, in order: feature_discovery (overall adoption below "
        "PRODUCT_LOW_ADOPTION_SHARE), enhanced_onboarding (a segment below it, or PRODUCT_SEGMENT_GAP below "
        "the overall share), training_content (adoption_success_link below PRODUCT_WEAK_LINK), "
        "re_engagement_campaign (adoption PRODUCT_FALLING_ADOPTION_DROP below previous_window); a rule reads "
        "a figure only over at least PRODUCT_RULES_MIN_CUSTOMERS customers",
    )
    opportunity_reasons = ImprovementOpportunitySerializer(
        many=True, help_text="Which rule found each, and on what"
    )
    recomputing = serializers.BooleanField(
        help_text="True while adoption is recomputed after a threshold change (the figures mix both)"
    )
    customers_synced_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Changes of customers (health, segment, stage) up to this time are counted; usage is "
        "counted as soon as it is written",
    )


# --- Feedback ----------------------------------------------------------------------------------------


class ObjectSerializer(serializers.Serializer):
    """A nested object whose wrong type is reported at its own path (``feedback``), not below it."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.", code="invalid")
        return super().to_internal_value(data)


class FeedbackBodySerializer(ObjectSerializer):
    type = serializers.ChoiceField(choices=FeedbackType.choices)
    category = LabelField(help_text="A label, e.g. workflow_automation")
    priority = inline_choice_field(FeedbackPriority.choices, help_text="As the customer declares it")
    business_impact = serializers.ChoiceField(choices=BusinessImpact.choices)
    description = serializers.CharField(
        max_length=MAX_DESCRIPTION, help_text="Stored encrypted; never in events or logs"
    )


class SuccessContextSerializer(ObjectSerializer):
    health_impact = LabelField(required=False, help_text="e.g. churn_risk_reduction")
    efficiency_gain = serializers.CharField(
        max_length=200, required=False, help_text="e.g. 40% less manual work"
    )
    customer_value = LabelField(required=False, help_text="e.g. proactive_success_intervention")


class FeedbackRequestSerializer(serializers.Serializer):
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    feedback = FeedbackBodySerializer()
    success_context = SuccessContextSerializer(required=False)


class FeedbackSummaryBodySerializer(serializers.Serializer):
    type = serializers.CharField()
    category = serializers.CharField()
    priority = serializers.CharField()
    business_impact = serializers.CharField()


class FeedbackBodyWithDescriptionSerializer(FeedbackSummaryBodySerializer):
    description = serializers.CharField()


class PriorityTermSerializer(serializers.Serializer):
    value = serializers.FloatField(help_text="0 to 1")
    weight = serializers.FloatField()


class PriorityBreakdownSerializer(serializers.Serializer):
    arr = serializers.FloatField(help_text="The customer's ARR when the score was computed")
    health_score = serializers.IntegerField(help_text="Its health score then")
    terms = serializers.DictField(
        child=PriorityTermSerializer(),
        help_text="priority, business_impact, arr (log10(1 + ARR) / log10(1 + PRODUCT_FEEDBACK_ARR_CAP)) and "
        "health_risk ((100 - health) / 100), each with its weight",
    )


class FeedbackSerializer(serializers.Serializer):
    """A feedback without its description (the answer of POST, which may be stored for replays)."""

    feedback_id = serializers.CharField(help_text=f"`{FEEDBACK_ID_PREFIX}_…`")
    customer_id = serializers.CharField()
    feedback = FeedbackSummaryBodySerializer(source="*")
    success_context = serializers.DictField(child=serializers.CharField())
    priority_score = serializers.FloatField(
        help_text="0 to 100: 100 * weighted mean of the declared priority (low 0.25 … critical 1), the "
        "business impact (nice_to_have 0.25 … renewal_blocker 1), the customer's ARR on a log scale capped "
        "at PRODUCT_FEEDBACK_ARR_CAP and its health risk ((100 - health) / 100), weights "
        "PRODUCT_FEEDBACK_WEIGHTS (0.35, 0.25, 0.25, 0.15); recomputed nightly while the feedback is open"
    )
    priority_breakdown = PriorityBreakdownSerializer(source="priority_inputs")
    status = inline_choice_field(FeedbackStatus.choices)
    allowed_statuses = serializers.ListField(
        child=inline_choice_field(FeedbackStatus.choices),
        help_text="The statuses it may move to next",
    )
    committed_release = serializers.CharField(help_text="Empty without a commitment")
    committed_by = serializers.CharField(help_text="The client id or staff user that set committed_release")
    committed_at = serializers.DateTimeField(allow_null=True)
    submitted_by = serializers.CharField()
    status_changed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class FeedbackDetailSerializer(FeedbackSerializer):
    """A feedback with its description (decrypted)."""

    feedback = FeedbackBodyWithDescriptionSerializer(source="*")


class FeedbackUpdateSerializer(NonEmptyBodyMixin, serializers.Serializer):
    status = inline_choice_field(
        FeedbackStatus.choices,
        required=False,
        help_text="new → under_review | planned | declined; under_review → planned | declined; planned → "
        "in_progress | under_review | declined; in_progress → delivered | planned; declined → "
        "under_review; delivered is final",
    )
    committed_release = LabelField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The release it is committed to (needed to plan); null or empty withdraws it",
    )
