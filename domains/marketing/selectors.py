"""Reads of the marketing domain, shared by the API, the admin and the services: segments evaluated in SQL,
campaigns with their measured impact, a customer's facts for the trigger rules, and journey statuses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, F, FloatField, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from domains.customers.models import Customer, HealthSnapshot, LifecycleStage

from . import impact, triggers
from .conf import conf
from .models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Journey,
    JourneyEntry,
    MemberGroup,
    Segment,
    StageAction,
    TriggerRule,
)
from .segment_filters import filters_condition, union_condition

CHURNED = LifecycleStage.CHURNED
IN_CAMPAIGN = (MemberGroup.TREATMENT, MemberGroup.HOLDOUT)

# --- Segments -------------------------------------------------------------------------------------------


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.all()


def segment_get(*, key: str) -> Segment:
    return get_object_or_404(Segment, key=key)


def segment_customers(*, filters: dict[str, Any]) -> QuerySet[Customer]:
    """The customers that valid ``filters`` select, as one SQL query."""
    return Customer.objects.filter(filters_condition(filters))


def segment_sizes(*, segments: Iterable[Segment]) -> dict[str, int]:
    """The live size of each segment, all counted in one query (one pass over the customers)."""
    segments = list(segments)
    if not segments:
        return {}
    counts = {}
    for index, segment in enumerate(segments):
        condition = filters_condition(segment.filters)
        # An empty filter (everyone) has no condition, which Count(filter=…) does not take.
        counts[f"size_{index}"] = Count("pk", filter=condition) if condition else Count("pk")
    totals = Customer.objects.order_by().aggregate(**counts)
    return {segment.key: totals[f"size_{index}"] for index, segment in enumerate(segments)}


@dataclass(frozen=True)
class AudiencePreview:
    size: int
    first_members: list[Customer]


def segment_preview(*, filters: dict[str, Any], rows: int | None = None) -> AudiencePreview:
    """How many customers valid ``filters`` select, and the first of them (highest ARR first)."""
    customers = segment_customers(filters=filters)
    limit = conf.MARKETING_SEGMENT_PREVIEW_ROWS if rows is None else rows
    first = list(customers.order_by("-arr", "customer_id")[:limit])
    return AudiencePreview(size=customers.count(), first_members=first)


def segments_by_key(*, keys: Sequence[str]) -> dict[str, Segment]:
    return {segment.key: segment for segment in Segment.objects.filter(key__in=list(keys))}


def audience(*, filters_by_segment: dict[str, dict[str, Any]]) -> QuerySet[Customer]:
    """The distinct customers in the union of several segments."""
    return Customer.objects.filter(union_condition(filters_by_segment))


# --- Campaigns ------------------------------------------------------------------------------------------


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.all()


def campaign_get(*, campaign_id: str) -> Campaign:
    return get_object_or_404(Campaign, campaign_id=campaign_id)


def campaign_group_stats(*, campaign: Campaign) -> dict[str, impact.GroupStats]:
    """Per group of the campaign, its aggregates against the customers' current values, in one query."""
    both_engagements = Q(baseline_engagement_score__isnull=False, customer__engagement_score__isnull=False)
    active_at_start = ~Q(baseline_lifecycle_stage=CHURNED)
    rows = (
        CampaignMember.objects.filter(campaign=campaign)
        .order_by()
        .values("group")
        .annotate(
            size=Count("id"),
            active_at_start=Count("id", filter=active_at_start),
            retained=Count("id", filter=active_at_start & ~Q(customer__lifecycle_stage=CHURNED)),
            health_change=Avg(
                F("customer__health_score") - F("baseline_health_score"), output_field=FloatField()
            ),
            engagement_size=Count("id", filter=both_engagements),
            engagement_change=Avg(
                F("customer__engagement_score") - F("baseline_engagement_score"),
                filter=both_engagements,
                output_field=FloatField(),
            ),
            baseline_engagement=Avg(
                "baseline_engagement_score", filter=both_engagements, output_field=FloatField()
            ),
        )
    )
    stats = {}
    for row in rows:
        group = row.pop("group")
        stats[group] = impact.GroupStats(**row)
    return stats


