"""Bodies of the sales API: the handoff (the seed's request; an answer without the encrypted fields),
opportunities, milestones and expansion readiness (the seed's response, with each figure's definition)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField, not_in_future
from csintegration.api.fields import LabelField, PrefixedIdField, StrictDecimalField, UniqueListField
from csintegration.api.updates import CreateOnlyFieldsMixin

from .. import periods
from ..models import (
    GoalStatus,
    MilestoneKind,
    OpportunityStatus,
    OpportunityType,
    PlanStatus,
    PlanTaskKind,
    PlanTaskStatus,
    ReadinessFactorKind,
)

CUSTOMER_ID_PREFIX = "cust"
OPPORTUNITY_ID_PREFIX = "opp"
MILESTONE_ID_PREFIX = "ms"
MAX_STAKEHOLDERS = 50
MAX_CRITERIA = 20
MAX_NOTES = 10_000


def money_field(**kwargs) -> StrictDecimalField:
    return StrictDecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), **kwargs)


def probability_field(**kwargs) -> StrictDecimalField:
    kwargs.setdefault("help_text", "0 to 1, at most 4 decimals")
    return StrictDecimalField(
        max_digits=5, decimal_places=4, min_value=Decimal("0"), max_value=Decimal("1"), **kwargs
    )


@extend_schema_field({"type": "string", "pattern": periods.PERIOD_PATTERN, "example": "q1_2026"})
class TimelineField(serializers.CharField):
    """A quarter or a month (see ``periods.py``), answered normalised."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 16)
        kwargs.setdefault(
            "help_text",
            f"Expected close: {periods.FORMATS_HELP}; stored and answered as q1_2026 or 2026-03",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return periods.parse_exact_period(text).label
        except periods.InvalidPeriod as exc:
            raise serializers.ValidationError(str(exc), code="invalid_period") from None


# --- Handoff ----------------------------------------------------------------------------------------------


class HandoffDataSerializer(serializers.Serializer):
    deal_value = money_field(help_text="The deal's value, in the account's currency")
    contract_terms = LabelField(help_text="e.g. 3_year")
    key_stakeholders = serializers.ListField(
        child=serializers.EmailField(),
        max_length=MAX_STAKEHOLDERS,
        required=False,
        default=list,
        help_text="Stakeholders' e-mails: stored encrypted, never answered or published",
    )
    success_criteria = UniqueListField(
        child=LabelField(),
        max_length=MAX_CRITERIA,
        required=False,
        default=list,
        help_text="Become the success plan's goals; milestone `achieved_X` (or `X`) achieves goal `X`",
    )
    sales_notes = serializers.CharField(
        max_length=MAX_NOTES,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="Stored encrypted, never answered or published",
    )


class SuccessInitiationSerializer(serializers.Serializer):
    onboarding_start = serializers.DateField()
    success_manager = serializers.EmailField(help_text="Becomes the customer's success manager")
    first_check_in = serializers.DateField(help_text="On or after onboarding_start")

    def validate(self, attrs):
        if attrs["first_check_in"] < attrs["onboarding_start"]:
            raise serializers.ValidationError(
                {"first_check_in": ["The first check-in cannot be before onboarding_start."]},
                code="before_onboarding_start",
            )
        return attrs


class HandoffRequestSerializer(serializers.Serializer):
    customer_id = PrefixedIdField(
        prefix=CUSTOMER_ID_PREFIX, required=False, help_text="If given, the path's customer id"
    )
    handoff_data = HandoffDataSerializer()
    success_initiation = SuccessInitiationSerializer()

    def validate_customer_id(self, value: str) -> str:
        expected = self.context.get("customer_id")
        if expected is not None and value != expected:
            raise serializers.ValidationError(
                f"The body names {value}, the path {expected}.", code="path_mismatch"
            )
        return value


class PlanTaskSerializer(serializers.Serializer):
    task_id = serializers.CharField(help_text="`plantask_…`")
    kind = serializers.ChoiceField(choices=PlanTaskKind.choices)
    title = serializers.CharField()
    due_date = serializers.DateField()
    assignee = serializers.EmailField(allow_null=True)
    status = serializers.ChoiceField(choices=PlanTaskStatus.choices)
    completed_at = serializers.DateTimeField(allow_null=True)


class GoalSerializer(serializers.Serializer):
    goal_id = serializers.CharField(help_text="`goal_…`")
    criterion = serializers.CharField(help_text="A success criterion of the handoff")
    status = serializers.ChoiceField(choices=GoalStatus.choices)
    achieved_at = serializers.DateTimeField(allow_null=True)
    milestone_id = serializers.CharField(allow_null=True, help_text="The milestone that achieved it")


class SuccessPlanSerializer(serializers.Serializer):
    plan_id = serializers.CharField(help_text="`plan_…`")
    status = serializers.ChoiceField(
        choices=PlanStatus.choices, help_text="completed once every task is done and every goal achieved"
    )
    onboarding_start = serializers.DateField()
    success_manager = serializers.EmailField()
    first_check_in = serializers.DateField()
    tasks = PlanTaskSerializer(
        many=True,
        help_text="Onboarding kick-off (due onboarding_start), first check-in (due first_check_in) and the "
        "review of the success criteria (due SALES_SUCCESS_REVIEW_DAYS after onboarding_start)",
    )
    goals = GoalSerializer(many=True, help_text="One per success criterion")


class BaselineSerializer(serializers.Serializer):
    """The customer's figures at the handoff, as stored on its record then (before the handoff's effects)."""

    health_score = serializers.IntegerField(help_text="The customer's health score at the handoff")
    health_trend = serializers.CharField(help_text="Its health trend at the handoff")
    risk_level = serializers.CharField(help_text="Its risk level at the handoff")
    adoption_rate = serializers.FloatField(allow_null=True, help_text="Its adoption rate (0 to 1) then")
    engagement_score = serializers.FloatField(allow_null=True, help_text="Its engagement (0 to 10) then")
    nps_score = serializers.IntegerField(allow_null=True, help_text="Its NPS then")
    arr = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="Its ARR then")
    captured_at = serializers.DateTimeField(help_text="When the baseline was taken (the handoff)")


