"""Every write of the sales domain. Keyword-only, typed; each owns its transaction and publishes its events
in it (the outbox). Customer rows are never written here: the handoff's effects on the customer (stage,
success manager, sales status) and ``expansion_ready``'s are the customers app's projection of the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from csintegration.db import bulk_update_values, locked_by_key, model_update
from csintegration.events import EventMessage, publish_many
from domains.customers.models import Customer

from . import events, periods, scoring, selectors
from .conf import conf
from .models import (
    ExpansionReadiness,
    GoalStatus,
    Handoff,
    Milestone,
    Opportunity,
    OpportunityStatus,
    PlanStatus,
    PlanTaskKind,
    PlanTaskStatus,
    SuccessGoal,
    SuccessPlan,
    SuccessPlanTask,
)


class HandoffExists(Exception):
    """The customer was handed off already (one handoff per customer)."""


class OpportunityClosed(Exception):
    """A won or lost opportunity does not change any more."""

    def __init__(self, opportunity: Opportunity) -> None:
        super().__init__(opportunity.opportunity_id)
        self.status = opportunity.status


class OpportunityTransitionNotAllowed(Exception):
    def __init__(self, current: str, requested: str, allowed: list[str]) -> None:
        super().__init__(f"{current} → {requested}")
        self.current, self.requested, self.allowed = current, requested, allowed


class MilestoneExists(Exception):
    """The customer reached this milestone already (each kind once)."""


def _locked_customer(customer_id: str) -> Customer:
    customer = locked_by_key(Customer, [customer_id]).get(customer_id)
    if customer is None:
        raise Customer.DoesNotExist(customer_id)
    return customer


# --- The handoff -------------------------------------------------------------------------------------------


def _plan_tasks(plan: SuccessPlan) -> list[SuccessPlanTask]:
    review = plan.onboarding_start + timedelta(days=conf.SALES_SUCCESS_REVIEW_DAYS)
    return [
        SuccessPlanTask(
            plan=plan,
            kind=PlanTaskKind.ONBOARDING_KICKOFF,
            title="Onboarding kick-off",
            due_date=plan.onboarding_start,
            assignee=plan.success_manager,
        ),
        SuccessPlanTask(
            plan=plan,
            kind=PlanTaskKind.FIRST_CHECK_IN,
            title="First check-in",
            due_date=plan.first_check_in,
            assignee=plan.success_manager,
        ),
        SuccessPlanTask(
            plan=plan,
            kind=PlanTaskKind.SUCCESS_REVIEW,
            title="Review the success criteria against the baseline",
            due_date=max(review, plan.first_check_in),
            assignee=plan.success_manager,
        ),
    ]


def goal_criteria_for(milestone: str) -> set[str]:
    """The success criteria a milestone achieves: the criterion of the same name, and ``X`` for
    ``achieved_X`` (``achieved_roi_target`` achieves ``roi_target``)."""
    criteria = {milestone}
    if milestone.startswith("achieved_"):
        criteria.add(milestone.removeprefix("achieved_"))
    return criteria


@transaction.atomic
def handoff_complete(
    *,
    customer_id: str,
    deal_value: Decimal,
    contract_terms: str,
    onboarding_start: date,
    success_manager: str,
    first_check_in: date,
    key_stakeholders: Sequence[str] = (),
    success_criteria: Sequence[str] = (),
    sales_notes: str = "",
    handed_off_by: str = "",
) -> Handoff:
    """Record the sales-to-CS handoff of a customer: the handoff (stakeholders and notes encrypted), the
    baseline of its health and metrics now, the success plan with its tasks and its success criteria as
    goals; then ``handoff_completed``, which the customers app projects (handed_off, onboarding, the
    success manager) in this transaction.

    Raises ``Customer.DoesNotExist`` and ``HandoffExists``.
    """
    if first_check_in < onboarding_start:
        raise ValueError("The first check-in cannot be before the onboarding starts.")
    customer = _locked_customer(customer_id)
    if Handoff.objects.filter(customer_id=customer_id).exists():
        raise HandoffExists(customer_id)
    handoff = Handoff(
        customer=customer,
        deal_value=deal_value,
        contract_terms=contract_terms,
        sales_notes=sales_notes,
        success_criteria=list(dict.fromkeys(success_criteria)),
        handed_off_by=handed_off_by,
        baseline_health_score=customer.health_score,
        baseline_health_trend=customer.health_trend,
        baseline_risk_level=customer.risk_level,
        baseline_adoption_rate=customer.adoption_rate,
        baseline_engagement_score=customer.engagement_score,
        baseline_nps_score=customer.nps_score,
        baseline_arr=customer.arr,
    )
    handoff.stakeholder_emails = list(dict.fromkeys(key_stakeholders))
    try:
        with transaction.atomic():
            handoff.save(force_insert=True)
    except IntegrityError:  # a concurrent handoff of the same customer committed first
        raise HandoffExists(customer_id) from None
    plan = SuccessPlan.objects.create(
        handoff=handoff,
        customer=customer,
        onboarding_start=onboarding_start,
        success_manager=success_manager,
        first_check_in=first_check_in,
    )
    SuccessPlanTask.objects.bulk_create(_plan_tasks(plan))
    reached = {
        criterion: milestone
        for milestone in Milestone.objects.filter(customer_id=customer_id).order_by("achieved_at")
        for criterion in goal_criteria_for(milestone.milestone)
    }
    SuccessGoal.objects.bulk_create(
        [
            SuccessGoal(
                plan=plan,
                criterion=criterion,
                status=GoalStatus.ACHIEVED if criterion in reached else GoalStatus.OPEN,
                achieved_at=reached[criterion].achieved_at if criterion in reached else None,
                milestone=reached.get(criterion),
            )
            for criterion in handoff.success_criteria
        ]
    )
    publish_many(
        [
            EventMessage(
                events.HANDOFF_COMPLETED.name,
                customer_id,
                {
                    "handoff_id": handoff.handoff_id,
                    "plan_id": plan.plan_id,
                    "deal_value": handoff.deal_value,
                    "contract_terms": handoff.contract_terms,
                    "success_manager": plan.success_manager,
                    "onboarding_start": plan.onboarding_start,
                    "first_check_in": plan.first_check_in,
                    "success_criteria": handoff.success_criteria,
                    "stakeholder_count": len(handoff.stakeholder_emails),
                },
                handoff.created_at,
            )
        ]
    )
    return handoff


def _refresh_plan_status(plan: SuccessPlan) -> None:
    """A plan is completed once every task is done and every goal achieved (and active again otherwise)."""
    finished = (
        not plan.tasks.exclude(status=PlanTaskStatus.DONE).exists()
        and not plan.goals.exclude(status=GoalStatus.ACHIEVED).exists()
    )
    status = PlanStatus.COMPLETED if finished else PlanStatus.ACTIVE
    if plan.status != status:
        plan.status = status
        plan.save(update_fields=["status", "updated_at"])


@transaction.atomic
def plan_task_complete(*, task: SuccessPlanTask) -> SuccessPlanTask:
    """Mark a success-plan task done (idempotent)."""
    locked = locked_by_key(SuccessPlanTask, [task.pk])[task.pk]
    if locked.status != PlanTaskStatus.DONE:
        locked.status, locked.completed_at = PlanTaskStatus.DONE, timezone.now()
        locked.save(update_fields=["status", "completed_at"])
        _refresh_plan_status(locked.plan)
    return locked


# --- Opportunities --------------------------------------------------------------------------------------


def _opportunity_payload(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "opportunity_id": opportunity.opportunity_id,
        "type": opportunity.type,
        "product": opportunity.product,
        "value_estimate": opportunity.value_estimate,
        "probability": opportunity.probability,
        "timeline": opportunity.timeline,
        "status": opportunity.status,
    }


_CLOSING_EVENTS = {
    OpportunityStatus.WON: events.OPPORTUNITY_WON.name,
    OpportunityStatus.LOST: events.OPPORTUNITY_LOST.name,
}


def _move(opportunity: Opportunity, status: str) -> None:
    """Apply the state machine's transition to ``status``; ``OpportunityTransitionNotAllowed`` if none."""
    current = opportunity.status
    allowed = opportunity.allowed_statuses()
    method = {OpportunityStatus.WON: opportunity.win, OpportunityStatus.LOST: opportunity.lose}.get(status)
    if method is None or status not in allowed:
        raise OpportunityTransitionNotAllowed(current, status, allowed)
    try:
        method()
    except TransitionNotAllowed:
        raise OpportunityTransitionNotAllowed(current, status, allowed) from None


