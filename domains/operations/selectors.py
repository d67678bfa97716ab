"""Reads of the operations domain, shared by the API, the admin, the rules and the workflow engine."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, IntegerField, Max, Prefetch, Q, QuerySet, Sum, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone

from csintegration.db import table_stamp

from . import performance
from .assignment import ManagerLoad
from .conf import conf
from .models import (
    INTERVENTION_KINDS,
    INTERVENTION_SOURCES,
    OPEN_RUN_STATUSES,
    OPEN_TASK_STATUSES,
    AutomationRule,
    CSTask,
    RunStatus,
    RunTrigger,
    SuccessManager,
    TaskStatus,
    WorkflowRun,
    WorkflowStep,
    WorkflowTemplate,
)

# --- Workflows ------------------------------------------------------------------------------------------


def template_get(*, workflow_type: str, active_only: bool = True) -> WorkflowTemplate | None:
    templates = WorkflowTemplate.objects.filter(workflow_type=workflow_type)
    if active_only:
        templates = templates.filter(is_active=True)
    return templates.prefetch_related("steps").first()


def run_list() -> QuerySet[WorkflowRun]:
    return WorkflowRun.objects.prefetch_related(
        Prefetch("steps", queryset=WorkflowStep.objects.order_by("position"))
    )


def run_get(*, run_id: str) -> WorkflowRun:
    return get_object_or_404(run_list(), run_id=run_id)


def open_run_of(*, customer_id: str, workflow_types: Iterable[str]) -> WorkflowRun | None:
    return (
        WorkflowRun.objects.filter(
            customer_id=customer_id, workflow_type__in=list(workflow_types), status__in=OPEN_RUN_STATUSES
        )
        .order_by("created_at")
        .first()
    )


# --- Rules ----------------------------------------------------------------------------------------------


def rule_list() -> QuerySet[AutomationRule]:
    """Rules with ``last_fired_at`` and ``fired_last_30_days`` (firings that matched, whatever they did)."""
    since = timezone.now() - timedelta(days=30)
    return AutomationRule.objects.annotate(
        last_fired_at=Max("firings__created_at"),
        fired_last_30_days=Count("firings", filter=Q(firings__created_at__gte=since)),
    ).order_by("position", "name")


def rule_get(*, rule_id: str) -> AutomationRule:
    return get_object_or_404(rule_list(), rule_id=rule_id)


_rules_lock = threading.Lock()
_rules_cache: tuple[tuple, dict[str, list[AutomationRule]]] | None = None


def rules_version() -> tuple:
    """Moves whenever a rule is added, changed or deleted: one small aggregate query."""
    return table_stamp(AutomationRule)


def active_rules_for(event_type: str) -> list[AutomationRule]:
    """The active rules of an event type, in order: kept per process and re-read only when
    ``rules_version`` moved, so each process sees an edit in the admin at its next event."""
    global _rules_cache
    version = rules_version()
    cached = _rules_cache
    if cached is None or cached[0] != version:
        by_type: dict[str, list[AutomationRule]] = {}
        for rule in AutomationRule.objects.filter(is_active=True).order_by("position", "name"):
            by_type.setdefault(rule.event_type, []).append(rule)
        cached = (version, by_type)
        with _rules_lock:
            _rules_cache = cached
    return list(cached[1].get(event_type, ()))


# --- The team and its tasks -----------------------------------------------------------------------------


def task_list() -> QuerySet[CSTask]:
    return CSTask.objects.select_related("assignee", "playbook")


def task_get(*, task_id: str) -> CSTask:
    return get_object_or_404(task_list(), task_id=task_id)


def active_managers() -> QuerySet[SuccessManager]:
    return SuccessManager.objects.filter(is_active=True).prefetch_related("skills").order_by("pk")


def manager_by_email(*, email: str, active_only: bool = True) -> SuccessManager | None:
    managers = SuccessManager.objects.filter(email=email.strip().lower())
    if active_only:
        managers = managers.filter(is_active=True)
    return managers.first()


def _open_at(at: datetime | None) -> Q:
    """Tasks open now, or open at ``at`` (created by then, not closed by then)."""
    if at is None:
        return Q(status__in=OPEN_TASK_STATUSES)
    return Q(created_at__lte=at) & (Q(completed_at__isnull=True) | Q(completed_at__gt=at))


def manager_loads(*, managers: Sequence[SuccessManager], at: datetime | None = None) -> list[ManagerLoad]:
    """Each manager's skills, capacity, and the effort and number of their open tasks (now, or at ``at``)."""
    ids = [manager.pk for manager in managers]
    totals = {
        row["assignee_id"]: row
        for row in CSTask.objects.filter(_open_at(at), assignee_id__in=ids)
        .values("assignee_id")
        .annotate(hours=Sum("effort_hours"), count=Count("task_id"))
    }
    return [
        ManagerLoad(
            manager_id=manager.pk,
            email=manager.email,
            skills=frozenset(skill.pk for skill in manager.skills.all()),
            capacity_hours=manager.weekly_capacity_hours,
            open_hours=float(totals.get(manager.pk, {}).get("hours") or 0.0),
            open_tasks=int(totals.get(manager.pk, {}).get("count") or 0),
        )
        for manager in managers
    ]


