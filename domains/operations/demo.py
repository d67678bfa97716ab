"""Demo data of the operations domain for ``seed_demo``: a CS team of eight, and 90 days of history for the
demo customers: workflow runs (most started by rules) with their steps, the tasks they created, assigned
by the same rule as in production, closed with satisfaction scores or still open, overdue ones escalated,
the first check-ins of sales handoffs, rule firings, and a daily performance snapshot computed from it
all. Idempotent: the team is created once, the history once (ids ``run_demo…``, ``task_demo…``)."""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from .assignment import ManagerLoad, choose_assignee
from .models import (
    AutomationRule,
    CSTask,
    FiringOutcome,
    Playbook,
    RuleFiring,
    SuccessManager,
    WorkflowRun,
    WorkflowStep,
    WorkflowTemplate,
)
from .services import team as team_services

DEMO_RUN_PREFIX = "run_demo"
DEMO_TASK_PREFIX = "task_demo"
DAYS = 90
RUNS_PER_DAY = 5
HANDOFFS_PER_DAY = 0.7

#: (e-mail, first, last, skills, weekly capacity): the first four are the demo customers' managers
TEAM = (
    ("sarah.smith@example.com", "Sarah", "Smith", ("health_recovery", "onboarding", "adoption_training"), 32),
    ("li.wei@example.com", "Li", "Wei", ("executive_relations", "escalation", "renewals"), 30),
    ("omar.haddad@example.com", "Omar", "Haddad", ("technical", "adoption_training", "escalation"), 28),
    ("ana.costa@example.com", "Ana", "Costa", ("renewals", "health_recovery"), 30),
    ("jonas.berg@example.com", "Jonas", "Berg", ("onboarding", "technical"), 36),
    ("priya.nair@example.com", "Priya", "Nair", ("health_recovery", "executive_relations"), 24),
    ("mateo.rossi@example.com", "Mateo", "Rossi", ("escalation", "renewals", "onboarding"), 30),
    ("chloe.martin@example.com", "Chloe", "Martin", ("adoption_training",), 20),
)
#: workflow type → (weight, share started by a rule)
RUN_MIX = {
    "health_decline_intervention": (45, 0.85),
    "churn_risk_response": (12, 0.9),
    "onboarding_kickoff": (23, 0.95),
    "renewal_preparation": (20, 0.6),
}
RULE_OF = {
    "health_decline_intervention": "rule_default_health_drop",
    "churn_risk_response": "rule_default_churn_risk",
    "onboarding_kickoff": "rule_default_onboarding",
    "renewal_preparation": "rule_default_renewal",
}
FAILURES = (
    "SMTPServerDisconnected: Connection unexpectedly closed",
    "OperationalError: could not connect to server: Connection refused",
    "TimeoutError: the mail relay did not answer within 30 s",
)


def seed_team() -> list[SuccessManager]:
    managers = []
    for email, first, last, skills, capacity in TEAM:
        manager = SuccessManager.objects.filter(email=email).first()
        if manager is None:
            manager = team_services.manager_create(
                email=email, skills=skills, weekly_capacity_hours=capacity, first_name=first, last_name=last
            )
        managers.append(manager)
    return managers