def _set_timeline(opportunity: Opportunity, timeline: str) -> None:
    period = periods.parse_period(timeline)
    opportunity.timeline, opportunity.timeline_start, opportunity.timeline_end = (
        period.label,
        period.start,
        period.end,
    )


@transaction.atomic
def opportunity_create(
    *,
    customer_id: str,
    type: str,
    product: str,
    value_estimate: Decimal,
    probability: Decimal,
    timeline: str,
    status: str = OpportunityStatus.OPEN,
) -> Opportunity:
    """Record an opportunity (open, or already won or lost); publishes ``opportunity_created`` and, when
    created closed, ``opportunity_won``/``opportunity_lost``; re-evaluates the customer's readiness.

    Raises ``Customer.DoesNotExist`` and ``periods.InvalidPeriod``.
    """
    if not Customer.objects.filter(customer_id=customer_id).exists():
        raise Customer.DoesNotExist(customer_id)
    opportunity = Opportunity(
        customer_id=customer_id,
        type=type,
        product=product,
        value_estimate=value_estimate,
        probability=probability,
    )
    _set_timeline(opportunity, timeline)
    if status != OpportunityStatus.OPEN:
        _move(opportunity, status)
    opportunity.save(force_insert=True)
    payload = _opportunity_payload(opportunity)
    messages = [EventMessage(events.OPPORTUNITY_CREATED.name, customer_id, payload)]
    if opportunity.status in _CLOSING_EVENTS:
        messages.append(EventMessage(_CLOSING_EVENTS[opportunity.status], customer_id, payload))
    publish_many(messages)
    readiness_evaluate(customer_ids=[customer_id])
    return opportunity


