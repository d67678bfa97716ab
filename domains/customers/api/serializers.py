"""Customer representations (the seed's shape, plus name, segment, ARR, success manager, created_at), and
the bodies of the health endpoints: signals, health-change events, the health with its breakdown."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.bulk import bulk_request_serializer, bulk_response_serializer
from csintegration.api.datetimes import RFC3339DateTimeField, not_in_future
from csintegration.api.fields import LabelField, PrefixedIdField, StrictDecimalField, StrictFloatField
from csintegration.api.representation import PlannedRepresentationMixin

from ..models import (
    MEASURE_BOUNDS,
    PAYMENT_STATUS_VALUES,
    Direction,
    FinanceStatus,
    HealthSource,
    HealthTrend,
    LifecycleStage,
    MarketingStatus,
    Measure,
    OperationsStatus,
    ProductStatus,
    RiskLevel,
    SalesStatus,
    Segment,
)

MAX_BULK_RECORDS = 1000
CUSTOMER_ID_PREFIX = "cust"


class SuccessMetricsSerializer(PlannedRepresentationMixin, serializers.Serializer):
    adoption_rate = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, required=False, help_text="0 to 1"
    )
    engagement_score = serializers.FloatField(
        min_value=0, max_value=10, allow_null=True, required=False, help_text="0 to 10"
    )
    nps_score = serializers.IntegerField(min_value=-100, max_value=100, allow_null=True, required=False)


class IntegrationStatusSerializer(PlannedRepresentationMixin, serializers.Serializer):
    marketing = serializers.ChoiceField(
        choices=MarketingStatus.choices, source="marketing_status", required=False
    )
    sales = serializers.ChoiceField(choices=SalesStatus.choices, source="sales_status", required=False)
    product = serializers.ChoiceField(choices=ProductStatus.choices, source="product_status", required=False)
    finance = serializers.ChoiceField(choices=FinanceStatus.choices, source="finance_status", required=False)
    operations = serializers.ChoiceField(
        choices=OperationsStatus.choices, source="operations_status", required=False
    )


class CustomerSerializer(PlannedRepresentationMixin, serializers.Serializer):
    """A customer. On create, ``customer_id`` may be given (``cust_…``); otherwise one is generated."""

    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX, required=False)
    name = serializers.CharField(max_length=200)
    segment = serializers.ChoiceField(choices=Segment.choices, required=False)
    arr = StrictDecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="Annual recurring revenue (rounded to cents)",
    )
    success_manager = serializers.EmailField(required=False, allow_blank=True)
    health_score = serializers.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        help_text="A new score goes through the health engine: it is kept in the history, its risk level "
        "is its band under the customer's scorecard, and health_score_change is published",
    )
    health_trend = serializers.ChoiceField(
        choices=HealthTrend.choices,
        required=False,
        help_text="Computed by the health engine from the history; a value sent is checked, not stored",
    )
    risk_level = serializers.ChoiceField(
        choices=RiskLevel.choices,
        required=False,
        help_text="Computed by the health engine (the score's band under the customer's scorecard); a "
        "value sent is checked, not stored",
    )
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    success_metrics = SuccessMetricsSerializer(source="*", required=False)
    integration_status = IntegrationStatusSerializer(source="*", required=False)
    created_at = serializers.DateTimeField(read_only=True)
    last_updated = serializers.DateTimeField(source="updated_at", read_only=True)

    def validate_customer_id(self, value: str) -> str:
        if self.instance is not None and value != self.instance.customer_id:
            raise serializers.ValidationError("The customer id cannot be changed.", code="immutable")
        return value


class CustomerUpdateSerializer(CustomerSerializer):
    """A customer as PUT and PATCH take it: the id is the path's; a body naming another id is refused."""

    customer_id = serializers.CharField(read_only=True)

    def to_internal_value(self, data):
        current = getattr(self.instance, "customer_id", None)
        if isinstance(data, dict) and "customer_id" in data and data["customer_id"] != current:
            raise serializers.ValidationError(
                {"customer_id": ["The customer id cannot be changed."]}, code="immutable"
            )
        return super().to_internal_value(data)