def customer_has_escalation_open(*, customer_id: str) -> bool:
    """Whether the customer has an open task that was escalated, or an open escalation task."""
    return CSTask.objects.filter(
        Q(escalated_at__isnull=False) | Q(kind="escalation"),
        customer_id=customer_id,
        status__in=OPEN_TASK_STATUSES,
    ).exists()


def account_team_emails(*, customer_id: str, success_manager: str) -> list[str]:
    """The customer's success manager, the assignees of its open tasks and the operations inbox."""
    assignees = CSTask.objects.filter(
        customer_id=customer_id, status__in=OPEN_TASK_STATUSES, assignee__isnull=False
    ).values_list("assignee__email", flat=True)
    addresses = [success_manager, *assignees, *conf.OPERATIONS_TEAM_EMAILS]
    return sorted({address.strip().lower() for address in addresses if address and address.strip()})


# --- Performance ----------------------------------------------------------------------------------------


def thresholds() -> performance.Thresholds:
    return performance.Thresholds(
        execution_rate=conf.OPERATIONS_TARGET_EXECUTION_RATE,
        automation_coverage=conf.OPERATIONS_TARGET_AUTOMATION_COVERAGE,
        skill_match=conf.OPERATIONS_TARGET_SKILL_MATCH,
        satisfaction=conf.OPERATIONS_TARGET_SATISFACTION,
        capacity_high=conf.OPERATIONS_CAPACITY_HIGH,
        overload_usage=conf.OPERATIONS_OVERLOAD_USAGE,
        balance_max_spread=conf.OPERATIONS_BALANCE_MAX_SPREAD,
        resolution_hours=conf.OPERATIONS_TARGET_RESOLUTION_HOURS,
        min_productivity=conf.OPERATIONS_MIN_PRODUCTIVITY,
        max_overdue_share=conf.OPERATIONS_MAX_OVERDUE_SHARE,
        max_late_intervention_share=conf.OPERATIONS_MAX_LATE_INTERVENTION_SHARE,
    )


def _managers_of_window(start: datetime, end: datetime) -> int:
    """Managers on the team in ``[start, end)``: those active who had joined by its end, and anyone who
    completed a task in it (a manager who has since left still counts where they worked)."""
    active = set(
        SuccessManager.objects.filter(is_active=True, created_at__lt=end).values_list("pk", flat=True)
    )
    worked = set(
        CSTask.objects.filter(
            status=TaskStatus.DONE, completed_at__gte=start, completed_at__lt=end, assignee__isnull=False
        ).values_list("assignee_id", flat=True)
    )
    return len(active | worked)


