"""Every write of the marketing domain. Keyword-only, typed; each owns its transaction and publishes its
events in it (the outbox). Customer rows are never written here: the customers app projects
``journey_stage_changed``, ``campaign_triggered`` and ``campaign_members_enrolled`` into them.

Public functions other apps call (the operations app's workflow steps):

- ``campaign_enroll_for_trigger(*, customer_id, campaign_type, trigger_type, reason) -> str | None``
- ``journey_move(*, customer_id, stage, reason="", changed_by) -> JourneyStatus`` (``selectors.
  JourneyStatus``), raising ``JourneyTransitionNotAllowed`` (``.allowed``) and ``Customer.DoesNotExist``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django_fsm import TransitionNotAllowed, can_proceed

from csintegration.db import lock_rows
from csintegration.events import EventMessage, publish_many
from domains.customers.models import Customer, LifecycleStage

from . import events, impact, selectors, triggers
from .conf import conf
from .models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    CampaignType,
    Journey,
    JourneyEntry,
    MemberGroup,
    MemberSource,
    Segment,
)
from .segment_filters import union_condition, validate_filters
from .selectors import JourneyStatus

__all__ = [
    "CampaignTransitionNotAllowed",
    "JourneyStatus",
    "JourneyTransitionNotAllowed",
    "SegmentExists",
    "UnknownSegments",
    "campaign_cancel",
    "campaign_comparisons_track",
    "campaign_complete",
    "campaign_create",
    "campaign_enroll_for_trigger",
    "campaign_triggers_apply",
    "campaign_update",
    "campaigns_comparisons_track",
    "campaigns_complete_due",
    "journey_move",
    "journey_record_handoff",
    "journey_start",
    "journey_sync_from_record",
    "segment_create",
    "segment_update",
]

HOLDOUT_UPDATE_CHUNK = 500
MAX_EVENT_CUSTOMER_IDS = 1000


class SegmentExists(Exception):
    """A segment with this key exists already."""


class UnknownSegments(ValueError):
    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__(f"Unknown segments: {', '.join(keys)}")
        self.keys = list(keys)


class JourneyTransitionNotAllowed(Exception):
    """The journey does not allow this move; ``allowed`` lists the stages it allows from the current one."""

    def __init__(self, *, from_stage: str, to_stage: str, allowed: list[str]) -> None:
        self.from_stage, self.to_stage, self.allowed = from_stage, to_stage, list(allowed)
        allowed_text = ", ".join(self.allowed) or "none"
        super().__init__(
            f"The journey does not move from {from_stage} to {to_stage}; from {from_stage} it moves to: "
            f"{allowed_text}."
        )


class CampaignTransitionNotAllowed(Exception):
    def __init__(self, *, status: str, to_status: str, allowed: list[str]) -> None:
        self.status, self.to_status, self.allowed = status, to_status, list(allowed)
        allowed_text = ", ".join(self.allowed) or "none (it is finished)"
        super().__init__(f"A campaign {status} cannot become {to_status}; it may become: {allowed_text}.")


# --- Segments -------------------------------------------------------------------------------------------


@transaction.atomic
def segment_create(*, key: str, name: str, filters: dict[str, Any], description: str = "") -> Segment:
    """Raises ``SegmentExists`` and ``segment_filters.SegmentFilterError``."""
    segment = Segment(key=key, name=name, description=description, filters=validate_filters(filters))
    try:
        with transaction.atomic():
            segment.save(force_insert=True)
    except IntegrityError:
        raise SegmentExists(key) from None
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, data: dict[str, Any]) -> Segment:
    """Change the name, description or filters (the key is fixed: campaigns name it). Open campaigns
    keep the audience and filters they were created with."""
    locked = lock_rows(Segment.objects.filter(pk=segment.pk)).get()
    if "filters" in data:
        locked.filters = validate_filters(data["filters"])
    for name in ("name", "description"):
        if name in data:
            setattr(locked, name, data[name])
    locked.save()
    return locked


# --- Campaigns ------------------------------------------------------------------------------------------


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _insert_members(
    *, campaign: Campaign, customers: QuerySet[Customer], group: str, source: str, now: datetime
) -> list[str]:
    """``INSERT … SELECT`` of the customers as members with a snapshot of their success: one statement
    whatever their number, only their ids carried back (``RETURNING``). Returns the ids inserted."""
    quote = connection.ops.quote_name
    member_columns = [
        "campaign",
        "customer",
        "group",
        "source",
        "enrolled_at",
        "baseline_health_score",
        "baseline_engagement_score",
        "baseline_adoption_rate",
        "baseline_lifecycle_stage",
        "trigger_type",
        "reason",
    ]

    def customer_column(name: str) -> str:
        return f"c.{_column(Customer, name)}"

    selected = [
        "%s",
        customer_column("customer_id"),
        "%s",
        "%s",
        "%s",
        customer_column("health_score"),
        customer_column("engagement_score"),
        customer_column("adoption_rate"),
        customer_column("lifecycle_stage"),
        "%s",
        "%s",
    ]
    try:
        subquery, sub_params = customers.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a group that can hold no one (no holdout, say): nothing to insert
        return []
    enrolled_at = CampaignMember._meta.get_field("enrolled_at").get_db_prep_value(now, connection)
    # Only quoted model names and placeholders are interpolated; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(CampaignMember._meta.db_table)} "  # noqa: S608 (quoted names only)
        f"({', '.join(_column(CampaignMember, name) for name in member_columns)}) "
        f"SELECT {', '.join(selected)} FROM {quote(Customer._meta.db_table)} c "
        f"WHERE {customer_column('customer_id')} IN ({subquery}) "
        f"RETURNING {_column(CampaignMember, 'customer')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, group, source, enrolled_at, "", "", *sub_params])
        return [row[0] for row in cursor.fetchall()]


def _holdout_size(share: float, audience_size: int) -> int:
    return min(audience_size, math.floor(share * audience_size + 0.5))


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _enrolment_chunk() -> int:
    return max(1, min(conf.MARKETING_ENROLMENT_EVENT_CHUNK, MAX_EVENT_CUSTOMER_IDS))


@transaction.atomic
def campaign_create(
    *,
    campaign_type: str,
    trigger_type: str,
    segment_keys: Sequence[str],
    name: str | None = None,
    holdout_share: float = 0.0,
    ends_at: datetime | None = None,
    created_by: str = "",
) -> Campaign:
    """Create a campaign, resolve its audience (the distinct customers in the union of the segments, in
    SQL) and enrol it in the same transaction, each member with a snapshot of its health, engagement,
    adoption and stage. A ``holdout_share`` of the audience, drawn at random (seeded by the campaign's
    id), is held out as its control group: enrolled with a snapshot, not treated. Publishes
    ``campaign_created`` and ``campaign_members_enrolled`` per chunk of members, whose projection makes
    their marketing status active. Raises ``UnknownSegments``."""
    if campaign_type not in CampaignType.values:
        raise ValueError(f"Unknown campaign type {campaign_type!r}.")
    keys = list(dict.fromkeys(segment_keys))
    segments = selectors.segments_by_key(keys=keys)
    missing = [key for key in keys if key not in segments]
    if missing:
        raise UnknownSegments(missing)
    now = timezone.now()
    filters = {key: segments[key].filters for key in keys}
    estimate = impact.estimate(
        campaign_type=campaign_type,
        history=selectors.estimate_history(campaign_type=campaign_type),
        min_history=conf.MARKETING_ESTIMATE_MIN_HISTORY,
    )
    campaign = Campaign.objects.create(
        name=name or f"{CampaignType(campaign_type).label} campaign {now:%Y-%m-%d %H:%M}",
        campaign_type=campaign_type,
        trigger_type=trigger_type,
        segment_keys=keys,
        segment_filters=filters,
        holdout_share=holdout_share,
        estimated_impact=estimate.as_dict(),
        ends_at=ends_at,
        created_by=created_by,
        created_at=now,
    )
    member_ids = sorted(
        _insert_members(
            campaign=campaign,
            customers=Customer.objects.filter(union_condition(filters)),
            group=MemberGroup.TREATMENT,
            source=MemberSource.AUDIENCE,
            now=now,
        )
    )
    size = len(member_ids)
    held: set[str] = set()
    if holdout_share > 0 and member_ids:
        held = set(random.Random(campaign.campaign_id).sample(member_ids, _holdout_size(holdout_share, size)))
        for chunk in _chunks(sorted(held), HOLDOUT_UPDATE_CHUNK):
            CampaignMember.objects.filter(campaign=campaign, customer_id__in=chunk).update(
                group=MemberGroup.HOLDOUT
            )
    treated = [customer_id for customer_id in member_ids if customer_id not in held]
    campaign.audience_size, campaign.members_count, campaign.holdout_count = (
        len(member_ids),
        len(treated),
        len(held),
    )
    campaign.save(update_fields=["audience_size", "members_count", "holdout_count", "updated_at"])
    messages = [
        EventMessage(
            events.CAMPAIGN_CREATED.name,
            None,
            {
                "campaign_id": campaign.campaign_id,
                "name": campaign.name,
                "campaign_type": campaign_type,
                "trigger_type": trigger_type,
                "customer_segments": keys,
                "audience_size": campaign.audience_size,
                "members": campaign.members_count,
                "holdout_size": campaign.holdout_count,
            },
        )
    ]
    messages += [
        EventMessage(
            events.CAMPAIGN_MEMBERS_ENROLLED.name,
            None,
            {
                "campaign_id": campaign.campaign_id,
                "campaign_type": campaign_type,
                "customer_ids": list(chunk),
            },
        )
        for chunk in _chunks(treated, _enrolment_chunk())
    ]
    publish_many(messages)
    return campaign


def _locked_campaign(campaign: Campaign) -> Campaign:
    return lock_rows(Campaign.objects.filter(pk=campaign.pk)).get()


def _finish_message(campaign: Campaign) -> EventMessage:
    measured = campaign.measured_impact or {}
    return EventMessage(
        events.CAMPAIGN_COMPLETED.name,
        None,
        {
            "campaign_id": campaign.campaign_id,
            "campaign_type": campaign.campaign_type,
            "status": campaign.status,
            "members": campaign.members_count,
            "comparison": measured.get("comparison"),
            "retention_improvement": measured.get("retention_improvement"),
            "engagement_lift": measured.get("engagement_lift"),
        },
    )


@transaction.atomic
def campaign_complete(*, campaign: Campaign) -> Campaign:
    """Finish an active campaign: its measured impact is computed now and kept as it is (the estimates of
    later campaigns of its type learn from it). Raises ``CampaignTransitionNotAllowed``."""
    locked = _locked_campaign(campaign)
    try:
        locked.complete()
    except TransitionNotAllowed:
        raise CampaignTransitionNotAllowed(
            status=locked.status, to_status=CampaignStatus.COMPLETED, allowed=locked.allowed_statuses()
        ) from None
    locked.measured_impact = selectors.campaign_live_impact(
        campaign=locked, now=locked.completed_at
    ).as_dict()
    locked.save()
    publish_many([_finish_message(locked)])
    return locked


@transaction.atomic
def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop an active campaign without a result: it takes no more members and is no estimate's history."""
    locked = _locked_campaign(campaign)
    try:
        locked.cancel()
    except TransitionNotAllowed:
        raise CampaignTransitionNotAllowed(
            status=locked.status, to_status=CampaignStatus.CANCELLED, allowed=locked.allowed_statuses()
        ) from None
    locked.save()
    publish_many([_finish_message(locked)])
    return locked