OPPORTUNITY_WRITABLE_FIELDS = ("type", "product", "value_estimate", "probability")


@transaction.atomic
def opportunity_update(*, opportunity: Opportunity, data: dict[str, Any]) -> Opportunity:
    """Change an open opportunity; ``status`` ``won`` or ``lost`` closes it (``opportunity_won`` /
    ``opportunity_lost``). A closed opportunity does not change: ``OpportunityClosed``, unless ``data``
    changes nothing. A status the state machine does not allow: ``OpportunityTransitionNotAllowed``.
    """
    locked = locked_by_key(Opportunity, [opportunity.pk]).get(opportunity.pk)
    if locked is None:
        raise Opportunity.DoesNotExist(opportunity.pk)
    before_status = locked.status
    before = (*(getattr(locked, name) for name in OPPORTUNITY_WRITABLE_FIELDS), locked.timeline)
    model_update(instance=locked, data=data, fields=OPPORTUNITY_WRITABLE_FIELDS, save=False)
    if "timeline" in data:
        _set_timeline(locked, data["timeline"])
    status = data.get("status", before_status)
    after = (*(getattr(locked, name) for name in OPPORTUNITY_WRITABLE_FIELDS), locked.timeline)
    if before == after and status == before_status:
        return locked
    if before_status != OpportunityStatus.OPEN:
        if status != before_status:
            raise OpportunityTransitionNotAllowed(before_status, status, locked.allowed_statuses())
        raise OpportunityClosed(locked)
    if status != before_status:
        _move(locked, status)
    locked.save()
    if locked.status in _CLOSING_EVENTS:
        publish_many(
            [EventMessage(_CLOSING_EVENTS[locked.status], locked.customer_id, _opportunity_payload(locked))]
        )
    readiness_evaluate(customer_ids=[locked.customer_id])
    return locked


# --- Milestones ------------------------------------------------------------------------------------------


