"""Demo sales data for ``seed_demo``, over the demo customers ``cust_demo…``: handoffs from the last 90 days
with their success plans (tasks done or due, goals achieved by milestones), milestones in line with each
customer's health, open and closed opportunities, then every demo customer's readiness evaluated (which
announces ``expansion_ready`` for those above the threshold).

Idempotent: a customer that has sales data already is left alone, and each customer's data comes from a
random generator seeded with its id, so a run makes the same data whatever ran before. History is written
as it was (dated rows, no events); the handful of handoffs of today go through the service and publish.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from domains.customers.models import Customer, LifecycleStage, Segment

from . import periods, services
from .conf import conf
from .models import (
    GoalStatus,
    Handoff,
    Milestone,
    MilestoneKind,
    Opportunity,
    OpportunityStatus,
    OpportunityType,
    PlanStatus,
    PlanTaskKind,
    PlanTaskStatus,
    SuccessGoal,
    SuccessPlan,
    SuccessPlanTask,
)

DEMO_PREFIX = "cust_demo"
SEED = 20261202
HISTORY_DAYS = 90
#: today's handoffs, made through the service so that the event log shows them
LIVE_HANDOFFS = 6
_CRITERIA = ("adoption_target", "roi_target", "executive_sponsorship", "onboarding_completed")
_TERMS = ("1_year", "2_year", "3_year")
_PRODUCTS = {
    OpportunityType.UPSELL: ("premium_features", "additional_seats", "enterprise_support"),
    OpportunityType.CROSS_SELL: ("analytics_addon", "workflow_automation", "warehouse_connector"),
}
_STAKEHOLDER_NAMES = ("alex.rivera", "priya.nair", "jon.berg", "mei.tanaka", "sam.okafor")
_NOTES = (
    "Strong technical champion, budget confirmed",
    "Procurement was slow; executive sponsor engaged late",
    "Wants quarterly business reviews with their VP",
    "Competitive deal; price-sensitive at renewal",
)


def _moment(now: datetime, days_ago: float) -> datetime:
    return now - timedelta(days=days_ago)


def _quarter_of(day: date) -> periods.Period:
    return periods.quarter(day.year, (day.month - 1) // 3 + 1)


class _CustomerDemo:
    """The rows of one customer, from a generator seeded with its id."""

    def __init__(self, customer: Customer, now: datetime) -> None:
        self.customer, self.now = customer, now
        self.rng = random.Random(f"{SEED}-{customer.customer_id}")
        self.handoff: Handoff | None = None
        self.plan: SuccessPlan | None = None
        self.tasks: list[SuccessPlanTask] = []
        self.goals: list[SuccessGoal] = []
        self.milestones: list[Milestone] = []
        self.opportunities: list[Opportunity] = []

    @property
    def handed_off_at(self) -> datetime | None:
        return self.handoff.created_at if self.handoff else None

    def build_handoff(self) -> None:
        customer, rng = self.customer, self.rng
        if customer.lifecycle_stage == LifecycleStage.ONBOARDING:
            days_ago = rng.uniform(2, 30)
        elif rng.random() < 0.8:
            days_ago = rng.uniform(30, HISTORY_DAYS)
        else:
            return  # handed off before the demo's history, or never through this platform
        created = _moment(self.now, days_ago)
        manager = customer.success_manager or "sarah.smith@example.com"
        self.handoff = Handoff(
            customer=customer,
            deal_value=Decimal(int(float(customer.arr) * rng.choice((1, 2, 3)))),
            contract_terms=rng.choice(_TERMS),
            success_criteria=rng.sample(_CRITERIA, rng.randint(1, 3)),
            sales_notes=rng.choice(_NOTES),
            handed_off_by="demo-crm-sync",
            baseline_health_score=max(0, min(100, customer.health_score + rng.randint(-12, 8))),
            baseline_health_trend=rng.choice(("stable", "improving", "declining")),
            baseline_risk_level=customer.risk_level,
            baseline_adoption_rate=None
            if customer.adoption_rate is None
            else round(max(0.0, customer.adoption_rate - rng.uniform(0, 0.25)), 2),
            baseline_engagement_score=None
            if customer.engagement_score is None
            else round(max(0.0, customer.engagement_score - rng.uniform(0, 2)), 1),
            baseline_nps_score=customer.nps_score,
            baseline_arr=customer.arr,
            created_at=created,
        )
        slug = customer.name.lower().replace(" ", "")
        self.handoff.stakeholder_emails = [
            f"{name}@{slug}.example.com" for name in rng.sample(_STAKEHOLDER_NAMES, rng.randint(1, 3))
        ]
        start = (created + timedelta(days=rng.randint(0, 5))).date()
        check_in = start + timedelta(days=7)
        self.plan = SuccessPlan(
            handoff=self.handoff,
            customer=customer,
            onboarding_start=start,
            success_manager=manager,
            first_check_in=check_in,
            created_at=created,
        )
        today = self.now.date()
        for kind, title, due in (
            (PlanTaskKind.ONBOARDING_KICKOFF, "Onboarding kick-off", start),
            (PlanTaskKind.FIRST_CHECK_IN, "First check-in", check_in),
            (
                PlanTaskKind.SUCCESS_REVIEW,
                "Review the success criteria against the baseline",
                start + timedelta(days=conf.SALES_SUCCESS_REVIEW_DAYS),
            ),
        ):
            done = due < today and rng.random() < 0.9
            self.tasks.append(
                SuccessPlanTask(
                    plan=self.plan,
                    kind=kind,
                    title=title,
                    due_date=due,
                    assignee=manager,
                    status=PlanTaskStatus.DONE if done else PlanTaskStatus.OPEN,
                    completed_at=timezone.make_aware(datetime.combine(due, datetime.min.time()))
                    + timedelta(hours=15)
                    if done
                    else None,
                )
            )
        self.goals = [
            SuccessGoal(plan=self.plan, criterion=criterion) for criterion in self.handoff.success_criteria
        ]

    def _candidate_milestones(self) -> list[str]:
        customer = self.customer
        health, adoption = customer.health_score, customer.adoption_rate or 0.0
        candidates = [MilestoneKind.FIRST_VALUE_DELIVERED, MilestoneKind.BUSINESS_REVIEW_COMPLETED]
        if self.handoff is not None and customer.lifecycle_stage != LifecycleStage.ONBOARDING:
            candidates.append(MilestoneKind.ONBOARDING_COMPLETED)
        if adoption >= 0.6:
            candidates.append(MilestoneKind.ACHIEVED_ADOPTION_TARGET)
        if health >= 70:
            candidates += [MilestoneKind.ACHIEVED_ROI_TARGET, MilestoneKind.EXECUTIVE_SPONSORSHIP]
        if health >= 85:
            candidates.append(MilestoneKind.REFERENCE_PROVIDED)
        if customer.lifecycle_stage == LifecycleStage.EXPANSION:
            candidates.append(MilestoneKind.EXPANSION_REQUESTED)
        if customer.lifecycle_stage == LifecycleStage.RENEWAL:
            candidates.append(MilestoneKind.RENEWAL_SIGNED)
        return candidates

    def build_milestones(self) -> None:
        rng, health = self.rng, self.customer.health_score
        earliest = self.handed_off_at or _moment(self.now, HISTORY_DAYS)
        span = max((self.now - earliest).total_seconds() / 86400, 1.0)
        for kind in self._candidate_milestones():
            if rng.random() < health / 110:
                self.milestones.append(
                    Milestone(
                        customer=self.customer,
                        milestone=kind,
                        achieved_at=_moment(self.now, rng.uniform(0.5, span)),
                        recorded_by="demo-crm-sync",
                        created_at=self.now,
                    )
                )
        reached = {
            criterion: row
            for row in sorted(self.milestones, key=lambda row: row.achieved_at)
            for criterion in services.goal_criteria_for(row.milestone)
        }
        for goal in self.goals:
            if goal.criterion in reached:
                goal.status, goal.achieved_at = GoalStatus.ACHIEVED, reached[goal.criterion].achieved_at
                goal.milestone = reached[goal.criterion]
        if self.plan is not None and all(task.status == PlanTaskStatus.DONE for task in self.tasks):
            if all(goal.status == GoalStatus.ACHIEVED for goal in self.goals):
                self.plan.status = PlanStatus.COMPLETED

    def build_opportunities(self) -> None:
        customer, rng = self.customer, self.rng
        if customer.health_score < 45 or customer.lifecycle_stage in (
            LifecycleStage.CHURNED,
            LifecycleStage.AT_RISK,
        ):
            return
        count = rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
        if customer.lifecycle_stage == LifecycleStage.EXPANSION:
            count += 1
        share = {Segment.ENTERPRISE: 0.15, Segment.MID_MARKET: 0.25, Segment.SMALL_BUSINESS: 0.4}
        for index in range(count):
            kind = rng.choice(list(OpportunityType))
            created = _moment(self.now, rng.uniform(1, HISTORY_DAYS))
            expected = (created + timedelta(days=rng.randint(30, 270))).date()
            period = (
                _quarter_of(expected) if rng.random() < 0.7 else periods.month(expected.year, expected.month)
            )
            opportunity = Opportunity(
                opportunity_id=f"opp_demo{customer.customer_id.removeprefix(DEMO_PREFIX)}{index}",
                customer=customer,
                type=kind,
                product=rng.choice(_PRODUCTS[kind]),
                value_estimate=Decimal(
                    max(
                        1000, round(float(customer.arr) * share[customer.segment] * rng.uniform(0.5, 1.5), -2)
                    )
                ),
                probability=Decimal(str(round(rng.uniform(0.15, 0.9), 2))),
                timeline=period.label,
                timeline_start=period.start,
                timeline_end=period.end,
                created_at=created,
            )
            age = (self.now - created).days
            if age > 45 and rng.random() < 0.6:
                opportunity.status = OpportunityStatus.WON if rng.random() < 0.6 else OpportunityStatus.LOST
                opportunity.closed_at = created + timedelta(days=rng.randint(20, age))
            self.opportunities.append(opportunity)


def _live_handoffs(customers: list[Customer], now: datetime) -> int:
    """Today's handoffs of onboarding customers, through the service (events, projection)."""
    made = 0
    for customer in customers[:LIVE_HANDOFFS]:
        rng = random.Random(f"{SEED}-live-{customer.customer_id}")
        services.handoff_complete(
            customer_id=customer.customer_id,
            deal_value=Decimal(int(float(customer.arr) * 2)),
            contract_terms=rng.choice(_TERMS),
            key_stakeholders=[f"{rng.choice(_STAKEHOLDER_NAMES)}@customer.example.com"],
            success_criteria=rng.sample(_CRITERIA, 2),
            sales_notes=rng.choice(_NOTES),
            onboarding_start=now.date(),
            success_manager=customer.success_manager or "sarah.smith@example.com",
            first_check_in=now.date() + timedelta(days=7),
            handed_off_by="demo-crm-sync",
        )
        made += 1
    return made