@transaction.atomic
def campaign_update(*, campaign: Campaign, data: dict[str, Any]) -> Campaign:
    """Rename, change the end time, or finish (``status`` completed or cancelled). The audience, type and
    segments are fixed. Raises ``CampaignTransitionNotAllowed``."""
    locked = _locked_campaign(campaign)
    changed = [name for name in ("name", "ends_at") if name in data and getattr(locked, name) != data[name]]
    for name in changed:
        setattr(locked, name, data[name])
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    status = data.get("status")
    if status is not None and status != locked.status:
        if status == CampaignStatus.COMPLETED:
            return campaign_complete(campaign=locked)
        if status == CampaignStatus.CANCELLED:
            return campaign_cancel(campaign=locked)
        raise CampaignTransitionNotAllowed(
            status=locked.status, to_status=status, allowed=locked.allowed_statuses()
        )
    return locked


def campaigns_complete_due(*, now: datetime | None = None) -> list[str]:
    """Complete every active campaign whose end time has passed; returns their ids."""
    now = now or timezone.now()
    due = Campaign.objects.filter(status=CampaignStatus.ACTIVE, ends_at__lte=now).order_by("ends_at")
    completed = []
    for campaign in due:
        try:
            campaign_complete(campaign=campaign)
        except CampaignTransitionNotAllowed:
            continue  # finished meanwhile by someone else
        completed.append(campaign.campaign_id)
    return completed


