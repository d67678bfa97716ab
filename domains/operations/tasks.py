"""Celery tasks of the operations domain: one workflow step per task, and the periodic jobs (resuming
stalled steps, escalating overdue tasks, the daily performance snapshot). Each takes ids, calls a service,
and is safe to run twice."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services
from .conf import conf

logger = logging.getLogger(__name__)

#: a step's try must end well before its lease does, or another worker would take the step over
_STEP_TIME_LIMIT = max(10, int(conf.OPERATIONS_STEP_LEASE_SECONDS * 0.8))


@shared_task(
    name="operations.run_step",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=_STEP_TIME_LIMIT,
    time_limit=_STEP_TIME_LIMIT + 10,
)
def run_step(step_id: int) -> str:
    """Execute one step of a workflow run. A redelivered message finds the step done and skips it; a
    failing try is recorded in the step's row and retried by ``resume_stalled_steps`` after its backoff."""
    return services.step_execute(step_id=step_id)


@shared_task(
    name="operations.resume_stalled_steps",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    max_retries=3,
)
def resume_stalled_steps() -> int:
    """Queue again due retries, steps whose worker was lost, and queued steps whose task never ran."""
    return services.steps_resume_stalled().total


@shared_task(
    name="operations.escalate_overdue_tasks",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    max_retries=3,
)
def escalate_overdue_tasks() -> int:
    escalated = services.tasks_escalate_overdue()
    if escalated:
        logger.info("Escalated %s overdue tasks.", escalated)
    return escalated


@shared_task(
    name="operations.snapshot_performance",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    max_retries=3,
)
def snapshot_performance() -> int:
    return len(services.performance_snapshots_record())