def campaign_live_impact(*, campaign: Campaign, now: datetime | None = None) -> impact.MeasuredImpact:
    """The campaign's impact as of now: its members against its holdout, or without one against the
    non-members who entered its segments since it was created."""
    stats = campaign_group_stats(campaign=campaign)
    has_holdout = MemberGroup.HOLDOUT in stats
    comparison_group = stats.get(MemberGroup.HOLDOUT if has_holdout else MemberGroup.COMPARISON)
    return impact.measure(
        members=stats.get(MemberGroup.TREATMENT, impact.GroupStats()),
        comparison_group=comparison_group or impact.GroupStats(),
        comparison=impact.HOLDOUT if has_holdout else impact.NON_MEMBERS,
        measured_at=now or timezone.now(),
    )


def campaign_measured_impact(*, campaign: Campaign) -> dict[str, Any] | None:
    """Frozen at completion; live while the campaign is active; None for a cancelled one never measured."""
    if campaign.status == CampaignStatus.ACTIVE:
        return campaign_live_impact(campaign=campaign).as_dict()
    return campaign.measured_impact


def estimate_history(*, campaign_type: str) -> list[tuple[float, float]]:
    """(retention points, engagement lift %) of each finished campaign of the type that measured both."""
    stored = Campaign.objects.filter(
        campaign_type=campaign_type, status=CampaignStatus.COMPLETED, measured_impact__isnull=False
    ).values_list("measured_impact", flat=True)
    return [point for point in map(impact.history_point, stored) if point is not None]


def open_campaign_for(*, campaign_type: str) -> Campaign | None:
    """The open campaign of a type that trigger enrolments go to: the most recently created."""
    return (
        Campaign.objects.filter(campaign_type=campaign_type, status=CampaignStatus.ACTIVE)
        .order_by("-created_at", "-campaign_id")
        .first()
    )


def open_memberships(*, customer_id: str) -> dict[str, str]:
    """The open campaigns a customer is in (as a member or held out), by campaign type."""
    rows = (
        CampaignMember.objects.filter(
            customer_id=customer_id, group__in=IN_CAMPAIGN, campaign__status=CampaignStatus.ACTIVE
        )
        .order_by("-campaign__created_at")
        .values_list("campaign__campaign_type", "campaign_id")
    )
    memberships: dict[str, str] = {}
    for campaign_type, campaign_id in rows:
        memberships.setdefault(campaign_type, campaign_id)
    return memberships


def customer_memberships(*, customer_id: str, limit: int = 20) -> list[CampaignMember]:
    return list(
        CampaignMember.objects.filter(customer_id=customer_id)
        .select_related("campaign")
        .order_by("-enrolled_at", "-id")[:limit]
    )


# --- Trigger rules --------------------------------------------------------------------------------------


def rule_spec(rule: TriggerRule) -> triggers.RuleSpec:
    return triggers.RuleSpec(
        rule_id=rule.pk,
        name=rule.name,
        signal=rule.signal,
        threshold=rule.threshold,
        campaign_type=rule.campaign_type,
        trigger_type=rule.trigger_type,
        automatic=rule.automatic,
    )


def active_rules(*, automatic_only: bool = False) -> list[triggers.RuleSpec]:
    rules = TriggerRule.objects.filter(is_active=True)
    if automatic_only:
        rules = rules.filter(automatic=True)
    return [rule_spec(rule) for rule in rules.order_by("priority", "name")]


def record_stage_since(customer: Customer) -> datetime:
    """When the customer's record got its current stage: the time its last write or event set it, else
    the customer's creation."""
    stamp = (customer.integration_status_as_of or {}).get("lifecycle_stage")
    moment = parse_datetime(stamp) if isinstance(stamp, str) else None
    return moment or customer.created_at


def stage_entered_at(customer: Customer) -> datetime:
    """When the customer entered its current stage: its journey's record when it agrees with the
    customer record, else the record's own time."""
    journey = Journey.objects.filter(pk=customer.pk).only("stage", "entered_at").first()
    if journey is not None and journey.stage == customer.lifecycle_stage:
        return journey.entered_at
    return record_stage_since(customer)