@transaction.atomic
def campaign_comparisons_track(*, campaign: Campaign) -> int:
    """Add to an open campaign without a holdout, as its comparison group, the customers now in its
    segments (as defined when it was created) who are not in it and not members of another open campaign
    of its type, each with a snapshot of its success now. One ``INSERT … SELECT``; returns how many."""
    if not campaign.is_open or campaign.holdout_count:
        return 0
    in_campaign = CampaignMember.objects.filter(campaign=campaign, customer_id=OuterRef("pk"))
    treated_elsewhere = CampaignMember.objects.filter(
        customer_id=OuterRef("pk"),
        group=MemberGroup.TREATMENT,
        campaign__campaign_type=campaign.campaign_type,
        campaign__status=CampaignStatus.ACTIVE,
    ).exclude(campaign=campaign)
    entrants = Customer.objects.filter(union_condition(campaign.segment_filters)).filter(
        ~Exists(in_campaign), ~Exists(treated_elsewhere)
    )
    added = _insert_members(
        campaign=campaign,
        customers=entrants,
        group=MemberGroup.COMPARISON,
        source=MemberSource.SEGMENT_ENTRY,
        now=timezone.now(),
    )
    return len(added)


def campaigns_comparisons_track() -> int:
    """``campaign_comparisons_track`` for every open campaign without a holdout."""
    total = 0
    for campaign in Campaign.objects.filter(status=CampaignStatus.ACTIVE, holdout_count=0):
        total += campaign_comparisons_track(campaign=campaign)
    return total