def performance_inputs(*, window_days: int, end: datetime | None = None) -> performance.PerformanceInputs:
    """The counts behind every performance figure for the window ``[end - window_days, end)``, and the
    team's load at ``end`` (now by default): eleven aggregate queries."""
    end = end or timezone.now()
    start = end - timedelta(days=window_days)
    previous_start = start - timedelta(days=window_days)

    finished = WorkflowRun.objects.filter(finished_at__gte=start, finished_at__lt=end).aggregate(
        completed=Count("run_id", filter=Q(status=RunStatus.COMPLETED)),
        failed=Count("run_id", filter=Q(status=RunStatus.FAILED)),
    )
    started = WorkflowRun.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        total=Count("run_id"),
        by_rules=Count("run_id", filter=Q(triggered_by=RunTrigger.RULE)),
        critical=Count("run_id", filter=Q(queue="critical")),
    )
    done = CSTask.objects.filter(status=TaskStatus.DONE, completed_at__isnull=False)
    resolved = list(
        done.filter(
            completed_at__gte=start,
            completed_at__lt=end,
            source__in=INTERVENTION_SOURCES,
            kind__in=INTERVENTION_KINDS,
        ).values_list("created_at", "completed_at")
    )
    satisfaction = done.filter(
        completed_at__gte=start, completed_at__lt=end, satisfaction__isnull=False
    ).aggregate(total=Sum("satisfaction"), count=Count("task_id"))
    done_by_managers = done.filter(assignee__isnull=False)
    tasks_done = done_by_managers.filter(completed_at__gte=start, completed_at__lt=end).count()
    tasks_done_previous = done_by_managers.filter(
        completed_at__gte=previous_start, completed_at__lt=start
    ).count()
    loads = manager_loads(managers=list(active_managers().filter(created_at__lte=end)), at=end)
    assigned = CSTask.objects.filter(
        assigned_at__gte=start, assigned_at__lt=end, required_skill__isnull=False, skill_matched__isnull=False
    ).aggregate(total=Count("task_id"), matched=Count("task_id", filter=Q(skill_matched=True)))
    open_at_end = CSTask.objects.filter(_open_at(end))
    return performance.PerformanceInputs(
        window_days=window_days,
        runs_completed=finished["completed"],
        runs_failed=finished["failed"],
        runs_started=started["total"],
        runs_started_by_rules=started["by_rules"],
        runs_started_critical=started["critical"],
        interventions_resolved=len(resolved),
        resolution_seconds_total=sum((closed - opened).total_seconds() for opened, closed in resolved),
        satisfaction_total=satisfaction["total"] or 0,
        satisfaction_count=satisfaction["count"],
        tasks_done=tasks_done,
        tasks_done_previous=tasks_done_previous,
        managers=_managers_of_window(start, end),
        managers_previous=_managers_of_window(previous_start, start),
        manager_loads=tuple((load.open_hours, load.capacity_hours) for load in loads),
        tasks_assigned_needing_skill=assigned["total"],
        tasks_assigned_skill_matched=assigned["matched"],
        open_tasks=open_at_end.count(),
        overdue_open_tasks=open_at_end.filter(due_at__lt=end).count(),
    )


def team_performance(*, window_days: int, end: datetime | None = None) -> dict[str, Any]:
    """``GET /performance``: the figures of the window ending at ``end`` (now)."""
    end = end or timezone.now()
    figures = performance.compute_performance(
        performance_inputs(window_days=window_days, end=end), thresholds()
    )
    figures["window"] = {"days": window_days, "start": end - timedelta(days=window_days), "end": end}
    return figures


# --- The customer's page in the admin -------------------------------------------------------------------

PANEL_TASKS = 10
PANEL_RUNS = 5


def customer_operations(*, customer_id: str) -> dict[str, Any]:
    """Open tasks first, then the latest closed ones; the latest runs with their steps (three queries)."""
    closed = Case(
        When(status__in=OPEN_TASK_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    tasks = list(
        task_list()
        .filter(customer_id=customer_id)
        .annotate(closed=closed)
        .order_by("closed", "-completed_at", "due_at")[:PANEL_TASKS]
    )
    runs = list(run_list().filter(customer_id=customer_id).order_by("-created_at")[:PANEL_RUNS])
    return {"tasks": tasks, "runs": runs}