CustomerBulkRequestDocSerializer = bulk_request_serializer(
    "CustomerBulk", bulk_field="customers", item_serializer=CustomerSerializer, max_items=MAX_BULK_RECORDS
)
CustomerBulkResponseSerializer = bulk_response_serializer(
    "CustomerBulk", key_name="customer_id", statuses=["created", "updated"]
)


# --- Health ---------------------------------------------------------------------------------------------

MAX_SIGNAL_ITEMS = 1000
MAX_LABELS = 50


class PaymentStatusField(serializers.Field):
    """``current``, ``overdue`` or ``delinquent``, or a number from 0 (delinquent) to 1 (current)."""

    default_error_messages = {
        "invalid": "Use current, overdue or delinquent, or a number from 0 to 1.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and data in PAYMENT_STATUS_VALUES:
            return PAYMENT_STATUS_VALUES[data]
        if isinstance(data, int | float) and not isinstance(data, bool) and 0 <= data <= 1:
            return float(data)
        self.fail("invalid")

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(PAYMENT_STATUS_VALUES)},
            {"type": "number", "minimum": 0, "maximum": 1},
        ]
    }
)
class DocumentedPaymentStatusField(PaymentStatusField):
    pass


def _measure_field(measure: str) -> serializers.Field:
    if measure == Measure.PAYMENT_STATUS:
        return DocumentedPaymentStatusField(required=False, help_text=Measure(measure).label)
    low, high = MEASURE_BOUNDS[measure]
    return StrictFloatField(required=False, min_value=low, max_value=high, help_text=Measure(measure).label)


class SignalValuesSerializer(serializers.Serializer):
    """The latest values of one or more signals; any other name is refused."""

    openapi_schema_extra = {"minProperties": 1, "additionalProperties": False}

    adoption_rate = _measure_field(Measure.ADOPTION_RATE)
    engagement = _measure_field(Measure.ENGAGEMENT)
    nps = _measure_field(Measure.NPS)
    login_frequency = _measure_field(Measure.LOGIN_FREQUENCY)
    support_tickets = _measure_field(Measure.SUPPORT_TICKETS)
    payment_status = _measure_field(Measure.PAYMENT_STATUS)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                'An object of signal names and values, e.g. {"login_frequency": 12}.', code="invalid"
            )
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"Unknown signal; use one of {', '.join(self.fields)}."] for name in unknown},
                    code="unknown",
                )
            if not data:
                raise serializers.ValidationError("Send at least one signal.", code="empty")
        return super().to_internal_value(data)


class SignalsRequestSerializer(serializers.Serializer):
    signals = SignalValuesSerializer()
    observed_at = RFC3339DateTimeField(
        required=False, validators=[not_in_future], help_text="When the values were observed (default: now)"
    )


class SignalsBulkItemSerializer(SignalsRequestSerializer):
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)