@transaction.atomic
def milestone_record(
    *,
    customer_id: str,
    milestone: str,
    achieved_at: datetime | None = None,
    note: str = "",
    recorded_by: str = "",
) -> Milestone:
    """Record a milestone the customer reached; it achieves the success-plan goals it matches
    (``goal_criteria_for``); publishes ``milestone_achieved``; re-evaluates the customer's readiness.

    Raises ``Customer.DoesNotExist`` and ``MilestoneExists``.
    """
    if not Customer.objects.filter(customer_id=customer_id).exists():
        raise Customer.DoesNotExist(customer_id)
    row = Milestone(
        customer_id=customer_id,
        milestone=milestone,
        achieved_at=achieved_at or timezone.now(),
        note=note,
        recorded_by=recorded_by,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise MilestoneExists(f"{customer_id} {milestone}") from None
    goals = list(
        SuccessGoal.objects.select_related("plan").filter(
            plan__customer_id=customer_id, criterion__in=goal_criteria_for(milestone), status=GoalStatus.OPEN
        )
    )
    for goal in goals:
        goal.status, goal.achieved_at, goal.milestone = GoalStatus.ACHIEVED, row.achieved_at, row
    if goals:
        SuccessGoal.objects.bulk_update(goals, ["status", "achieved_at", "milestone"])
        _refresh_plan_status(goals[0].plan)
    publish_many(
        [
            EventMessage(
                events.MILESTONE_ACHIEVED.name,
                customer_id,
                {
                    "milestone_id": row.milestone_id,
                    "milestone": row.milestone,
                    "achieved_at": row.achieved_at,
                    "goals_achieved": sorted(goal.criterion for goal in goals),
                },
            )
        ]
    )
    readiness_evaluate(customer_ids=[customer_id])
    return row


@transaction.atomic
def milestone_delete(*, milestone: Milestone) -> None:
    """Remove a milestone recorded by mistake: the goals it achieved are open again."""
    customer_id = milestone.customer_id
    goals = list(SuccessGoal.objects.select_related("plan").filter(milestone=milestone))
    for goal in goals:
        goal.status, goal.achieved_at, goal.milestone = GoalStatus.OPEN, None, None
    SuccessGoal.objects.bulk_update(goals, ["status", "achieved_at", "milestone"])
    milestone.delete()
    for plan in {goal.plan_id: goal.plan for goal in goals}.values():
        _refresh_plan_status(plan)
    readiness_evaluate(customer_ids=[customer_id])


# --- Expansion readiness -----------------------------------------------------------------------------------


@dataclass
class ReadinessOutcome:
    customer_id: str
    readiness: scoring.Readiness
    decision: scoring.CrossingDecision
    event_id: str | None = None


READINESS_STATE_FIELDS = (
    "score",
    "threshold",
    "model_name",
    "breakdown",
    "above_threshold",
    "last_crossed_at",
    "crossings",
    "last_event_id",
    "evaluated_at",
)


def _expansion_ready_payload(
    readiness: scoring.Readiness, spec: scoring.ReadinessSpec, best: Opportunity | None
) -> dict[str, Any]:
    return {
        "opportunity_type": best.type if best else None,
        "value_estimate": best.value_estimate if best else None,
        "probability": best.probability if best else None,
        "success_factors": readiness.readiness_factors,
        "opportunity_id": best.opportunity_id if best else None,
        "product": best.product if best else None,
        "readiness_score": readiness.score,
        "threshold": spec.threshold,
    }


#: the fields of a customer the readiness model reads
READINESS_CUSTOMER_FIELDS = ("customer_id", *selectors.READINESS_INPUT_FIELDS)


def _locked_states(customer_ids: Sequence[str]) -> dict[str, ExpansionReadiness]:
    """The state rows of these customers, created where missing, locked in key order."""
    states = locked_by_key(ExpansionReadiness, customer_ids)
    missing = [customer_id for customer_id in customer_ids if customer_id not in states]
    if missing:
        ExpansionReadiness.objects.bulk_create(
            [ExpansionReadiness(customer_id=customer_id) for customer_id in missing], ignore_conflicts=True
        )
        states.update(locked_by_key(ExpansionReadiness, missing))
    return dict(sorted(states.items()))


def _figures(state: ExpansionReadiness) -> tuple:
    return (state.score, state.threshold, state.model_name, state.breakdown, state.above_threshold)


@transaction.atomic
def readiness_evaluate(*, customer_ids: Sequence[str], now: datetime | None = None) -> list[ReadinessOutcome]:
    """Evaluate the readiness of customers from their stored data under the active model, keep it with
    its breakdown, and publish ``expansion_ready`` for each upward crossing of the threshold (once per
    crossing: see ``scoring.decide_crossing``). Unknown ids are skipped. A fixed number of queries
    whatever the number of customers; only the states whose figures moved are rewritten (the others get
    their ``evaluated_at``); the state rows are locked, so concurrent evaluations of one customer cannot
    both announce."""
    now = now or timezone.now()
    customers = Customer.objects.only(*READINESS_CUSTOMER_FIELDS).in_bulk(list(dict.fromkeys(customer_ids)))
    if not customers:
        return []
    states = _locked_states(list(customers))
    spec = selectors.readiness_spec()
    inputs = selectors.readiness_inputs(customers=list(customers.values()), spec=spec, now=now)
    outcomes: list[ReadinessOutcome] = []
    changed: list[ExpansionReadiness] = []
    for customer_id, state in states.items():
        readiness = scoring.compute_readiness(spec, inputs[customer_id])
        decision = scoring.decide_crossing(
            above=state.above_threshold,
            score=readiness.score,
            threshold=spec.threshold,
            rearm_margin=spec.rearm_margin,
        )
        before = None if state.evaluated_at is None else _figures(state)
        state.score, state.threshold, state.model_name = readiness.score, spec.threshold, spec.name
        state.breakdown = [result.as_dict() for result in readiness.factors]
        state.above_threshold, state.evaluated_at = decision.above, now
        if decision.announce:
            state.crossings += 1
            state.last_crossed_at = now
        if decision.announce or _figures(state) != before:
            changed.append(state)
        outcomes.append(ReadinessOutcome(customer_id, readiness, decision))

    announced = [outcome for outcome in outcomes if outcome.decision.announce]
    best = selectors.best_open_opportunities(customer_ids=[outcome.customer_id for outcome in announced])
    published = publish_many(
        [
            EventMessage(
                events.EXPANSION_READY.name,
                outcome.customer_id,
                _expansion_ready_payload(outcome.readiness, spec, best.get(outcome.customer_id)),
                now,
            )
            for outcome in announced
        ]
    )
    for outcome, event in zip(announced, published, strict=True):
        outcome.event_id = states[outcome.customer_id].last_event_id = event.event_id
    bulk_update_values(ExpansionReadiness, changed, READINESS_STATE_FIELDS)
    rewritten = {state.pk for state in changed}
    unchanged = [pk for pk in states if pk not in rewritten]
    if unchanged:
        ExpansionReadiness.objects.filter(pk__in=unchanged).update(evaluated_at=now)
    return outcomes


@dataclass
class ReadinessRunStats:
    customers: int = 0
    announced: int = 0
    rearmed: int = 0
    chunks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def readiness_evaluate_all(*, chunk_size: int | None = None) -> ReadinessRunStats:
    """Re-evaluate every customer, a chunk per transaction (milestones age out of the window with no
    event, and the model may have changed)."""
    size = chunk_size or conf.SALES_READINESS_CHUNK_SIZE
    stats, last_key = ReadinessRunStats(), ""
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=last_key).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not ids:
            return stats
        outcomes = readiness_evaluate(customer_ids=ids)
        last_key = ids[-1]
        stats.chunks += 1
        stats.customers += len(outcomes)
        stats.announced += sum(1 for outcome in outcomes if outcome.decision.announce)
        stats.rearmed += sum(1 for outcome in outcomes if outcome.decision.rearmed)


#: fields of a customer.updated event that feed the readiness model
READINESS_INPUT_FIELDS = frozenset(
    {"health_score", "health_trend", "adoption_rate", "engagement_score", "nps_score"}
)


def readiness_on_customer_event(event) -> None:
    """Subscriber of ``health_score_change`` and ``customer.updated``: re-evaluate the customer when an
    input of the readiness model changed (idempotent: the crossing state is stored)."""
    if not event.customer_id:
        return
    if event.event_type == "customer.updated":
        changed = event.payload.get("changed_fields") or []
        if not READINESS_INPUT_FIELDS.intersection(changed):
            return
    readiness_evaluate(customer_ids=[event.customer_id])
