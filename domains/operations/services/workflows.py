"""The workflow engine: durable runs whose steps execute one per Celery task, survive a lost worker, and
never repeat a step that succeeded.

A step's task (``operations.run_step``) runs ``step_execute`` in three short transactions:

1. **claim**: lock the step; skip it if it already succeeded (a redelivered message), if another worker
   holds a live lease on it, or if it is not due. Otherwise it becomes ``running`` with a new lease token
   and ``attempts + 1``, and the run ``running``: committed, so a crash from here on is visible.
2. **execute**: lock the step again and check the token is still ours (a worker that lost its lease is
   fenced out), run the action, mark the step ``succeeded`` with its output and hand the run on (the next
   step ``queued`` and its task enqueued after commit, or the run ``completed`` and ``workflow_completed``
   published): the action's rows, its events and the success commit together or not at all.
3. on an exception, **record the failure**: ``waiting_retry`` with a backoff (in the row, not a Celery
   countdown) or, on the last try or a ``PermanentStepError``, ``failed``: the remaining steps are skipped,
   the run fails and ``workflow_failed`` is published.

The beat job ``operations.resume_stalled_steps`` (``steps_resume_stalled``) queues again what is due or
lost: retries whose time has come, ``running`` steps whose lease expired (their worker died; PostgreSQL
released its row lock with its connection), and ``queued`` steps whose task never started.

E-mail is the one effect outside the database: it is sent inside step 2, so a crash between the send and
the commit sends it again on the next try (at least once); its ``Message-ID`` is the step's idempotency
key, the same on every try, for the receiving side to de-duplicate.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from csintegration.db import lock_rows
from csintegration.events import EventMessage, event_type_get, publish_many
from csintegration.events.types import UnknownEventType
from csintegration.tasks import enqueue_after_commit

from .. import events, selectors
from ..actions import InvalidParams, PermanentStepError, StepContext, clean_params, step_action_get
from ..conf import conf
from ..metrics import workflow_runs
from ..models import (
    DONE_STEP_STATUSES,
    OPEN_RUN_STATUSES,
    AutomationRule,
    RunStatus,
    StepStatus,
    WorkflowRun,
    WorkflowStep,
    WorkflowTemplate,
)

logger = logging.getLogger(__name__)

RUN_STEP_TASK = "operations.run_step"
CRITICAL_QUEUE = "critical"
DEFAULT_QUEUE = "default"
MAX_STEPS = 20


class UnknownWorkflowType(ValueError):
    """No active workflow template has this type."""


class UnknownStep(ValueError):
    def __init__(self, index: int, name: str, reason: str) -> None:
        super().__init__(reason)
        self.index, self.name, self.reason = index, name, reason


class InvalidStepParams(ValueError):
    def __init__(self, index: int, name: str, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {value}" for key, value in errors.items()))
        self.index, self.name, self.errors = index, name, errors


class RunAlreadyOpen(Exception):
    """A rule's run of this type is open for the customer (the partial unique index said so)."""


class RunNotResumable(Exception):
    """Only a failed run can be resumed."""


# --- Planning and starting a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedStep:
    name: str
    params: dict[str, Any]
    max_attempts: int
    #: why the step will not run (its app is absent), or None
    skip_reason: str | None = None


def _check_params(index: int, name: str, params: dict[str, Any], workflow_type: str) -> dict[str, Any]:
    action = step_action_get(name)
    try:
        cleaned = clean_params(action, params)
    except InvalidParams as invalid:
        raise InvalidStepParams(index, name, invalid.errors) from None
    problem = action.check(cleaned, workflow_type) if action.check else None
    if problem:
        raise InvalidStepParams(index, name, {"params": problem})
    return _json_ready(cleaned)