def _locked_customer(customer_id: str) -> Customer:
    """The customer's row, locked: enrolments and journey moves of one customer run one at a time."""
    customer = lock_rows(Customer.objects.filter(pk=customer_id)).first()
    if customer is None:
        raise Customer.DoesNotExist(customer_id)
    return customer


def _snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "baseline_health_score": customer.health_score,
        "baseline_engagement_score": customer.engagement_score,
        "baseline_adoption_rate": customer.adoption_rate,
        "baseline_lifecycle_stage": customer.lifecycle_stage,
    }


@transaction.atomic
def campaign_enroll_for_trigger(
    *, customer_id: str, campaign_type: str, trigger_type: str, reason: str
) -> str | None:
    """Enrol the customer into the open campaign of ``campaign_type`` (the most recently created active
    one; none is created), with a snapshot of its success, and publish ``campaign_triggered``. Returns
    the campaign's id, or None when the customer is in an open campaign of that type already (as a
    member or held out of it) or no campaign of that type is open. A customer in the campaign's
    comparison group becomes a member (with a fresh snapshot). Raises ``Customer.DoesNotExist``."""
    if campaign_type not in CampaignType.values:
        raise ValueError(f"Unknown campaign type {campaign_type!r}.")
    customer = _locked_customer(customer_id)
    if campaign_type in selectors.open_memberships(customer_id=customer_id):
        return None
    candidate = selectors.open_campaign_for(campaign_type=campaign_type)
    if candidate is None:
        return None
    campaign = _locked_campaign(candidate)
    if not campaign.is_open:
        return None
    trigger_type, reason = str(trigger_type)[:100], str(reason)[:300]
    fields = {
        **_snapshot(customer),
        "group": MemberGroup.TREATMENT,
        "source": MemberSource.TRIGGER,
        "enrolled_at": timezone.now(),
        "trigger_type": trigger_type,
        "reason": reason,
    }
    CampaignMember.objects.update_or_create(campaign=campaign, customer=customer, defaults=fields)
    Campaign.objects.filter(pk=campaign.pk).update(
        members_count=F("members_count") + 1, updated_at=timezone.now()
    )
    publish_many(
        [
            EventMessage(
                events.CAMPAIGN_TRIGGERED.name,
                customer_id,
                {
                    "campaign_id": campaign.campaign_id,
                    "campaign_type": campaign_type,
                    "trigger_type": trigger_type,
                    "reason": reason,
                },
            )
        ]
    )
    return campaign.campaign_id