@dataclass
class _Team:
    """The managers' load as the history unfolds: tasks are released when they close."""

    managers: list[SuccessManager]
    loads: dict[int, ManagerLoad] = field(default_factory=dict)
    releases: list[tuple[datetime, int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for manager in self.managers:
            skills = frozenset(skill.pk for skill in manager.skills.all())
            self.loads[manager.pk] = ManagerLoad(
                manager.pk, manager.email, skills, manager.weekly_capacity_hours
            )

    def advance(self, moment: datetime) -> None:
        while self.releases and self.releases[0][0] <= moment:
            _, manager_id, effort = heapq.heappop(self.releases)
            load = self.loads[manager_id]
            self.loads[manager_id] = ManagerLoad(
                load.manager_id,
                load.email,
                load.skills,
                load.capacity_hours,
                max(0.0, load.open_hours - effort),
                max(0, load.open_tasks - 1),
            )

    def assign(self, *, skill, effort, preferred, needs_skill=True, exclude=()):
        chosen = choose_assignee(
            list(self.loads.values()),
            required_skill=skill,
            effort_hours=effort,
            preferred_email=preferred,
            preferred_needs_skill=needs_skill,
            exclude_ids=exclude,
        )
        if chosen.manager_id is not None:
            self.loads[chosen.manager_id] = self.loads[chosen.manager_id].with_task(effort)
        return chosen

    def hold_until(self, moment: datetime | None, manager_id: int | None, effort: float) -> None:
        if manager_id is not None and moment is not None:
            heapq.heappush(self.releases, (moment, manager_id, effort))


class _History:
    def __init__(self, *, customers, managers, now: datetime, seed: int = 20261202) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.team = _Team(managers)
        self.by_id = {manager.pk: manager for manager in managers}
        self.customers = customers
        self.templates = {
            template.workflow_type: sorted(template.steps.all(), key=lambda step: step.position)
            for template in WorkflowTemplate.objects.prefetch_related("steps")
        }
        self.playbooks = {
            playbook.key: list(playbook.tasks.order_by("position"))
            for playbook in Playbook.objects.prefetch_related("tasks")
        }
        self.rules = {rule.pk: rule for rule in AutomationRule.objects.all()}
        self.runs: list[WorkflowRun] = []
        self.steps: list[WorkflowStep] = []
        self.tasks: list[CSTask] = []
        self.firings: list[RuleFiring] = []
        self.task_number = 0

    # --- Picking -------------------------------------------------------------------------------------

    def _customer_for(self, workflow_type: str):
        wanted = {
            "health_decline_intervention": lambda c: c.risk_level in ("medium", "high"),
            "churn_risk_response": lambda c: c.risk_level in ("high", "critical"),
            "onboarding_kickoff": lambda c: c.lifecycle_stage == "onboarding",
            "renewal_preparation": lambda c: c.lifecycle_stage == "renewal",
        }[workflow_type]
        pool = [customer for customer in self.customers if wanted(customer)] or self.customers
        return self.rng.choice(pool)

    def _hours(self, median: float, spread: float) -> float:
        return max(0.3, self.rng.lognormvariate(math.log(median), spread))

    def _satisfaction(self) -> int | None:
        if self.rng.random() > 0.7:
            return None
        return self.rng.choices((5, 4, 3, 2, 1), weights=(45, 35, 12, 5, 3))[0]

    # --- Tasks ----------------------------------------------------------------------------------------

    def _task(
        self,
        customer,
        *,
        kind,
        title,
        created,
        due,
        skill,
        effort,
        priority,
        source,
        run=None,
        playbook_id=None,
        preferred=None,
        needs_skill=True,
        resolution_hours=None,
        escalation_of=None,
        exclude=(),
    ) -> CSTask:
        self.team.advance(created)
        chosen = self.team.assign(
            skill=skill,
            effort=effort,
            preferred=preferred or customer.success_manager,
            needs_skill=needs_skill,
            exclude=exclude,
        )
        self.task_number += 1
        closes = created + timedelta(hours=resolution_hours if resolution_hours is not None else 24)
        cancelled = self.rng.random() < 0.04
        if closes > self.now:
            status, completed = ("in_progress" if self.rng.random() < 0.4 else "open"), None
        else:
            status, completed = ("cancelled" if cancelled else "done"), closes
        task = CSTask(
            task_id=f"{DEMO_TASK_PREFIX}{self.task_number:06d}",
            kind=kind,
            title=title,
            customer_id=customer.customer_id,
            priority=priority,
            required_skill_id=skill,
            assignee=self.by_id.get(chosen.manager_id),
            skill_matched=chosen.skill_matched if chosen.manager_id else None,
            assigned_at=created if chosen.manager_id else None,
            effort_hours=effort,
            due_at=due,
            status=status,
            source=source,
            run=run,
            playbook_id=playbook_id,
            escalation_of=escalation_of,
            created_at=created,
            completed_at=completed,
            satisfaction=self._satisfaction() if status == "done" else None,
        )
        self.team.hold_until(completed or self.now + timedelta(days=365), chosen.manager_id, effort)
        self.tasks.append(task)
        if task.status in ("open", "in_progress") and due < self.now and kind != "escalation":
            self._escalate(task, customer)
        return task

    def _escalate(self, task: CSTask, customer) -> None:
        task.escalated_at = task.due_at + timedelta(minutes=self.rng.randint(1, 5))
        self._task(
            customer,
            kind="escalation",
            title=f"Escalation: {task.title}"[:200],
            created=task.escalated_at,
            due=task.escalated_at + timedelta(hours=24),
            skill="escalation",
            effort=2.0,
            priority="urgent",
            source="escalation",
            run=task.run,
            resolution_hours=self._hours(10, 0.6),
            escalation_of=task,
            exclude=[task.assignee_id] if task.assignee_id else (),
        )

    # --- Runs -----------------------------------------------------------------------------------------

    def _step_output(self, run, step_index, action, params, customer, moment) -> dict[str, Any]:
        if action in ("send_immediate_alert", "notify_account_team"):
            recipients = [customer.success_manager] if customer.success_manager else []
            return {"recipients": recipients, "message_id": f"<{run.run_id}.{step_index}@localhost>"}
        if action == "schedule_priority_check_in":
            due = moment + timedelta(hours=params.get("due_in_hours", 24))
            task = self._task(
                customer,
                kind="check_in",
                title=params.get("title", "Priority check-in"),
                created=moment,
                due=due,
                skill=params.get("required_skill"),
                effort=1.0,
                priority=params.get("priority", "high"),
                source="workflow",
                run=run,
                resolution_hours=self._hours(6, 0.8),
            )
            return {"task_id": task.task_id, "assignee": task.assignee.email if task.assignee else None}
        if action == "deploy_success_playbook":
            key = params.get("playbook") or run.workflow_type
            created = []
            for item in self.playbooks.get(key, []):
                task = self._task(
                    customer,
                    kind="playbook_task",
                    title=item.title,
                    created=moment,
                    due=moment + timedelta(days=item.due_in_days),
                    skill=item.required_skill_id,
                    effort=item.effort_hours,
                    priority=item.priority,
                    source="workflow",
                    run=run,
                    playbook_id=item.playbook_id,
                    resolution_hours=item.due_in_days * 24 * self.rng.uniform(0.25, 1.15),
                )
                created.append(
                    {"task_id": task.task_id, "assignee": task.assignee.email if task.assignee else None}
                )
            return {"playbook": key, "tasks": created}
        return {}

    def run(self, number: int, moment: datetime) -> None:
        names = list(RUN_MIX)
        workflow_type = self.rng.choices(names, weights=[RUN_MIX[name][0] for name in names])[0]
        customer = self._customer_for(workflow_type)
        by_rule = self.rng.random() < RUN_MIX[workflow_type][1]
        rule = self.rules.get(RULE_OF[workflow_type]) if by_rule else None
        conditions = {
            "health_decline_intervention": {"health_score_drop": self.rng.randint(20, 38)},
            "churn_risk_response": {"risk_level": self.rng.choice(("high", "high", "critical"))},
        }.get(workflow_type, {})
        fails = self.rng.random() < 0.05
        run = WorkflowRun(
            run_id=f"{DEMO_RUN_PREFIX}{number:05d}",
            workflow_type=workflow_type,
            customer_id=customer.customer_id,
            status="failed" if fails else "completed",
            triggered_by="rule" if rule else self.rng.choice(("api", "api", "api", "admin")),
            rule=rule,
            trigger_event_id=f"evt_demo{number:06d}" if rule else "",
            trigger_conditions=conditions,
            requested_by=f"rule:{rule.name}" if rule else "demo-integration-client",
            queue="critical" if workflow_type == "churn_risk_response" else "default",
            created_at=moment,
            started_at=moment + timedelta(milliseconds=self.rng.randint(20, 400)),
        )
        template_steps = self.templates.get(workflow_type, [])
        failing_at = self.rng.randrange(len(template_steps)) if fails and template_steps else None
        clock = run.started_at
        for index, template_step in enumerate(template_steps):
            step = WorkflowStep(
                run=run,
                position=index,
                name=template_step.action,
                params=template_step.params,
                idempotency_key=f"{run.run_id}:{index}",
                max_attempts=4,
            )
            if template_step.action in ("trigger_campaign", "move_journey_stage"):
                step = self._skipped(step, clock, "app_absent")
            elif failing_at is not None and index > failing_at:
                step = self._skipped(step, clock, "run_failed")
            else:
                tries = 4 if index == failing_at else (2 if self.rng.random() < 0.04 else 1)
                log, started = [], clock
                for attempt in range(1, tries + 1):
                    finished = clock + timedelta(milliseconds=self.rng.randint(40, 1800))
                    last = attempt == tries and index != failing_at
                    error = "" if last else self.rng.choice(FAILURES)
                    log.append(
                        {
                            "attempt": attempt,
                            "started_at": clock.isoformat(),
                            "finished_at": finished.isoformat(),
                            "outcome": "succeeded" if last else "failed",
                            "error": error,
                        }
                    )
                    clock = finished + (
                        timedelta(seconds=30 * 2 ** (attempt - 1)) if not last else timedelta()
                    )
                output = (
                    None
                    if index == failing_at
                    else self._step_output(
                        run, index, template_step.action, template_step.params, customer, clock
                    )
                )
                step = WorkflowStep(
                    run=run,
                    position=index,
                    name=template_step.action,
                    params=template_step.params,
                    idempotency_key=f"{run.run_id}:{index}",
                    max_attempts=4,
                    status="failed" if index == failing_at else "succeeded",
                    attempts=tries,
                    started_at=started,
                    finished_at=clock,
                    output=output,
                    error=log[-1]["error"] if index == failing_at else "",
                    attempt_log=log,
                )
                if index == failing_at:
                    run.error = f"{step.name}: {step.error}"
            self.steps.append(step)
        run.finished_at = clock
        self.runs.append(run)
        if rule:
            self.firings.append(
                RuleFiring(
                    rule=rule,
                    event_id=run.trigger_event_id,
                    event_type=rule.event_type,
                    customer_id=customer.customer_id,
                    outcome=FiringOutcome.STARTED_RUN,
                    run=run,
                    detail={"measured": conditions},
                    created_at=moment,
                )
            )
            if self.rng.random() < 0.12:  # the same customer again while the run was open
                self.firings.append(
                    RuleFiring(
                        rule=rule,
                        event_id=f"evt_demo{number:06d}b",
                        event_type=rule.event_type,
                        customer_id=customer.customer_id,
                        outcome=FiringOutcome.SUPPRESSED,
                        detail={"open_run_id": run.run_id},
                        created_at=moment + timedelta(seconds=20),
                    )
                )

    def _skipped(self, step: WorkflowStep, moment: datetime, reason: str) -> WorkflowStep:
        return WorkflowStep(
            run=step.run,
            position=step.position,
            name=step.name,
            params=step.params,
            idempotency_key=step.idempotency_key,
            max_attempts=4,
            status="skipped",
            finished_at=moment,
            output={"skipped": reason},
        )

    def handoff(self, moment: datetime) -> None:
        onboarding = [c for c in self.customers if c.lifecycle_stage == "onboarding"] or self.customers
        customer = self.rng.choice(onboarding)
        due_day = (moment + timedelta(days=7)).date()
        self._task(
            customer,
            kind="check_in",
            title="First check-in after the sales handoff",
            created=moment,
            due=datetime.combine(due_day, time(23, 59, 59), tzinfo=moment.tzinfo),
            skill="onboarding",
            effort=1.0,
            priority="high",
            source="handoff",
            needs_skill=False,
            resolution_hours=self._hours(90, 0.5),
        )

    def build(self) -> None:
        start = self.now - timedelta(days=DAYS)
        number = 0
        for day in range(DAYS):
            base = start + timedelta(days=day)
            weekday = base.weekday() < 5
            count = max(0, round(self.rng.gauss(RUNS_PER_DAY * (1.15 if weekday else 0.5), 1.5)))
            moments = sorted(base + timedelta(seconds=self.rng.randint(0, 86399)) for _ in range(count))
            for moment in moments:
                if moment >= self.now - timedelta(minutes=5):
                    continue
                number += 1
                self.run(number, moment)
            if self.rng.random() < HANDOFFS_PER_DAY:
                self.handoff(base + timedelta(hours=self.rng.uniform(8, 18)))


def seed_demo_operations(**options) -> str:
    from domains.customers.models import Customer

    managers = seed_team()
    if WorkflowRun.objects.filter(run_id__startswith=DEMO_RUN_PREFIX).exists():
        return f"{len(managers)} managers; history already there"
    customers = list(Customer.objects.filter(customer_id__startswith="cust_demo").order_by("pk"))
    if not customers:
        return f"{len(managers)} managers; no demo customers to give a history"
    now = timezone.now()
    managers = list(SuccessManager.objects.filter(pk__in=[m.pk for m in managers]).prefetch_related("skills"))
    history = _History(customers=customers, managers=managers, now=now)
    history.build()
    WorkflowRun.objects.bulk_create(history.runs, batch_size=500)
    WorkflowStep.objects.bulk_create(history.steps, batch_size=1000)
    # Escalation tasks point at the task they escalate: the overdue ones first.
    tasks = sorted(history.tasks, key=lambda task: task.escalation_of is not None)
    CSTask.objects.bulk_create(tasks, batch_size=1000)
    RuleFiring.objects.bulk_create(history.firings, batch_size=1000)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(DAYS):
        team_services.performance_snapshots_record(as_of=midnight - timedelta(days=day))
    return (
        f"{len(managers)} managers, {len(history.runs)} workflow runs, {len(history.tasks)} tasks, "
        f"{len(history.firings)} rule firings and {DAYS} days of performance snapshots"
    )
