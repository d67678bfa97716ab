"""Customer representations (the seed's shape, plus name, segment, ARR, success manager, created_at), and
the bodies of the health endpoints: signals, health-change events, the health with its breakdown."""

import math
from datetime import timedelta

from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField
from csintegration.api.fields import StrictDecimalField

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

customer_id_validator = RegexValidator(
    r"^cust_[A-Za-z0-9_-]{1,59}$", "A customer id is 'cust_' followed by letters, digits, '_' or '-'."
)


class SuccessMetricsSerializer(serializers.Serializer):
    adoption_rate = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, required=False, help_text="0 to 1"
    )
    engagement_score = serializers.FloatField(
        min_value=0, max_value=10, allow_null=True, required=False, help_text="0 to 10"
    )
    nps_score = serializers.IntegerField(min_value=-100, max_value=100, allow_null=True, required=False)


class IntegrationStatusSerializer(serializers.Serializer):
    marketing = serializers.ChoiceField(
        choices=MarketingStatus.choices, source="marketing_status", required=False
    )
    sales = serializers.ChoiceField(choices=SalesStatus.choices, source="sales_status", required=False)
    product = serializers.ChoiceField(choices=ProductStatus.choices, source="product_status", required=False)
    finance = serializers.ChoiceField(choices=FinanceStatus.choices, source="finance_status", required=False)
    operations = serializers.ChoiceField(
        choices=OperationsStatus.choices, source="operations_status", required=False
    )


class CustomerSerializer(serializers.Serializer):
    """A customer. On create, ``customer_id`` may be given (``cust_…``); otherwise one is generated."""

    customer_id = serializers.CharField(required=False, max_length=64, validators=[customer_id_validator])
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
    health_score = serializers.IntegerField(min_value=0, max_value=100, required=False)
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices, required=False)
    risk_level = serializers.ChoiceField(
        choices=RiskLevel.choices, required=False, help_text="Derived from health_score when omitted"
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


class CustomerBulkRequestSerializer(serializers.Serializer):
    customers = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BULK_RECORDS,
        help_text=f"Up to {MAX_BULK_RECORDS} customers as for POST; an existing customer_id is updated",
    )


class CustomerBulkRequestDocSerializer(serializers.Serializer):
    """The documented shape of the bulk body (records are validated one by one at run time)."""

    customers = serializers.ListField(child=CustomerSerializer(), min_length=1, max_length=MAX_BULK_RECORDS)


class BulkErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    customer_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "error"])
    errors = BulkErrorSerializer(many=True, required=False)


class CustomerBulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


# --- Health ---------------------------------------------------------------------------------------------

MAX_SIGNAL_ITEMS = 1000
MAX_LABELS = 50
#: how far ahead of the server's clock a reported time may be
CLOCK_SKEW = timedelta(minutes=5)

label_validator = RegexValidator(
    r"^[A-Za-z0-9_.:-]{1,100}$", "Use 1 to 100 letters, digits, '_', '.', ':' or '-'."
)


def _not_in_future(value):
    if value > timezone.now() + CLOCK_SKEW:
        raise serializers.ValidationError("This time is in the future.", code="future")
    return value


class StrictFloatField(serializers.FloatField):
    """A JSON number: no booleans, no strings, no NaN or infinity."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


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
        required=False, validators=[_not_in_future], help_text="When the values were observed (default: now)"
    )


class SignalsBulkItemSerializer(SignalsRequestSerializer):
    customer_id = serializers.CharField(max_length=64, validators=[customer_id_validator])


class SignalsBulkRequestSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_SIGNAL_ITEMS,
        help_text=f"Up to {MAX_SIGNAL_ITEMS} items; each is validated on its own",
    )


class SignalsBulkRequestDocSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=SignalsBulkItemSerializer(), min_length=1, max_length=MAX_SIGNAL_ITEMS
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


class SignalsBulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    customer_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["recorded", "error"])
    health_score = serializers.IntegerField(required=False)
    previous_score = serializers.IntegerField(required=False)
    health_trend = serializers.CharField(required=False)
    risk_level = serializers.CharField(required=False)
    stale_signals = serializers.ListField(child=serializers.CharField(), required=False)
    errors = BulkErrorSerializer(many=True, required=False)


class SignalsBulkResponseSerializer(serializers.Serializer):
    results = SignalsBulkResultSerializer(many=True)


class HealthChangeRequestSerializer(serializers.Serializer):
    customer_id = serializers.CharField(max_length=64, validators=[customer_id_validator])
    previous_score = serializers.IntegerField(
        min_value=0, max_value=100, help_text="The score the sender believes current"
    )
    new_score = serializers.IntegerField(min_value=0, max_value=100)
    change_reason = serializers.CharField(max_length=100, validators=[label_validator])
    trigger_events = serializers.ListField(
        child=serializers.CharField(max_length=100, validators=[label_validator]),
        max_length=MAX_LABELS,
        required=False,
        default=list,
    )
    recommended_actions = serializers.ListField(
        child=serializers.CharField(max_length=100, validators=[label_validator]),
        max_length=MAX_LABELS,
        required=False,
        default=list,
    )
    timestamp = RFC3339DateTimeField(
        required=False, validators=[_not_in_future], help_text="When the change happened (default: now)"
    )


class HealthChangeResponseSerializer(serializers.Serializer):
    event_id = serializers.CharField(help_text="The health_score_change event (evt_…)")
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