def workflow_plan(
    *,
    template: WorkflowTemplate,
    step_names: Sequence[str] | None = None,
    param_overrides: dict[str, dict[str, Any]] | None = None,
) -> list[PlannedStep]:
    """The steps a run of ``template`` will have: the named ones (each with the parameters of the
    template's step of the same action, if any), else the template's own. A named step that is unknown or
    whose app is absent is ``UnknownStep``; a template step whose app is absent is planned as skipped."""
    defaults = conf.OPERATIONS_STEP_MAX_ATTEMPTS
    template_steps = sorted(template.steps.all(), key=lambda step: step.position)
    overrides = param_overrides or {}
    planned: list[PlannedStep] = []
    if step_names is not None:
        by_action = {}
        for step in template_steps:
            by_action.setdefault(step.action, step)
        for index, name in enumerate(step_names):
            action = step_action_get(name)
            if action is None:
                raise UnknownStep(index, name, f"Unknown step {name!r}.")
            if not action.is_available():
                raise UnknownStep(index, name, f"Step {name!r} is not available: the app it needs is absent.")
            source = by_action.get(name)
            params = {**(source.params if source else {}), **overrides.get(name, {})}
            planned.append(
                PlannedStep(
                    name=name,
                    params=_check_params(index, name, params, template.workflow_type),
                    max_attempts=(source.max_attempts if source and source.max_attempts else defaults),
                )
            )
        return planned
    for index, step in enumerate(template_steps):
        action = step_action_get(step.action)
        if action is None or not action.is_available():
            reason = "unknown_action" if action is None else "app_absent"
            planned.append(PlannedStep(step.action, step.params, defaults, skip_reason=reason))
            continue
        params = {**step.params, **overrides.get(step.action, {})}
        planned.append(
            PlannedStep(
                name=step.action,
                params=_check_params(index, step.action, params, template.workflow_type),
                max_attempts=step.max_attempts or defaults,
            )
        )
    return planned


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _queue_for(template: WorkflowTemplate, trigger_event_type: str | None) -> str:
    critical = template.critical
    if trigger_event_type:
        try:
            critical = critical or event_type_get(trigger_event_type).critical
        except UnknownEventType:
            pass
    return CRITICAL_QUEUE if critical else DEFAULT_QUEUE


