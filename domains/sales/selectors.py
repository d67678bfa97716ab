"""Reads of the sales domain, shared by the API, the admin, the readiness evaluation and other apps.

Public functions for other apps (finance): :func:`expansion_summary` and
:func:`expansion_pipeline_for_period`, each returning :class:`ExpansionSummary` per customer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from domains.customers.models import Customer

from . import periods, scoring
from .models import (
    DEFAULT_FACTOR_LABELS,
    ExpansionReadiness,
    Handoff,
    Milestone,
    Opportunity,
    OpportunityStatus,
    ReadinessFactor,
    ReadinessModel,
    SuccessGoal,
    SuccessPlanTask,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --- What finance reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpansionSummary:
    """A customer's expansion money, to the cent.

    ``open_value``: Σ ``value_estimate`` of its open opportunities; ``weighted_open_value``: Σ
    ``value_estimate * probability`` of the same; ``won_value``: Σ ``value_estimate`` of its won ones.
    """

    open_value: Decimal = ZERO
    weighted_open_value: Decimal = ZERO
    won_value: Decimal = ZERO


_WEIGHTED = ExpressionWrapper(
    F("value_estimate") * F("probability"), output_field=DecimalField(max_digits=20, decimal_places=6)
)


def _summaries(queryset: QuerySet[Opportunity]) -> dict[str, ExpansionSummary]:
    open_only = Q(status=OpportunityStatus.OPEN)
    rows = (
        queryset.order_by()
        .values("customer_id")
        .annotate(
            open_value=Sum("value_estimate", filter=open_only),
            weighted_open_value=Sum(_WEIGHTED, filter=open_only),
            won_value=Sum("value_estimate", filter=Q(status=OpportunityStatus.WON)),
        )
    )
    return {
        row["customer_id"]: ExpansionSummary(
            open_value=_money(row["open_value"]),
            weighted_open_value=_money(row["weighted_open_value"]),
            won_value=_money(row["won_value"]),
        )
        for row in rows
    }


def expansion_summary(*, customer_ids: list[str] | None = None) -> dict[str, ExpansionSummary]:
    """Per customer (all, or those of ``customer_ids``): open, weighted open and won value of its
    opportunities, in one aggregate query. Customers without opportunities are absent."""
    queryset = Opportunity.objects.all()
    if customer_ids is not None:
        queryset = queryset.filter(customer_id__in=list(customer_ids))
    return _summaries(queryset)


def expansion_pipeline_for_period(*, forecast_period: str) -> dict[str, ExpansionSummary]:
    """``expansion_summary`` over the open opportunities whose ``timeline`` falls within the period
    (``q2_2026``, ``2026-q2`` or ``2026-03``; see ``periods.py``): a quarter's opportunities, and those of
    its months, fall in the quarter; a month holds only the opportunities timed for that month.
    ``won_value`` is therefore 0 here. Raises ``periods.InvalidPeriod`` (a ``ValueError``)."""
    period = periods.parse_period(forecast_period)
    queryset = Opportunity.objects.filter(
        status=OpportunityStatus.OPEN, timeline_start__gte=period.start, timeline_end__lte=period.end
    )
    return _summaries(queryset)


# --- Opportunities and milestones ----------------------------------------------------------------------


def opportunity_list() -> QuerySet[Opportunity]:
    return Opportunity.objects.all()


def opportunity_get(*, opportunity_id: str) -> Opportunity:
    return get_object_or_404(Opportunity, opportunity_id=opportunity_id)


def best_open_opportunities(*, customer_ids: Sequence[str]) -> dict[str, Opportunity]:
    """Each customer's open opportunity of the highest value * probability (ties: higher probability,
    then the oldest), for those that have one."""
    best: dict[str, Opportunity] = {}
    if not customer_ids:
        return best
    rows = (
        Opportunity.objects.filter(customer_id__in=list(customer_ids), status=OpportunityStatus.OPEN)
        .annotate(weighted=_WEIGHTED)
        .order_by("customer_id", "-weighted", "-probability", "created_at", "opportunity_id")
    )
    for opportunity in rows:
        best.setdefault(opportunity.customer_id, opportunity)
    return best


def milestone_list() -> QuerySet[Milestone]:
    return Milestone.objects.all()


def milestone_get(*, milestone_id: str) -> Milestone:
    return get_object_or_404(Milestone, milestone_id=milestone_id)


# --- The handoff ------------------------------------------------------------------------------------------


def handoff_for_customer(*, customer_id: str) -> Handoff | None:
    """The customer's handoff with its success plan, tasks and goals (four queries), or None."""
    return (
        Handoff.objects.filter(customer_id=customer_id)
        .select_related("success_plan")
        .prefetch_related(
            Prefetch("success_plan__tasks", queryset=SuccessPlanTask.objects.order_by("due_date", "task_id")),
            Prefetch("success_plan__goals", queryset=SuccessGoal.objects.order_by("criterion")),
        )
        .first()
    )


