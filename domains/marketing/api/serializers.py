"""Bodies of the marketing API: segments, campaigns (the seed's shape, with the estimated and measured
impact), the marketing view of a customer's health, and journeys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField, WithinClock
from csintegration.api.fields import LabelField, StrictFloatField
from csintegration.api.updates import CreateOnlyFieldsMixin
from domains.customers.models import HealthTrend, LifecycleStage, MarketingStatus, RiskLevel, Segment

from ..conf import conf
from ..models import SEGMENT_KEY_PATTERN, CampaignStatus, CampaignType, TriggerSignal
from ..segment_filters import ANY, MAX_GROUPS, VOCABULARY, SegmentFilterError, validate_filters

CUSTOMER_ID_PREFIX = "cust"
CAMPAIGN_ID_PREFIX = "camp"


def inline_choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field whose schema stays inline (``allOf: [{"type": "string"}, {"enum": […]}]``) rather than
    becoming a shared enum component: across the platform's schema the same name (``status``) stands for
    other choices, and the same choices (the stages) go by other names. (A class per field: DRF copies
    fields by re-creating them from their class.)"""
    values = [choice[0] if isinstance(choice, tuple | list) else choice for choice in choices]
    schema: dict[str, Any] = {"allOf": [{"type": "string"}, {"enum": values}]}
    field_class = extend_schema_field(schema)(type("InlineChoiceField", (serializers.ChoiceField,), {}))
    return field_class(choices=choices, **kwargs)


# --- Segments -------------------------------------------------------------------------------------------


def _name_schema(name: str) -> dict[str, Any]:
    spec = VOCABULARY[name]
    if spec.kind == "choice":
        value = {"type": "string", "enum": list(spec.choices)}
        return {
            "oneOf": [value, {"type": "array", "items": value, "minItems": 1}],
            "description": spec.help,
        }
    return {
        "type": "integer" if spec.integer else "number",
        "minimum": spec.low,
        "maximum": spec.high,
        "description": spec.help,
    }


_GROUP_PROPERTIES = {name: _name_schema(name) for name in VOCABULARY}
FILTERS_SCHEMA = {
    "type": "object",
    "description": "Filter names and values, all of which hold; `any` adds groups of which at least one "
    "holds. Choice filters take a value or a list of values (any of them); `…_min`/`…_max` bounds are "
    "inclusive, `…_below` strict; a customer without a value matches no bound on it.",
    "properties": {
        **_GROUP_PROPERTIES,
        ANY: {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_GROUPS,
            "items": {
                "type": "object",
                "properties": _GROUP_PROPERTIES,
                "additionalProperties": False,
                "minProperties": 1,
            },
        },
    },
    "additionalProperties": False,
    "example": {"any": [{"risk_level": ["high", "critical"]}, {"lifecycle_stage": "at_risk"}]},
}


def nested_errors(errors: list[tuple[str, str]], prefix: str) -> Any:
    """``[("filters.any.0.risk_level", "…")]`` → ``{"any": {"0": {"risk_level": ["…"]}}}`` (the shape that
    the problem handler flattens back into dotted paths under the field's name)."""
    tree: dict[str, Any] = {}
    top: list[str] = []
    for path, message in errors:
        parts = path[len(prefix) :].lstrip(".").split(".") if path.startswith(prefix) else [path]
        parts = [part for part in parts if part]
        if not parts:
            top.append(message)
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], []).append(message)
    return top if top and not tree else tree or top


@extend_schema_field(FILTERS_SCHEMA)
class SegmentFiltersField(serializers.Field):
    def to_internal_value(self, data):
        try:
            return validate_filters(data, prefix="filters")
        except SegmentFilterError as exc:
            raise serializers.ValidationError(nested_errors(exc.errors, "filters"), code="invalid") from None

    def to_representation(self, value):
        return value


class SegmentSerializer(CreateOnlyFieldsMixin, serializers.Serializer):
    create_only_fields = ("key",)

    key = serializers.RegexField(
        rf"^{SEGMENT_KEY_PATTERN}\Z",
        max_length=50,
        help_text="The segment's address in paths and campaigns: a lower-case letter, then lower-case "
        "letters, digits or '_'",
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    filters = SegmentFiltersField()
    size = serializers.SerializerMethodField(
        help_text="Live: the number of customers the filters select now, counted in SQL when asked"
    )
    is_builtin = serializers.BooleanField(read_only=True, help_text="Shipped with the platform")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.IntegerField(min_value=0))
    def get_size(self, segment) -> int:
        sizes = self.context.get("sizes") or {}
        return sizes.get(segment.key, 0)


class SegmentMemberSerializer(serializers.Serializer):
    """A customer in a segment, with the fields segments filter on."""

    customer_id = serializers.CharField()
    name = serializers.CharField()
    segment = serializers.ChoiceField(choices=Segment.choices)
    health_score = serializers.IntegerField()
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices)
    adoption_rate = serializers.FloatField(allow_null=True)
    engagement_score = serializers.FloatField(allow_null=True)
    nps_score = serializers.IntegerField(allow_null=True)
    marketing_status = inline_choice_field(MarketingStatus.choices)