class HandoffResponseSerializer(serializers.Serializer):
    handoff_id = serializers.CharField(help_text="`hnd_…`")
    customer_id = serializers.CharField()
    deal_value = serializers.DecimalField(max_digits=14, decimal_places=2)
    contract_terms = serializers.CharField()
    success_criteria = serializers.ListField(child=serializers.CharField())
    stakeholder_count = serializers.IntegerField(help_text="How many stakeholders' e-mails are stored")
    has_sales_notes = serializers.BooleanField()
    handed_off_by = serializers.CharField(allow_null=True, help_text="The OAuth client that sent it")
    created_at = serializers.DateTimeField()
    success_plan = SuccessPlanSerializer()
    baseline = BaselineSerializer()


# --- Opportunities -----------------------------------------------------------------------------------------


class OpportunitySerializer(CreateOnlyFieldsMixin, serializers.Serializer):
    create_only_fields = ("customer_id",)

    opportunity_id = serializers.CharField(read_only=True, help_text="`opp_…`")
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    type = serializers.ChoiceField(choices=OpportunityType.choices)
    product = LabelField(help_text="e.g. premium_features")
    value_estimate = money_field()
    probability = probability_field()
    timeline = TimelineField()
    status = serializers.ChoiceField(
        choices=OpportunityStatus.choices,
        required=False,
        help_text="open (default), won or lost; PATCH to won or lost closes an open opportunity, and a "
        "closed one does not change",
    )
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


# --- Milestones --------------------------------------------------------------------------------------------