def campaign_triggers_apply(*, customer_id: str) -> list[str]:
    """Evaluate the automatic trigger rules on the customer's stored facts and enrol it where one fires
    (once per campaign type); returns the campaigns it joined. Raises ``Customer.DoesNotExist``."""
    rules = selectors.active_rules(automatic_only=True)
    if not rules:
        return []
    customer = Customer.objects.get(pk=customer_id)
    joined = []
    for firing in triggers.firings(rules, selectors.customer_facts(customer=customer)):
        campaign_id = campaign_enroll_for_trigger(
            customer_id=customer_id,
            campaign_type=firing.rule.campaign_type,
            trigger_type=firing.rule.trigger_type,
            reason=firing.reason,
        )
        if campaign_id:
            joined.append(campaign_id)
    return joined


# --- Journeys -------------------------------------------------------------------------------------------

INITIAL, CUSTOMER_RECORD, SALES_HANDOFF = "initial", "customer_record", "sales_handoff"


def _journey_locked(
    customer: Customer,
    *,
    initial_stage: str | None = None,
    until: datetime | None = None,
    unknown_before: datetime | None = None,
) -> Journey:
    """The customer's journey, locked (the customer's row is locked first). A journey seen for the first
    time starts with one stay: ``initial_stage`` from the customer's creation until ``until`` when a
    change of the record is what reveals it, else the record's current stage since it was set. With
    ``unknown_before`` (an event changed the stage, and what it was before is not known) it starts with
    no stay at that time."""
    journey = lock_rows(Journey.objects.filter(pk=customer.pk)).first()
    if journey is not None:
        return journey
    if unknown_before is not None:
        return Journey.objects.create(
            customer=customer, stage=customer.lifecycle_stage, entered_at=unknown_before
        )
    if initial_stage and until is not None and initial_stage != customer.lifecycle_stage:
        stage, since = initial_stage, min(customer.created_at, until)
    else:
        stage, since = customer.lifecycle_stage, selectors.record_stage_since(customer)
    journey = Journey.objects.create(customer=customer, stage=stage, entered_at=since)
    JourneyEntry.objects.create(customer=customer, stage=stage, entered_at=since, changed_by=INITIAL)
    return journey


def _record_stay(
    journey: Journey,
    *,
    stage: str,
    from_stage: str | None = None,
    at: datetime,
    reason: str,
    changed_by: str,
    source_event_id: str | None = None,
    event_id: str = "",
) -> JourneyEntry:
    """A new stay in ``stage`` from ``at``: the open one ends then. A stay older than the journey's
    current one (an event delivered late) goes into the history without changing the current stage."""
    if at < journey.entered_at:
        later = (
            JourneyEntry.objects.filter(customer_id=journey.pk, entered_at__gt=at)
            .order_by("entered_at", "id")
            .values_list("entered_at", flat=True)
            .first()
        )
        return JourneyEntry.objects.create(
            customer_id=journey.pk,
            stage=stage,
            entered_at=at,
            left_at=later,
            reason=reason[:500],
            changed_by=changed_by[:200],
            source_event_id=source_event_id,
            event_id=event_id,
        )
    JourneyEntry.objects.filter(customer_id=journey.pk, left_at__isnull=True).update(left_at=at)
    entry = JourneyEntry.objects.create(
        customer_id=journey.pk,
        stage=stage,
        from_stage=journey.stage if from_stage is None else from_stage,
        entered_at=at,
        reason=reason[:500],
        changed_by=changed_by[:200],
        source_event_id=source_event_id,
        event_id=event_id,
    )
    journey.stage, journey.entered_at = stage, at
    journey.save(update_fields=["stage", "entered_at", "updated_at"])
    return entry