def handoff_body(handoff: Handoff) -> dict[str, Any]:
    """The handoff as the API answers it: never the stakeholders' e-mails or the sales notes."""
    plan = handoff.success_plan
    return {
        "handoff_id": handoff.handoff_id,
        "customer_id": handoff.customer_id,
        "deal_value": handoff.deal_value,
        "contract_terms": handoff.contract_terms,
        "success_criteria": list(handoff.success_criteria),
        "stakeholder_count": len(handoff.stakeholder_emails),
        "has_sales_notes": bool(handoff.sales_notes),
        "handed_off_by": handoff.handed_off_by or None,
        "created_at": handoff.created_at,
        "success_plan": {
            "plan_id": plan.plan_id,
            "status": plan.status,
            "onboarding_start": plan.onboarding_start,
            "success_manager": plan.success_manager,
            "first_check_in": plan.first_check_in,
            "tasks": [
                {
                    "task_id": task.task_id,
                    "kind": task.kind,
                    "title": task.title,
                    "due_date": task.due_date,
                    "assignee": task.assignee or None,
                    "status": task.status,
                    "completed_at": task.completed_at,
                }
                for task in plan.tasks.all()
            ],
            "goals": [
                {
                    "goal_id": goal.goal_id,
                    "criterion": goal.criterion,
                    "status": goal.status,
                    "achieved_at": goal.achieved_at,
                    "milestone_id": goal.milestone_id,
                }
                for goal in plan.goals.all()
            ],
        },
        "baseline": {
            "health_score": handoff.baseline_health_score,
            "health_trend": handoff.baseline_health_trend,
            "risk_level": handoff.baseline_risk_level,
            "adoption_rate": handoff.baseline_adoption_rate,
            "engagement_score": handoff.baseline_engagement_score,
            "nps_score": handoff.baseline_nps_score,
            "arr": handoff.baseline_arr,
            "captured_at": handoff.created_at,
        },
    }


# --- Readiness ---------------------------------------------------------------------------------------------

#: the model used when no readiness model is active (the same numbers the first migration stores)
BUILT_IN_MODEL = scoring.ReadinessSpec(
    name="Built-in",
    threshold=70,
    factors=(
        scoring.FactorSpec("adoption", 25, DEFAULT_FACTOR_LABELS["adoption"], "range", 0, 1),
        scoring.FactorSpec("health", 25, DEFAULT_FACTOR_LABELS["health"], "range", 0, 100),
        scoring.FactorSpec("engagement", 15, DEFAULT_FACTOR_LABELS["engagement"], "range", 0, 10),
        scoring.FactorSpec("nps", 15, DEFAULT_FACTOR_LABELS["nps"], "range", 0, 100),
        scoring.FactorSpec("trend", 10, DEFAULT_FACTOR_LABELS["trend"], "range", 0, 1),
        scoring.FactorSpec(
            "milestones", 10, DEFAULT_FACTOR_LABELS["milestones"], "target", target_value=3, window_days=180
        ),
    ),
)


def readiness_spec_of(model: ReadinessModel) -> scoring.ReadinessSpec:
    """The pure form of a stored readiness model (its factors prefetched or loadable)."""
    return scoring.ReadinessSpec(
        name=model.name,
        model_id=model.pk,
        threshold=model.threshold,
        rearm_margin=model.rearm_margin,
        top_factors=model.top_factors,
        strong_share=model.strong_share,
        factors=tuple(
            scoring.FactorSpec(
                factor=factor.factor,
                weight=factor.weight,
                label=factor.display_label,
                normalisation=factor.normalisation,
                min_value=factor.min_value,
                max_value=factor.max_value,
                target_value=factor.target_value,
                window_days=factor.window_days,
            )
            for factor in model.factors.all()
        ),
    )


_spec_lock = threading.Lock()
_spec_cache: tuple[tuple, scoring.ReadinessSpec] | None = None


def readiness_models_version() -> tuple:
    """Moves whenever a readiness model or one of its factors is saved or deleted, or another model is
    made active (one aggregate)."""
    stamp = ReadinessModel.objects.aggregate(
        count=Count("id"), latest=Max("updated_at"), active=Max("id", filter=Q(is_active=True))
    )
    return (stamp["count"], stamp["latest"], stamp["active"])


def readiness_spec() -> scoring.ReadinessSpec:
    """The active readiness model in its pure form (the built-in one when none is active), kept per
    process and re-read only when ``readiness_models_version`` moved."""
    global _spec_cache
    version = readiness_models_version()
    cached = _spec_cache
    if cached is not None and cached[0] == version:
        return cached[1]
    model = (
        ReadinessModel.objects.filter(is_active=True)
        .prefetch_related(Prefetch("factors", queryset=ReadinessFactor.objects.order_by("-weight", "factor")))
        .first()
    )
    spec = readiness_spec_of(model) if model is not None else BUILT_IN_MODEL
    with _spec_lock:
        _spec_cache = (version, spec)
    return spec


