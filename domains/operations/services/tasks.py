"""Writes of CS tasks: creation with assignment by skill and free capacity, updates and closing, the
escalation of overdue tasks, and the first check-in after a sales handoff. Each function owns its
transaction and publishes its events in it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django_fsm import can_proceed

from csintegration.db import lock_rows, model_update
from csintegration.events import EventMessage, publish_many
from csintegration.events.services import iso_utc

from .. import events, selectors
from ..assignment import ManagerLoad, choose_assignee
from ..conf import conf
from ..models import (
    CSTask,
    Skill,
    SuccessManager,
    TaskKind,
    TaskPriority,
    TaskSource,
    TaskStatus,
    WorkflowRun,
)

#: effort (hours) of the tasks the platform creates itself, by kind
CHECK_IN_EFFORT_HOURS = 1.0
ESCALATION_EFFORT_HOURS = 2.0
#: the skill an escalation task asks for
ESCALATION_SKILL = "escalation"
ONBOARDING_SKILL = "onboarding"


@dataclass(frozen=True)
class TaskSpec:
    kind: str
    title: str
    due_at: datetime
    description: str = ""
    required_skill: str | None = None
    effort_hours: float = 1.0
    priority: str = TaskPriority.NORMAL
    #: the creator's idempotency key; a second call with the same key returns the first task
    source_key: str | None = None
    playbook_id: int | None = None


class UnknownManager(ValueError):
    """No active success manager has this address."""


class TaskTransitionNotAllowed(Exception):
    def __init__(self, current: str, wanted: str, allowed: list[str]) -> None:
        super().__init__(f"A {current} task cannot become {wanted}.")
        self.current, self.wanted, self.allowed = current, wanted, allowed


class SatisfactionNotAllowed(Exception):
    """A satisfaction score belongs to a task that is done."""


def _iso(moment: datetime) -> str:
    return iso_utc(moment)


def task_created_message(task: CSTask) -> EventMessage:
    return EventMessage(
        events.TASK_CREATED.name,
        task.customer_id,
        {
            "task_id": task.task_id,
            "kind": task.kind,
            "title": task.title,
            "assignee": task.assignee.email if task.assignee else None,
            "required_skill": task.required_skill_id,
            "skill_matched": task.skill_matched,
            "due_at": task.due_at,
            "origin": task.source,
            "run_id": task.run_id,
        },
    )


def _locked_loads() -> tuple[list[ManagerLoad], dict[int, SuccessManager]]:
    """The active managers, locked (so concurrent assignments see each other's load), with their loads."""
    managers = list(lock_rows(SuccessManager.objects.filter(is_active=True).order_by("pk")))
    # Skills are read without the lock (they are not what concurrent writers change).
    managers = list(SuccessManager.objects.filter(pk__in=[m.pk for m in managers]).prefetch_related("skills"))
    return selectors.manager_loads(managers=managers), {manager.pk: manager for manager in managers}


@transaction.atomic
def tasks_create(
    *,
    customer_id: str,
    specs: Sequence[TaskSpec],
    source: str,
    run: WorkflowRun | None = None,
    preferred_email: str | None = None,
    preferred_needs_skill: bool = True,
    exclude_manager_ids: Sequence[int] = (),
    escalation_of: CSTask | None = None,
    now: datetime | None = None,
) -> list[CSTask]:
    """Create and assign tasks for a customer; publishes ``task_created`` for each new one.

    Each task goes to a manager by ``assignment.choose_assignee``, seeing the load the tasks before it
    added. A spec whose ``source_key`` exists already returns the existing task (no second one).
    """
    now = now or timezone.now()
    keys = [spec.source_key for spec in specs if spec.source_key]
    existing = {task.source_key: task for task in CSTask.objects.filter(source_key__in=keys)} if keys else {}
    if specs and all(spec.source_key in existing for spec in specs):
        return [existing[spec.source_key] for spec in specs]
    loads, managers = _locked_loads()
    by_id = {load.manager_id: load for load in loads}
    skills = Skill.objects.in_bulk([spec.required_skill for spec in specs if spec.required_skill])
    result: list[CSTask] = []
    new: list[CSTask] = []
    for spec in specs:
        if spec.source_key in existing:
            result.append(existing[spec.source_key])
            continue
        skill = spec.required_skill if spec.required_skill in skills else None
        assignment = choose_assignee(
            list(by_id.values()),
            required_skill=skill,
            effort_hours=spec.effort_hours,
            preferred_email=preferred_email,
            preferred_needs_skill=preferred_needs_skill,
            exclude_ids=exclude_manager_ids,
        )
        if assignment.manager_id is not None:
            by_id[assignment.manager_id] = by_id[assignment.manager_id].with_task(spec.effort_hours)
        task = CSTask(
            kind=spec.kind,
            title=spec.title[:200],
            description=spec.description,
            customer_id=customer_id,
            priority=spec.priority,
            required_skill=skills.get(skill) if skill else None,
            assignee=managers.get(assignment.manager_id) if assignment.manager_id else None,
            skill_matched=assignment.skill_matched if assignment.manager_id else None,
            assigned_at=now if assignment.manager_id else None,
            effort_hours=spec.effort_hours,
            due_at=spec.due_at,
            source=source,
            run=run,
            playbook_id=spec.playbook_id,
            escalation_of=escalation_of,
            source_key=spec.source_key,
            created_at=now,
        )
        new.append(task)
        result.append(task)
    CSTask.objects.bulk_create(new)
    publish_many([task_created_message(task) for task in new])
    return result


def task_create(*, customer_id: str, spec: TaskSpec, source: str, **options: Any) -> CSTask:
    (task,) = tasks_create(customer_id=customer_id, specs=[spec], source=source, **options)
    return task


# --- Updating and closing -------------------------------------------------------------------------------

UNSET: Any = object()
#: what an edit may change besides the state, assignee and due date
EDITABLE_DETAILS = ("title", "description", "priority", "effort_hours")
_TRANSITIONS = {
    TaskStatus.IN_PROGRESS: "begin",
    TaskStatus.DONE: "complete",
    TaskStatus.CANCELLED: "cancel",
}


def _allowed_statuses(task: CSTask) -> list[str]:
    return [status for status, method in _TRANSITIONS.items() if can_proceed(getattr(task, method))]


def _resolution_message(task: CSTask, resolved_by: str | None) -> EventMessage:
    return EventMessage(
        events.ESCALATION_RESOLVED.name,
        task.customer_id,
        {"task_id": task.task_id, "kind": task.kind, "resolved_by": resolved_by},
    )


@transaction.atomic
def task_update(
    *,
    task_id: str,
    status: str | None = None,
    satisfaction: int | None = UNSET,
    assignee_email: str | None = UNSET,
    due_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    actor: str = "",
    now: datetime | None = None,
) -> CSTask:
    """Move a task to ``status`` (in_progress, done or cancelled), record the customer's satisfaction
    (1 to 5, on a task that is or becomes done), reassign it, move its due date, or edit its ``details``
    (title, description, priority, effort_hours).

    Closing publishes ``task_completed``; closing the customer's last escalated (or escalation) task
    publishes ``escalation_resolved``. Setting the status a task already has changes nothing. Raises
    ``CSTask.DoesNotExist``, ``TaskTransitionNotAllowed``, ``SatisfactionNotAllowed``, ``UnknownManager``.
    """
    now = now or timezone.now()
    task = lock_rows(CSTask.objects.filter(pk=task_id)).select_related("assignee").first()
    if task is None:
        raise CSTask.DoesNotExist(task_id)
    messages: list[EventMessage] = []
    fields: set[str] = set()
    moving = status is not None and status != task.status
    if moving:
        method = _TRANSITIONS.get(status)
        if method is None or not can_proceed(getattr(task, method)):
            raise TaskTransitionNotAllowed(task.status, status, _allowed_statuses(task))
    becomes_done = task.status == TaskStatus.DONE or status == TaskStatus.DONE
    if satisfaction is not UNSET and satisfaction is not None and not becomes_done:
        raise SatisfactionNotAllowed()
    if assignee_email is not UNSET:
        if not task.is_open:
            raise TaskTransitionNotAllowed(task.status, "reassigned", [])
        _reassign(task, assignee_email, now)
        fields |= {"assignee", "skill_matched", "assigned_at"}
    if details:
        fields |= set(model_update(instance=task, data=details, fields=EDITABLE_DETAILS, save=False))
    if due_at is not None and due_at != task.due_at:
        if not task.is_open:
            raise TaskTransitionNotAllowed(task.status, "rescheduled", [])
        task.due_at = due_at
        fields.add("due_at")
    if moving:
        if status == TaskStatus.DONE:
            task.complete(now=now, satisfaction=None if satisfaction is UNSET else satisfaction)
        elif status == TaskStatus.CANCELLED:
            task.cancel(now=now)
        else:
            task.begin()
        fields |= {"status", "completed_at", "satisfaction"}
    elif satisfaction is not UNSET and satisfaction != task.satisfaction:
        task.satisfaction = satisfaction
        fields.add("satisfaction")
    if not fields:
        return task
    task.save(update_fields=[*sorted(fields), "updated_at"])
    if moving and status in (TaskStatus.DONE, TaskStatus.CANCELLED):
        messages.append(_completed_message(task))
        was_escalation = task.escalated_at is not None or task.kind == TaskKind.ESCALATION
        if was_escalation and not selectors.customer_has_escalation_open(customer_id=task.customer_id):
            messages.append(
                _resolution_message(task, task.assignee.email if task.assignee else actor or None)
            )
    if messages:
        publish_many(messages)
    return task


def _completed_message(task: CSTask) -> EventMessage:
    return EventMessage(
        events.TASK_COMPLETED.name,
        task.customer_id,
        {
            "task_id": task.task_id,
            "kind": task.kind,
            "status": task.status,
            "assignee": task.assignee.email if task.assignee else None,
            "satisfaction": task.satisfaction,
            "resolution_hours": task.resolution_hours,
            "run_id": task.run_id,
        },
    )


def _reassign(task: CSTask, email: str | None, now: datetime) -> None:
    if email is None:
        task.assignee, task.skill_matched, task.assigned_at = None, None, None
        return
    manager = selectors.manager_by_email(email=email)
    if manager is None:
        raise UnknownManager(email)
    skills = set(manager.skills.values_list("pk", flat=True))
    task.assignee = manager
    task.skill_matched = None if task.required_skill_id is None else task.required_skill_id in skills
    task.assigned_at = now


# --- Escalation -----------------------------------------------------------------------------------------


def tasks_escalate_overdue(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Escalate open tasks past their due date, one batch per transaction; returns how many.

    Each gets ``escalated_at`` and an escalation task (skill ``escalation``, urgent, due in
    ``OPERATIONS_ESCALATION_DUE_HOURS``) for another manager where there is one, and ``task_escalated``
    is published (the customer's ``integration_status.operations`` becomes escalated). An escalation task
    does not escalate again: it is the end of the chain, shown as overdue. Safe to run concurrently.
    """
    now = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            overdue = list(
                lock_rows(
                    CSTask.objects.filter(
                        status__in=(TaskStatus.OPEN, TaskStatus.IN_PROGRESS),
                        due_at__lt=now,
                        escalated_at__isnull=True,
                    )
                    .exclude(kind=TaskKind.ESCALATION)
                    .order_by("due_at", "task_id"),
                    skip_locked=True,
                ).select_related("assignee")[:batch_size]
            )
            for task in overdue:
                _escalate(task, now)
        escalated += len(overdue)
        if len(overdue) < batch_size:
            return escalated


def _escalate(task: CSTask, now: datetime) -> None:
    task.escalated_at = now
    task.save(update_fields=["escalated_at", "updated_at"])
    hours = conf.OPERATIONS_ESCALATION_DUE_HOURS
    escalation = task_create(
        customer_id=task.customer_id,
        spec=TaskSpec(
            kind=TaskKind.ESCALATION,
            title=f"Escalation: {task.title}"[:200],
            description=f"{task.get_kind_display()} {task.task_id} was due {_iso(task.due_at)} and is still "
            f"{task.status}" + (f" (assigned to {task.assignee.email})." if task.assignee else "."),
            required_skill=ESCALATION_SKILL,
            effort_hours=ESCALATION_EFFORT_HOURS,
            priority=TaskPriority.URGENT,
            due_at=now + timedelta(hours=hours),
            source_key=f"escalation:{task.task_id}",
        ),
        source=TaskSource.ESCALATION,
        run=task.run,
        exclude_manager_ids=[task.assignee_id] if task.assignee_id else [],
        escalation_of=task,
        now=now,
    )
    publish_many(
        [
            EventMessage(
                events.TASK_ESCALATED.name,
                task.customer_id,
                {
                    "task_id": task.task_id,
                    "kind": task.kind,
                    "assignee": task.assignee.email if task.assignee else None,
                    "due_at": task.due_at,
                    "overdue_hours": round((now - task.due_at).total_seconds() / 3600, 2),
                    "escalation_task_id": escalation.task_id,
                    "escalation_assignee": escalation.assignee.email if escalation.assignee else None,
                },
            )
        ]
    )


# --- The first check-in after a sales handoff -----------------------------------------------------------


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _handoff_due(payload: dict[str, Any], now: datetime) -> datetime:
    for key in ("first_check_in", "onboarding_start"):
        value = payload.get(key)
        day = parse_date(value) if isinstance(value, str) else None
        if day is not None:
            return _end_of_day(day if key == "first_check_in" else day + timedelta(days=7))
    return now + timedelta(days=7)


def check_in_after_handoff(*, event) -> CSTask | None:
    """``handoff_completed`` → the customer's first check-in (kind ``check_in``, skill ``onboarding``),
    due at the end of the payload's ``first_check_in`` day. It goes to the handoff's ``success_manager``
    when that is an active CS manager whose free capacity covers it (skilled or not: they own the
    account), else by the assignment rule.
    Idempotent: one check-in per handoff."""
    payload = event.payload
    if not event.customer_id:
        return None
    from domains.customers.models import Customer

    if not Customer.objects.filter(pk=event.customer_id).exists():
        return None
    handoff = payload.get("handoff_id") or event.event_id
    manager = payload.get("success_manager") if isinstance(payload.get("success_manager"), str) else None
    return task_create(
        customer_id=event.customer_id,
        spec=TaskSpec(
            kind=TaskKind.CHECK_IN,
            title="First check-in after the sales handoff",
            description=f"Handoff {handoff}: onboarding starts {payload.get('onboarding_start') or 'now'}.",
            required_skill=ONBOARDING_SKILL,
            effort_hours=CHECK_IN_EFFORT_HOURS,
            priority=TaskPriority.HIGH,
            due_at=_handoff_due(payload, event.occurred_at),
            source_key=f"handoff:{handoff}"[:120],
        ),
        source=TaskSource.HANDOFF,
        preferred_email=manager,
        preferred_needs_skill=False,
    )