class MilestoneSerializer(serializers.Serializer):
    milestone_id = serializers.CharField(read_only=True, help_text="`ms_…`")
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    milestone = serializers.ChoiceField(
        choices=MilestoneKind.choices, help_text="Each kind is reached once per customer"
    )
    achieved_at = RFC3339DateTimeField(
        required=False, validators=[not_in_future], help_text="When it was reached (default: now)"
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    recorded_by = serializers.CharField(read_only=True, help_text="The OAuth client that recorded it")
    created_at = serializers.DateTimeField(read_only=True)


# --- Expansion readiness -----------------------------------------------------------------------------------


class FactorBreakdownSerializer(serializers.Serializer):
    factor = serializers.ChoiceField(choices=ReadinessFactorKind.choices)
    label = serializers.CharField(help_text="Its name in readiness_factors")
    raw_value = serializers.FloatField(
        allow_null=True,
        help_text="The customer's value now (milestones: how many in the factor's window; trend: improving "
        "1, stable 0.5, declining 0); null when it has none, which earns no points",
    )
    normalised_value = serializers.FloatField(allow_null=True, help_text="0 to 1 under the factor's rule")
    weight = serializers.FloatField(help_text="As configured in the readiness model")
    weight_share = serializers.FloatField(help_text="weight ÷ the sum of the model's weights")
    points = serializers.FloatField(
        help_text="normalised_value * weight_share * 100, apportioned to the hundredth so that the points "
        "of all factors add up to the score"
    )


class ExpansionReadinessSerializer(serializers.Serializer):
    score = serializers.IntegerField(
        min_value=0,
        max_value=100,
        help_text="round(Σ weight * normalised value ÷ Σ weight * 100) over the active readiness model's "
        "factors (adoption, health, engagement, NPS, trend, milestones reached in the factor's window), "
        "computed now from the customer's stored data",
    )
    readiness_factors = serializers.ListField(
        child=serializers.CharField(),
        help_text="The labels of the factors that contributed most: normalised value at least the model's "
        "strong share (0.6 by default), by points, at most its top_factors (3)",
    )
    factor_points = serializers.DictField(
        child=serializers.FloatField(), help_text="The points of each factor in readiness_factors"
    )
    threshold = serializers.IntegerField(help_text="The model's threshold; crossing it upwards announces")
    ready = serializers.BooleanField(help_text="score ≥ threshold")
    model = serializers.CharField(help_text="The readiness model that scored it")
    breakdown = FactorBreakdownSerializer(many=True, help_text="Every factor of the model")
    last_announced_at = serializers.DateTimeField(
        allow_null=True, help_text="When expansion_ready was last published for the customer"
    )


class ExpansionOpportunitySerializer(serializers.Serializer):
    opportunity_id = serializers.CharField()
    type = serializers.ChoiceField(choices=OpportunityType.choices)
    product = serializers.CharField()
    value_estimate = serializers.DecimalField(max_digits=14, decimal_places=2)
    probability = serializers.DecimalField(max_digits=5, decimal_places=4)
    timeline = serializers.CharField()
    status = serializers.ChoiceField(choices=OpportunityStatus.choices)
    created_at = serializers.DateTimeField()


class PipelineSerializer(serializers.Serializer):
    open_value = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Σ value_estimate of the customer's open opportunities"
    )
    weighted_open_value = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="Σ value_estimate * probability of its open opportunities, to the cent",
    )
    won_value = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Σ value_estimate of its won opportunities, all time"
    )


class ExpansionSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    expansion_readiness = ExpansionReadinessSerializer()
    opportunities = ExpansionOpportunitySerializer(
        many=True, help_text="The customer's open opportunities, highest value * probability first"
    )
    success_evidence = serializers.ListField(
        child=serializers.ChoiceField(choices=MilestoneKind.choices),
        help_text="Every milestone the customer reached, most recent first",
    )
    pipeline = PipelineSerializer()