# --- Campaigns ------------------------------------------------------------------------------------------


class TargetAudienceRequestSerializer(serializers.Serializer):
    customer_segments = serializers.ListField(
        child=serializers.RegexField(rf"^{SEGMENT_KEY_PATTERN}\Z", max_length=50),
        min_length=1,
        max_length=conf.MARKETING_MAX_CAMPAIGN_SEGMENTS,
        help_text="Keys of segments (GET …/segments); the audience is the union of their customers",
    )
    size = serializers.IntegerField(read_only=True, help_text="Computed; ignored when sent")


#: a campaign ends after now
_in_future = WithinClock((timedelta(0), None), too_early=("This time is not in the future.", "past"))


class CampaignCreateSerializer(serializers.Serializer):
    """The seed's request; read-only fields of the seed's response (``campaign_id``, ``size``,
    ``estimated_impact``) are ignored when sent."""

    campaign_id = serializers.CharField(read_only=True, help_text="Given by the platform; ignored when sent")
    name = serializers.CharField(max_length=200, required=False, help_text="Default: its type and date")
    trigger_type = LabelField(help_text="The CS signal behind the campaign, e.g. health_decline")
    campaign_type = serializers.ChoiceField(choices=CampaignType.choices)
    target_audience = TargetAudienceRequestSerializer()
    holdout_share = StrictFloatField(
        min_value=0.0,
        max_value=0.5,
        required=False,
        default=0.0,
        help_text="Share of the audience held out, at random, as the campaign's control group (0 to 0.5)",
    )
    ends_at = RFC3339DateTimeField(
        required=False,
        allow_null=True,
        validators=[_in_future],
        help_text="The campaign completes by itself then (default: when completed by hand)",
    )
    estimated_impact = serializers.JSONField(read_only=True, help_text="Computed; ignored when sent")


class CampaignUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    ends_at = RFC3339DateTimeField(required=False, allow_null=True, validators=[_in_future])
    status = inline_choice_field(
        choices=CampaignStatus.choices,
        required=False,
        help_text="completed (its measured impact is then frozen) or cancelled, from active",
    )


class TargetAudienceSerializer(serializers.Serializer):
    customer_segments = serializers.ListField(child=serializers.CharField())
    size = serializers.IntegerField(
        help_text="Distinct customers in the union of the segments when the campaign was created: its "
        "members plus its holdout"
    )


class EstimatedImpactSerializer(serializers.Serializer):
    retention_improvement = serializers.CharField(
        help_text="Expected retention improvement in percentage points, as a range: the 25th to 75th "
        "percentile of the measured retention impact of the finished campaigns of this type, or the "
        "type's prior (basis)"
    )
    engagement_lift = serializers.CharField(
        help_text="Expected engagement lift in percent of the members' engagement at enrolment, as the "
        "same range"
    )
    basis = serializers.ChoiceField(
        choices=["history", "prior"],
        help_text="history: from campaigns_measured finished campaigns of this type; prior: fewer than "
        "MARKETING_ESTIMATE_MIN_HISTORY of them had a measured impact",
    )
    campaigns_measured = serializers.IntegerField(
        help_text="Finished (completed) campaigns of this type with a measured impact when this one was "
        "created"
    )
    retention_improvement_range = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, help_text="[low, high], points"
    )
    engagement_lift_range = serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, help_text="[low, high], percent"
    )


class CampaignSerializer(serializers.Serializer):
    campaign_id = serializers.CharField()
    name = serializers.CharField()
    trigger_type = serializers.CharField()
    campaign_type = serializers.ChoiceField(choices=CampaignType.choices)
    status = inline_choice_field(
        choices=CampaignStatus.choices, help_text="active (open: takes members), completed or cancelled"
    )
    target_audience = serializers.SerializerMethodField()
    members = serializers.IntegerField(
        source="members_count",
        help_text="Customers enrolled who receive the campaign: the audience less its holdout, plus "
        "those enrolled by triggers since",
    )
    holdout_share = serializers.FloatField()
    holdout_size = serializers.IntegerField(
        source="holdout_count", help_text="Customers of the audience held out as the control group"
    )
    estimated_impact = EstimatedImpactSerializer(help_text="Estimated when the campaign was created")
    ends_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True, help_text="When it was completed or cancelled")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(TargetAudienceSerializer)
    def get_target_audience(self, campaign) -> dict[str, Any]:
        return {"customer_segments": campaign.segment_keys, "size": campaign.audience_size}