def seed_demo_sales(**options) -> str:
    now = timezone.now()
    customers = list(Customer.objects.filter(customer_id__startswith=DEMO_PREFIX).order_by("pk"))
    with_data = (
        set(Handoff.objects.filter(customer__in=customers).values_list("customer_id", flat=True))
        | set(Milestone.objects.filter(customer__in=customers).values_list("customer_id", flat=True))
        | set(Opportunity.objects.filter(customer__in=customers).values_list("customer_id", flat=True))
    )
    fresh = [customer for customer in customers if customer.customer_id not in with_data]
    live = [c for c in fresh if c.lifecycle_stage == LifecycleStage.ONBOARDING][:LIVE_HANDOFFS]
    live_ids = {customer.customer_id for customer in live}
    demos = [_CustomerDemo(customer, now) for customer in fresh]
    for demo in demos:
        if demo.customer.customer_id not in live_ids:
            demo.build_handoff()
        demo.build_milestones()
        demo.build_opportunities()
    with transaction.atomic():
        Handoff.objects.bulk_create([d.handoff for d in demos if d.handoff], batch_size=500)
        SuccessPlan.objects.bulk_create([d.plan for d in demos if d.plan], batch_size=500)
        SuccessPlanTask.objects.bulk_create([t for d in demos for t in d.tasks], batch_size=1000)
        Milestone.objects.bulk_create([m for d in demos for m in d.milestones], batch_size=1000)
        SuccessGoal.objects.bulk_create([g for d in demos for g in d.goals], batch_size=1000)
        Opportunity.objects.bulk_create([o for d in demos for o in d.opportunities], batch_size=1000)
        made = _live_handoffs(live, now)
    announced = 0
    ids = [customer.customer_id for customer in customers]
    for start in range(0, len(ids), conf.SALES_READINESS_CHUNK_SIZE):
        outcomes = services.readiness_evaluate(
            customer_ids=ids[start : start + conf.SALES_READINESS_CHUNK_SIZE]
        )
        announced += sum(1 for outcome in outcomes if outcome.decision.announce)
    handoffs = sum(1 for d in demos if d.handoff) + made
    return (
        f"{handoffs} handoffs, {sum(len(d.milestones) for d in demos)} milestones and "
        f"{sum(len(d.opportunities) for d in demos)} opportunities added for {len(demos)} customers; "
        f"{announced} announced expansion-ready"
    )
