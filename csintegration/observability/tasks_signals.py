"""Celery signals: the request id travels in a header of every task a request enqueues; a worker binds
it (with the task's id and name) for the task's log lines, and writes one line per task."""

from __future__ import annotations

import time

import structlog
from celery.signals import before_task_publish, task_postrun, task_prerun

from csintegration.api.middleware import current_request_id

HEADER = "csi_request_id"
logger = structlog.get_logger("csintegration.task")
#: per running task: when it started, and the context of the thread before it (an eager task runs in
#: the caller's thread, whose request context must survive it)
_running: dict[str, tuple[float, dict]] = {}


@before_task_publish.connect(weak=False)
def _carry_request_id(headers=None, **kwargs) -> None:
    request_id = structlog.contextvars.get_contextvars().get("request_id") or current_request_id.get()
    if headers is not None and request_id and request_id != "-" and HEADER not in headers:
        headers[HEADER] = request_id


@task_prerun.connect(weak=False)
def _bind_task(task_id=None, task=None, **kwargs) -> None:
    before = structlog.contextvars.get_contextvars()
    request_id = getattr(task.request, HEADER, None) if task is not None else None
    request_id = request_id or before.get("request_id")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        task_id=task_id,
        task=getattr(task, "name", None),
        **({"request_id": request_id} if request_id else {}),
    )
    _running[task_id] = (time.perf_counter(), before)


@task_postrun.connect(weak=False)
def _log_task(task_id=None, task=None, state=None, **kwargs) -> None:
    started, before = _running.pop(task_id, (None, {}))
    logger.info(
        "task",
        state=state,
        duration_ms=round((time.perf_counter() - started) * 1000, 2) if started else None,
        retries=getattr(getattr(task, "request", None), "retries", None),
    )
    structlog.contextvars.clear_contextvars()
    if before:
        structlog.contextvars.bind_contextvars(**before)