class ImpactGroupSerializer(serializers.Serializer):
    size = serializers.IntegerField(help_text="Customers in the group")
    active_at_start = serializers.IntegerField(help_text="Of them, not churned when they joined")
    retained = serializers.IntegerField(help_text="Of those, not churned at measurement")
    retention_rate = serializers.FloatField(
        allow_null=True, help_text="retained / active_at_start, 0 to 1 (null when nobody was active)"
    )
    health_change = serializers.FloatField(
        allow_null=True, help_text="Mean change of the health score from joining to measurement, points"
    )
    engagement_size = serializers.IntegerField(
        help_text="Customers with an engagement score when they joined and at measurement"
    )
    engagement_change = serializers.FloatField(
        allow_null=True, help_text="Their mean change of engagement score (0 to 10 scale)"
    )
    baseline_engagement = serializers.FloatField(
        allow_null=True, help_text="Their mean engagement score when they joined"
    )


class DifferenceInDifferencesSerializer(serializers.Serializer):
    retention_points = serializers.FloatField(
        allow_null=True,
        help_text="100 x (members' retention rate - comparison group's): both groups started fully retained",
    )
    health_score_points = serializers.FloatField(
        allow_null=True, help_text="Members' mean health change - comparison group's, points"
    )
    engagement_points = serializers.FloatField(
        allow_null=True, help_text="Members' mean engagement change - comparison group's, points"
    )


class MeasuredImpactSerializer(serializers.Serializer):
    measured_at = serializers.DateTimeField(
        help_text="Now for an active campaign; its completion for a completed one (frozen then)"
    )
    comparison = serializers.ChoiceField(
        choices=["holdout", "non_members"],
        allow_null=True,
        help_text="holdout: the audience held out at creation; non_members: customers who entered the "
        "campaign's segments after its creation and are not in it (recorded every "
        "MARKETING_COMPARISON_TRACK_SECONDS); null while that group is empty",
    )
    members = ImpactGroupSerializer(
        help_text="The members (treated), each measured from its enrolment snapshot to measured_at"
    )
    comparison_group = ImpactGroupSerializer(
        help_text="The comparison group, each measured from its snapshot (at creation for the holdout, at "
        "entry into the segments for non-members) to measured_at"
    )
    difference_in_differences = DifferenceInDifferencesSerializer()
    retention_improvement = serializers.CharField(
        allow_null=True, help_text="retention_points, rounded, as a percentage"
    )
    engagement_lift = serializers.CharField(
        allow_null=True,
        help_text="engagement_points relative to the members' baseline engagement, rounded, as a percentage",
    )
    engagement_lift_percent = serializers.FloatField(allow_null=True)


class CampaignDetailSerializer(CampaignSerializer):
    segment_filters = serializers.DictField(
        help_text="Each segment's filters as they were when the campaign was created"
    )
    measured_impact = serializers.SerializerMethodField(
        help_text="Members' retention and change of health and engagement since enrolment against the "
        "comparison group over the same period: a difference in differences (null for a campaign "
        "cancelled before it was measured)"
    )

    @extend_schema_field(MeasuredImpactSerializer(allow_null=True))
    def get_measured_impact(self, campaign):
        measured = self.context.get("measured_impact")
        return MeasuredImpactSerializer(measured).data if measured else None


# --- Health and recommendations -------------------------------------------------------------------------


class RecommendationSerializer(serializers.Serializer):
    campaign_type = serializers.ChoiceField(choices=CampaignType.choices)
    trigger_type = serializers.CharField()
    reason = serializers.CharField(help_text="Why the rule fired, from the customer's stored data")
    signal = serializers.ChoiceField(choices=TriggerSignal.choices, help_text="The rule's CS signal")
    automatic = serializers.BooleanField(help_text="The rule enrols by itself into an open campaign")
    open_campaign_id = serializers.CharField(
        allow_null=True, help_text="The open campaign of this type the customer is in already"
    )


class MarketingHealthSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    health_score = serializers.IntegerField()
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices)
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices)
    campaign_recommendations = RecommendationSerializer(
        many=True, help_text="Every active trigger rule that holds for the customer now, in rule order"
    )


# --- Journeys -------------------------------------------------------------------------------------------


class JourneyMoveSerializer(serializers.Serializer):
    stage = inline_choice_field(LifecycleStage.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class JourneyStaySerializer(serializers.Serializer):
    stage = inline_choice_field(LifecycleStage.choices)
    entered_at = serializers.DateTimeField()
    left_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    changed_by = serializers.CharField(
        help_text="client:<client_id>, staff:<username>, sales_handoff, customer_record (written to the "
        "customer directly), initial, or the workflow that moved it"
    )


class JourneyStatusSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    current_stage = inline_choice_field(LifecycleStage.choices)
    entered_at = serializers.DateTimeField(help_text="When the customer entered its current stage")
    next_actions = serializers.ListField(
        child=serializers.CharField(), help_text="The actions configured for the current stage, in order"
    )
    allowed_stages = serializers.ListField(
        child=inline_choice_field(LifecycleStage.choices),
        help_text="The stages the journey may move to from the current one",
    )
    history = JourneyStaySerializer(many=True, help_text="Stays in stages, newest first")