@transaction.atomic
def workflow_run_start(
    *,
    customer_id: str,
    workflow_type: str,
    triggered_by: str,
    step_names: Sequence[str] | None = None,
    trigger_conditions: dict[str, Any] | None = None,
    rule: AutomationRule | None = None,
    trigger_event_id: str = "",
    trigger_event_type: str | None = None,
    requested_by: str = "",
    exclusive: bool = False,
    param_overrides: dict[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> WorkflowRun:
    """Create a run and its steps, and queue its first step (its task is enqueued after commit).

    Raises ``UnknownWorkflowType``, ``UnknownStep``, ``InvalidStepParams``, ``Customer.DoesNotExist``, and
    ``RunAlreadyOpen`` for an ``exclusive`` (rule) run while another of its type is open.
    """
    from domains.customers.models import Customer

    now = now or timezone.now()
    template = selectors.template_get(workflow_type=workflow_type)
    if template is None:
        raise UnknownWorkflowType(workflow_type)
    if not Customer.objects.filter(pk=customer_id).exists():
        raise Customer.DoesNotExist(customer_id)
    planned = workflow_plan(template=template, step_names=step_names, param_overrides=param_overrides)
    run = WorkflowRun(
        workflow_type=workflow_type,
        template=template,
        customer_id=customer_id,
        triggered_by=triggered_by,
        rule=rule,
        trigger_event_id=trigger_event_id,
        trigger_conditions=_json_ready(trigger_conditions or {}),
        requested_by=requested_by[:150],
        queue=_queue_for(template, trigger_event_type),
        exclusive=exclusive,
        created_at=now,
    )
    try:
        with transaction.atomic():
            run.save(force_insert=True)
    except IntegrityError:
        raise RunAlreadyOpen(customer_id, workflow_type) from None
    steps = [
        WorkflowStep(
            run=run,
            position=position,
            name=step.name,
            params=step.params,
            idempotency_key=f"{run.run_id}:{position}",
            max_attempts=step.max_attempts,
            status=StepStatus.SKIPPED if step.skip_reason else StepStatus.PENDING,
            output={"skipped": step.skip_reason} if step.skip_reason else None,
            finished_at=now if step.skip_reason else None,
        )
        for position, step in enumerate(planned)
    ]
    WorkflowStep.objects.bulk_create(steps)
    _advance(run, steps, now)
    return run


# --- Handing a run on -----------------------------------------------------------------------------------


def _step_statuses(steps: Sequence[WorkflowStep]) -> list[dict[str, str]]:
    return [{"name": step.name, "status": step.status} for step in sorted(steps, key=lambda s: s.position)]


def _run_message(event_type: str, run: WorkflowRun, steps: Sequence[WorkflowStep]) -> EventMessage:
    duration = (
        (run.finished_at - (run.started_at or run.created_at)).total_seconds() if run.finished_at else 0
    )
    return EventMessage(
        event_type,
        run.customer_id,
        {
            "run_id": run.run_id,
            "workflow_type": run.workflow_type,
            "status": run.status,
            "triggered_by": run.triggered_by,
            "steps": _step_statuses(steps),
            "error": run.error or None,
            "duration_seconds": round(duration, 3),
        },
    )


def _enqueue(step: WorkflowStep, queue: str) -> None:
    enqueue_after_commit(RUN_STEP_TASK, args=(step.pk,), queue=queue)


def _advance(run: WorkflowRun, steps: Sequence[WorkflowStep], now: datetime) -> None:
    """Queue the next pending step, or complete the run when none is left."""
    pending = sorted((s for s in steps if s.status == StepStatus.PENDING), key=lambda s: s.position)
    if pending:
        step = pending[0]
        step.enqueue(now=now)
        step.save(update_fields=["status", "queued_at"])
        _enqueue(step, run.queue)
        return
    run.complete(now=now)
    run.save(update_fields=["status", "started_at", "finished_at", "error", "updated_at"])
    publish_many([_run_message(events.WORKFLOW_COMPLETED.name, run, steps)])
    transaction.on_commit(lambda: workflow_runs.labels(run.workflow_type, "completed").inc())


def _fail_run(run: WorkflowRun, steps: Sequence[WorkflowStep], failed: WorkflowStep, now: datetime) -> None:
    for step in steps:
        if step.pk != failed.pk and step.status in (
            StepStatus.PENDING,
            StepStatus.QUEUED,
            StepStatus.WAITING_RETRY,
        ):
            step.skip(now=now, reason="run_failed")
            step.save(update_fields=["status", "finished_at", "output"])
    run.fail(now=now, error=f"{failed.name}: {failed.error}")
    run.save(update_fields=["status", "finished_at", "error", "updated_at"])
    publish_many([_run_message(events.WORKFLOW_FAILED.name, run, steps)])
    transaction.on_commit(lambda: workflow_runs.labels(run.workflow_type, "failed").inc())


# --- Executing one step ---------------------------------------------------------------------------------


class _LeaseLost(Exception):
    pass


#: the columns a claim and the end of a try write (not the step's input)
CLAIM_FIELDS = [
    "status",
    "attempts",
    "started_at",
    "lease_token",
    "lease_expires_at",
    "next_attempt_at",
    "attempt_log",
]
CLOSE_FIELDS = ["status", "lease_token", "lease_expires_at", "finished_at", "output", "error", "attempt_log"]


def retry_delay(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: doubling from OPERATIONS_STEP_RETRY_BASE_SECONDS, ±20 %."""
    base = conf.OPERATIONS_STEP_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(base, conf.OPERATIONS_STEP_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)


def _locked_step(step_id: int) -> WorkflowStep | None:
    return lock_rows(WorkflowStep.objects.filter(pk=step_id)).first()


def _locked_run(run_id: str) -> WorkflowRun:
    return lock_rows(WorkflowRun.objects.filter(pk=run_id)).get()


def _claim(step_id: int, now: datetime) -> tuple[WorkflowStep, WorkflowRun, str] | str:
    with transaction.atomic():
        step = _locked_step(step_id)
        if step is None:
            return "gone"
        if step.status in DONE_STEP_STATUSES:
            return "already_done"
        if step.status == StepStatus.RUNNING and step.lease_expires_at and step.lease_expires_at > now:
            return "busy"
        if step.status not in (StepStatus.QUEUED, StepStatus.RUNNING):
            return f"not_due:{step.status}"
        run = _locked_run(step.run_id)
        if run.status not in OPEN_RUN_STATUSES:
            return f"run_{run.status}"
        token = uuid.uuid4().hex
        step.claim(now=now, token=token, lease_seconds=conf.OPERATIONS_STEP_LEASE_SECONDS)
        step.save(update_fields=CLAIM_FIELDS)
        if run.status == RunStatus.QUEUED:
            run.start(now=now)
            run.save(update_fields=["status", "started_at", "updated_at"])
    return step, run, token


def _execute(step: WorkflowStep, run: WorkflowRun, token: str) -> None:
    from domains.customers.models import Customer

    customer = Customer.objects.filter(pk=run.customer_id).first()
    with transaction.atomic():
        locked = _locked_step(step.pk)
        if locked is None or locked.status != StepStatus.RUNNING or locked.lease_token != token:
            raise _LeaseLost()
        run = _locked_run(run.run_id)
        action = step_action_get(locked.name)
        if action is None or not action.is_available():
            raise PermanentStepError(f"Step action {locked.name!r} is not available.")
        try:
            params = clean_params(action, locked.params)
        except InvalidParams as invalid:
            raise PermanentStepError(f"Invalid parameters: {invalid}") from None
        context = StepContext(run=run, step=locked, customer=customer, now=timezone.now())
        output = _json_ready(action.run(context, params) or {})
        now = timezone.now()
        locked.succeed(now=now, output=output)
        locked.save(update_fields=CLOSE_FIELDS)
        steps = [locked if s.pk == locked.pk else s for s in run.steps.order_by("position")]
        _advance(run, steps, now)


def _record_failure(step_id: int, token: str, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:4000]
    now = timezone.now()
    with transaction.atomic():
        step = _locked_step(step_id)
        if step is None or step.status != StepStatus.RUNNING or step.lease_token != token:
            return "lease_lost"
        run = _locked_run(step.run_id)
        if isinstance(exc, PermanentStepError) or step.attempts >= step.max_attempts:
            step.fail(now=now, error=error)
            step.save(update_fields=CLOSE_FIELDS)
            steps = [step if s.pk == step.pk else s for s in run.steps.order_by("position")]
            _fail_run(run, steps, step, now)
            logger.warning("Step %s of %s failed for good: %s", step.name, run.run_id, error)
            return "failed"
        retry_at = now + timedelta(seconds=retry_delay(step.attempts))
        step.schedule_retry(now=now, error=error, retry_at=retry_at)
        step.save(update_fields=[*CLOSE_FIELDS, "next_attempt_at"])
    logger.info(
        "Step %s of %s failed (try %s), retried at %s: %s",
        step.name,
        run.run_id,
        step.attempts,
        retry_at,
        error,
    )
    return "retry"


def step_execute(*, step_id: int) -> str:
    """Run one step (see the module's docstring); safe to call twice or concurrently for the same step.

    Returns what happened: ``succeeded``, ``retry``, ``failed``, or why nothing was done
    (``already_done``, ``busy``, ``gone``, ``lease_lost``, ``not_due:…``, ``run_…``).
    """
    claimed = _claim(step_id, timezone.now())
    if isinstance(claimed, str):
        return claimed
    step, run, token = claimed
    try:
        _execute(step, run, token)
    except _LeaseLost:
        return "lease_lost"
    except Exception as exc:
        return _record_failure(step.pk, token, exc)
    return "succeeded"


# --- Recovering stalled steps ---------------------------------------------------------------------------


@dataclass
class ResumeStats:
    retries: int = 0
    lost: int = 0
    unqueued: int = 0
    step_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.retries + self.lost + self.unqueued


def steps_resume_stalled(*, now: datetime | None = None, batch_size: int | None = None) -> ResumeStats:
    """Queue again the steps that are due or were lost, one batch of each kind (see the module's
    docstring). Concurrent runs skip each other's rows; a step whose worker is alive mid-step holds its
    row lock and is skipped too."""
    now = now or timezone.now()
    batch_size = batch_size or conf.OPERATIONS_DISPATCH_BATCH_SIZE
    queue_lease = timedelta(seconds=conf.OPERATIONS_QUEUE_LEASE_SECONDS)
    stats = ResumeStats()
    kinds = (
        ("retries", {"status": StepStatus.WAITING_RETRY, "next_attempt_at__lte": now}),
        ("lost", {"status": StepStatus.RUNNING, "lease_expires_at__lt": now}),
        ("unqueued", {"status": StepStatus.QUEUED, "queued_at__lt": now - queue_lease}),
    )
    with transaction.atomic():
        for kind, lookup in kinds:
            steps = list(
                lock_rows(
                    WorkflowStep.objects.filter(**lookup).order_by("pk"), skip_locked=True
                ).select_related("run")[:batch_size]
            )
            for step in steps:
                step.requeue(now=now)
                step.save(update_fields=["status", "queued_at", "next_attempt_at", "lease_expires_at"])
                _enqueue(step, step.run.queue)
                stats.step_ids.append(step.pk)
            setattr(stats, kind, len(steps))
    if stats.total:
        logger.info(
            "Resumed steps: %s due retries, %s lost, %s never started.",
            stats.retries,
            stats.lost,
            stats.unqueued,
        )
    return stats


@transaction.atomic
def workflow_run_resume(*, run_id: str, now: datetime | None = None) -> WorkflowRun:
    """An operator resumes a failed run: its failed step gets a fresh budget of tries and the steps the
    failure skipped run after it. Raises ``WorkflowRun.DoesNotExist``, ``RunNotResumable``."""
    now = now or timezone.now()
    steps = list(lock_rows(WorkflowStep.objects.filter(run_id=run_id).order_by("position")))
    run = lock_rows(WorkflowRun.objects.filter(pk=run_id)).first()
    if run is None:
        raise WorkflowRun.DoesNotExist(run_id)
    failed = next((step for step in steps if step.status == StepStatus.FAILED), None)
    if run.status != RunStatus.FAILED or failed is None:
        raise RunNotResumable(run_id)
    for step in steps:
        if step.status == StepStatus.SKIPPED and (step.output or {}).get("skipped") == "run_failed":
            step.unskip()
            step.save(update_fields=["status", "finished_at", "output"])
    failed.retry_again(now=now, extra_attempts=conf.OPERATIONS_STEP_MAX_ATTEMPTS)
    failed.save(update_fields=["status", "max_attempts", "queued_at", "finished_at"])
    run.resume()
    run.save(update_fields=["status", "finished_at", "error", "updated_at"])
    _enqueue(failed, run.queue)
    return run