def recent_milestone_counts(
    *, customer_ids: Iterable[str], window_days: int | None, now: datetime
) -> dict[str, int]:
    """Milestones each customer reached in the ``window_days`` before ``now`` (one aggregate query)."""
    ids = list(customer_ids)
    if window_days is None or not ids:
        return {}
    rows = (
        Milestone.objects.filter(
            customer_id__in=ids, achieved_at__gt=now - timedelta(days=window_days), achieved_at__lte=now
        )
        .order_by()
        .values("customer_id")
        .annotate(count=Count("pk"))
    )
    return {row["customer_id"]: row["count"] for row in rows}


#: the customer fields the readiness model reads (milestones aside)
READINESS_INPUT_FIELDS = ("adoption_rate", "health_score", "engagement_score", "nps_score", "health_trend")


def readiness_inputs(
    *,
    customers: Sequence[Customer],
    spec: scoring.ReadinessSpec,
    now: datetime,
    milestone_counts: dict[str, int] | None = None,
) -> dict[str, scoring.ReadinessInputs]:
    """What the model reads of each customer; the recent milestones are counted unless given."""
    counts = milestone_counts
    if counts is None:
        counts = recent_milestone_counts(
            customer_ids=[customer.customer_id for customer in customers],
            window_days=spec.milestone_window_days,
            now=now,
        )
    return {
        customer.customer_id: scoring.ReadinessInputs(
            adoption_rate=customer.adoption_rate,
            health_score=customer.health_score,
            engagement_score=customer.engagement_score,
            nps_score=customer.nps_score,
            health_trend=customer.health_trend,
            recent_milestones=counts.get(customer.customer_id, 0),
        )
        for customer in customers
    }


def customer_readiness(
    *, customer: Customer, spec: scoring.ReadinessSpec | None = None, now: datetime | None = None
) -> scoring.Readiness:
    """The customer's readiness now, computed from its stored data (nothing is written)."""
    spec = spec or readiness_spec()
    now = now or timezone.now()
    inputs = readiness_inputs(customers=[customer], spec=spec, now=now)[customer.customer_id]
    return scoring.compute_readiness(spec, inputs)


def readiness_state(*, customer_id: str) -> ExpansionReadiness | None:
    return ExpansionReadiness.objects.filter(customer_id=customer_id).first()


def opportunity_body(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "opportunity_id": opportunity.opportunity_id,
        "customer_id": opportunity.customer_id,
        "type": opportunity.type,
        "product": opportunity.product,
        "value_estimate": opportunity.value_estimate,
        "probability": opportunity.probability,
        "timeline": opportunity.timeline,
        "status": opportunity.status,
        "closed_at": opportunity.closed_at,
        "created_at": opportunity.created_at,
        "updated_at": opportunity.updated_at,
    }


def _is_recent(achieved_at: datetime, window_days: int | None, now: datetime) -> bool:
    return window_days is not None and now - timedelta(days=window_days) < achieved_at <= now


def customer_expansion(*, customer: Customer) -> dict[str, Any]:
    """The body of ``GET /expansion/{customer_id}``: readiness now (score, the factors that contributed
    most with their points, every factor's breakdown), the open opportunities, the success evidence, the
    pipeline's money and the crossing state. Four queries besides the model's version: the milestones
    (evidence and the recent count at once), the open and won opportunities, and the state."""
    customer_id, now = customer.customer_id, timezone.now()
    spec = readiness_spec()
    milestones = list(
        Milestone.objects.filter(customer_id=customer_id)
        .order_by("-achieved_at", "-milestone_id")
        .values_list("milestone", "achieved_at")
    )
    recent = sum(
        1 for _, achieved_at in milestones if _is_recent(achieved_at, spec.milestone_window_days, now)
    )
    inputs = readiness_inputs(
        customers=[customer], spec=spec, now=now, milestone_counts={customer_id: recent}
    )
    readiness = scoring.compute_readiness(spec, inputs[customer_id])
    opportunities = list(
        Opportunity.objects.filter(
            customer_id=customer_id, status__in=[OpportunityStatus.OPEN, OpportunityStatus.WON]
        )
        .annotate(weighted=_WEIGHTED)
        .order_by("-weighted", "-probability", "created_at", "opportunity_id")
    )
    open_ones = [opportunity for opportunity in opportunities if opportunity.is_open]
    state = readiness_state(customer_id=customer_id)
    return {
        "customer_id": customer_id,
        "expansion_readiness": {
            "score": readiness.score,
            "readiness_factors": readiness.readiness_factors,
            "factor_points": readiness.factor_points,
            "threshold": spec.threshold,
            "ready": readiness.score >= spec.threshold,
            "model": spec.name,
            "breakdown": [result.as_dict() for result in readiness.factors],
            "last_announced_at": state.last_crossed_at if state else None,
        },
        "opportunities": [opportunity_body(opportunity) for opportunity in open_ones],
        "success_evidence": [milestone for milestone, _ in milestones],
        # As expansion_summary computes them, from the same rows.
        "pipeline": {
            "open_value": _money(sum((o.value_estimate for o in open_ones), ZERO)),
            "weighted_open_value": _money(sum((o.value_estimate * o.probability for o in open_ones), ZERO)),
            "won_value": _money(sum((o.value_estimate for o in opportunities if not o.is_open), ZERO)),
        },
    }