def customer_facts(*, customer: Customer, now: datetime | None = None) -> triggers.CustomerFacts:
    now = now or timezone.now()
    previous_score = (
        HealthSnapshot.objects.filter(customer=customer, applied=True)
        .order_by("-observed_at", "-id")
        .values_list("previous_score", flat=True)
        .first()
    )
    return triggers.CustomerFacts(
        health_score=customer.health_score,
        previous_score=previous_score,
        health_trend=customer.health_trend,
        risk_level=customer.risk_level,
        lifecycle_stage=customer.lifecycle_stage,
        days_in_stage=max((now - stage_entered_at(customer)).total_seconds() / 86400, 0.0),
        adoption_rate=customer.adoption_rate,
        engagement_score=customer.engagement_score,
        nps_score=customer.nps_score,
        sales_status=customer.sales_status,
    )


@dataclass(frozen=True)
class Recommendation:
    campaign_type: str
    trigger_type: str
    reason: str
    signal: str
    automatic: bool
    #: the open campaign of this type the customer is in already, if any
    open_campaign_id: str | None


def campaign_recommendations(*, customer: Customer) -> list[Recommendation]:
    """Every active rule that holds for the customer now, with its reason."""
    fired = triggers.firings(active_rules(), customer_facts(customer=customer))
    if not fired:
        return []
    memberships = open_memberships(customer_id=customer.pk)
    return [
        Recommendation(
            campaign_type=firing.rule.campaign_type,
            trigger_type=firing.rule.trigger_type,
            reason=firing.reason,
            signal=firing.rule.signal,
            automatic=firing.rule.automatic,
            open_campaign_id=memberships.get(firing.rule.campaign_type),
        )
        for firing in fired
    ]


# --- Journeys -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyStay:
    stage: str
    entered_at: datetime
    left_at: datetime | None
    reason: str
    changed_by: str


@dataclass(frozen=True)
class JourneyStatus:
    """A customer's journey as ``GET …/journey/{id}/status`` shows it (and ``journey_move`` returns)."""

    customer_id: str
    current_stage: str
    entered_at: datetime
    next_actions: list[str]
    allowed_stages: list[str]
    #: newest first
    history: list[JourneyStay] = field(default_factory=list)


def next_actions(*, stage: str) -> list[str]:
    return list(
        StageAction.objects.filter(stage=stage, is_active=True)
        .order_by("order", "action")
        .values_list("action", flat=True)
    )


def allowed_stages_from(stage: str) -> list[str]:
    probe = Journey(stage=stage)
    return probe.allowed_stages()


def journey_status(*, customer: Customer, history_limit: int | None = None) -> JourneyStatus:
    """The current stage is the customer record's. A stage written to the record directly and not yet
    in the history shows as its newest stay (changed_by ``customer_record``)."""
    limit = conf.MARKETING_JOURNEY_HISTORY_LIMIT if history_limit is None else history_limit
    entries = list(
        JourneyEntry.objects.filter(customer=customer).order_by("-entered_at", "-id")[: max(limit, 1)]
    )
    stays = [
        JourneyStay(
            stage=entry.stage,
            entered_at=entry.entered_at,
            left_at=entry.left_at,
            reason=entry.reason,
            changed_by=entry.changed_by,
        )
        for entry in entries
    ]
    current = customer.lifecycle_stage
    if not stays or stays[0].stage != current or stays[0].left_at is not None:
        since = record_stage_since(customer)
        if stays and since < stays[0].entered_at:
            since = stays[0].entered_at
        changed_by = "customer_record" if stays else "initial"
        if stays and stays[0].left_at is None:
            latest = stays[0]
            stays[0] = JourneyStay(latest.stage, latest.entered_at, since, latest.reason, latest.changed_by)
        stays.insert(0, JourneyStay(current, since, None, "", changed_by))
    return JourneyStatus(
        customer_id=customer.customer_id,
        current_stage=current,
        entered_at=stays[0].entered_at,
        next_actions=next_actions(stage=current),
        allowed_stages=allowed_stages_from(current),
        history=stays[:limit],
    )


def journey_entries(*, customer_id: str, limit: int = 20) -> list[JourneyEntry]:
    return list(JourneyEntry.objects.filter(customer_id=customer_id).order_by("-entered_at", "-id")[:limit])