SignalsBulkRequestDocSerializer = bulk_request_serializer(
    "SignalsBulk", bulk_field="items", item_serializer=SignalsBulkItemSerializer, max_items=MAX_SIGNAL_ITEMS
)
SignalsBulkResponseSerializer = bulk_response_serializer(
    "SignalsBulk",
    key_name="customer_id",
    statuses=["recorded"],
    extra={
        "health_score": serializers.IntegerField(required=False),
        "previous_score": serializers.IntegerField(required=False),
        "health_trend": serializers.CharField(required=False),
        "risk_level": serializers.CharField(required=False),
        "stale_signals": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


class BreakdownEntrySerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=Measure.choices)
    direction = serializers.ChoiceField(choices=Direction.choices)
    raw_value = serializers.FloatField(allow_null=True, help_text="null when the customer has no value")
    normalised_value = serializers.FloatField(allow_null=True, help_text="0 to 1, 1 is healthiest")
    weight = serializers.FloatField(help_text="As configured in the scorecard")
    weight_share = serializers.FloatField(help_text="Share of the weights of the measures that have a value")
    contribution = serializers.FloatField(help_text="Points of the score; the contributions add up to it")


class MeasureChangeSerializer(serializers.Serializer):
    measure = serializers.CharField()
    previous_raw_value = serializers.FloatField(allow_null=True)
    raw_value = serializers.FloatField(allow_null=True)
    raw_delta = serializers.FloatField(allow_null=True)
    previous_contribution = serializers.FloatField()
    contribution = serializers.FloatField()
    contribution_delta = serializers.FloatField()


class ScorecardSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    is_default = serializers.BooleanField()
    segment = serializers.CharField(allow_null=True)
    lifecycle_stage = serializers.CharField(allow_null=True)


class SignalValueSerializer(serializers.Serializer):
    value = serializers.FloatField()
    observed_at = serializers.DateTimeField()


class HealthHistoryEntrySerializer(serializers.Serializer):
    snapshot_id = serializers.IntegerField()
    score = serializers.IntegerField()
    previous_score = serializers.IntegerField(allow_null=True)
    score_delta = serializers.IntegerField(allow_null=True)
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    source = serializers.ChoiceField(choices=HealthSource.choices)
    applied = serializers.BooleanField(
        help_text="False for a reported score older than the one current then (history only)"
    )
    scorecard = serializers.CharField(allow_null=True)
    change_reason = serializers.CharField(allow_null=True)
    trigger_events = serializers.ListField(child=serializers.CharField())
    changes = MeasureChangeSerializer(many=True)
    event_id = serializers.CharField(allow_null=True)
    churn_event_id = serializers.CharField(allow_null=True)
    observed_at = serializers.DateTimeField()


class CustomerHealthSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    health_score = serializers.IntegerField()
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    source = serializers.ChoiceField(
        choices=HealthSource.choices, allow_null=True, help_text="What produced the current score"
    )
    scored_at = serializers.DateTimeField(allow_null=True)
    scorecard = ScorecardSummarySerializer(
        help_text="The scorecard of the breakdown (or the one that applies)"
    )
    breakdown = BreakdownEntrySerializer(many=True, help_text="Of the latest score computed by a scorecard")
    breakdown_score = serializers.IntegerField(
        allow_null=True, help_text="The score the breakdown adds up to"
    )
    changes = MeasureChangeSerializer(many=True, help_text="Per measure, since the score before it")
    signals = serializers.DictField(
        child=SignalValueSerializer(), help_text="The latest value of each signal"
    )
    history = HealthHistoryEntrySerializer(many=True, help_text="Most recent first")


class SignalsResponseSerializer(CustomerHealthSerializer):
    previous_score = serializers.IntegerField()
    score_changed = serializers.BooleanField()
    stale_signals = serializers.ListField(
        child=serializers.CharField(), help_text="Older than the stored value of the same signal; not applied"
    )


class HealthChangeRequestSerializer(serializers.Serializer):
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    previous_score = serializers.IntegerField(
        min_value=0, max_value=100, help_text="The score the sender believes current"
    )
    new_score = serializers.IntegerField(min_value=0, max_value=100)
    change_reason = LabelField()
    trigger_events = serializers.ListField(
        child=LabelField(),
        max_length=MAX_LABELS,
        required=False,
        default=list,
    )
    recommended_actions = serializers.ListField(
        child=LabelField(),
        max_length=MAX_LABELS,
        required=False,
        default=list,
    )
    timestamp = RFC3339DateTimeField(
        required=False, validators=[not_in_future], help_text="When the change happened (default: now)"
    )


class HealthChangeResponseSerializer(PlannedRepresentationMixin, serializers.Serializer):
    event_id = serializers.CharField(
        allow_null=True, help_text="The health_score_change event (evt_…); null when not applied"
    )
    applied = serializers.BooleanField(
        help_text="False when the change is older than the customer's latest score: it is kept in the "
        "history at its time, but the current score stays and nothing is published"
    )
    not_applied_reason = serializers.ChoiceField(
        choices=["older_than_latest_score"], allow_null=True, help_text="Why, when not applied"
    )
    customer_id = serializers.CharField()
    previous_score = serializers.IntegerField(help_text="As sent")
    stored_previous_score = serializers.IntegerField(help_text="The score stored before this change")
    previous_score_matched = serializers.BooleanField()
    previous_score_difference = serializers.IntegerField(
        help_text="previous_score minus stored_previous_score"
    )
    new_score = serializers.IntegerField()
    health_score = serializers.IntegerField()
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    previous_risk_level = serializers.CharField(help_text="The risk level before this change")
    churn_risk_detected = serializers.BooleanField()
    churn_event_id = serializers.CharField(allow_null=True)
    snapshot_id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