def journey_move(*, customer_id: str, stage: str, reason: str = "", changed_by: str) -> JourneyStatus:
    """Move the customer's journey to ``stage`` if the journey allows it from the current stage (the
    customer record's), recording the reason, who moved it and when; publishes
    ``journey_stage_changed``, whose projection sets the customer's ``lifecycle_stage`` in the same
    transaction. Returns the journey's status. Raises ``JourneyTransitionNotAllowed`` (with the allowed
    stages) and ``Customer.DoesNotExist``."""
    if stage not in LifecycleStage.values:
        raise ValueError(f"Unknown stage {stage!r}; use one of {', '.join(LifecycleStage.values)}.")
    with transaction.atomic():
        customer = _locked_customer(customer_id)
        journey = _journey_locked(customer)
        if journey.stage != customer.lifecycle_stage:
            # The record's stage was written directly since the journey last saw it.
            _record_stay(
                journey,
                stage=customer.lifecycle_stage,
                at=max(selectors.record_stage_since(customer), journey.entered_at),
                reason="set on the customer record",
                changed_by=CUSTOMER_RECORD,
            )
        from_stage = journey.stage
        move = journey.transition_to(stage)
        if not can_proceed(move):
            raise JourneyTransitionNotAllowed(
                from_stage=from_stage, to_stage=stage, allowed=journey.allowed_stages()
            )
        move()  # the state machine's transition; _record_stay keeps it with its history
        now = timezone.now()
        [event] = publish_many(
            [
                EventMessage(
                    events.JOURNEY_STAGE_CHANGED.name,
                    customer_id,
                    {"from_stage": from_stage, "to_stage": stage, "reason": reason, "changed_by": changed_by},
                    occurred_at=now,
                )
            ]
        )
        _record_stay(
            journey,
            stage=stage,
            from_stage=from_stage,
            at=now,
            reason=reason,
            changed_by=changed_by,
            event_id=event.event_id,
        )
    customer.refresh_from_db()
    return selectors.journey_status(customer=customer)


@transaction.atomic
def journey_start(*, customer_id: str, stage: str, event_id: str, occurred_at: datetime) -> bool:
    """Begin a new customer's journey at the stage it was created with, once per event. Returns False
    when the journey had begun already (or the customer is gone)."""
    if stage not in LifecycleStage.values or JourneyEntry.objects.filter(source_event_id=event_id).exists():
        return False
    try:
        customer = _locked_customer(customer_id)
    except Customer.DoesNotExist:
        return False
    if Journey.objects.filter(pk=customer.pk).exists():
        return False
    Journey.objects.create(customer=customer, stage=stage, entered_at=occurred_at)
    JourneyEntry.objects.create(
        customer=customer, stage=stage, entered_at=occurred_at, changed_by=INITIAL, source_event_id=event_id
    )
    return True


@transaction.atomic
def journey_record_handoff(*, customer_id: str, event_id: str, occurred_at: datetime, reason: str) -> bool:
    """Record the sales handoff's move to onboarding in the journey history (the customers app has set
    the record's stage already), once per event. Returns False when it was recorded before or the
    customer is gone."""
    if JourneyEntry.objects.filter(source_event_id=event_id).exists():
        return False
    try:
        customer = _locked_customer(customer_id)
    except Customer.DoesNotExist:
        return False
    journey = _journey_locked(customer, unknown_before=occurred_at)
    _record_stay(
        journey,
        stage=LifecycleStage.ONBOARDING,
        at=occurred_at,
        reason=reason,
        changed_by=SALES_HANDOFF,
        source_event_id=event_id,
    )
    return True


@transaction.atomic
def journey_sync_from_record(
    *, customer_id: str, event_id: str, occurred_at: datetime, previous_stage: str | None = None
) -> bool:
    """Record in the journey a stage written directly to the customer record (the customer API, the
    admin, a bulk upsert), once per event; the journey converges to the record's current stage whatever
    order such events arrive in. Returns whether a stay was recorded."""
    if JourneyEntry.objects.filter(source_event_id=event_id).exists():
        return False
    try:
        customer = _locked_customer(customer_id)
    except Customer.DoesNotExist:
        return False
    journey = _journey_locked(customer, initial_stage=previous_stage, until=occurred_at)
    if journey.stage == customer.lifecycle_stage:
        return False
    _record_stay(
        journey,
        stage=customer.lifecycle_stage,
        at=max(occurred_at, journey.entered_at),
        reason="set on the customer record",
        changed_by=CUSTOMER_RECORD,
        source_event_id=event_id,
    )
    return True
