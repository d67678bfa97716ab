"""Handing work to Celery by task name: after the current transaction commits, never raising.

Services enqueue by name (``enqueue_after_commit("webhooks.deliver", args=…)``), so they never import
their app's ``tasks.py`` (which imports the services): no import circle, and a task runs only for data
that was committed. A broker that cannot take the message is logged and left to the app's own
recovery (the outbox sweeper, the delivery dispatcher, a beat job): a request never fails because the
broker is down after its transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def _app():
    from csintegration.celery import app

    return app


def enqueue(
    task_name: str,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    countdown: float | None = None,
    producer: Any = None,
    failure_message: str | None = None,
) -> bool:
    """Send one task message now; False (logged, with ``failure_message`` if given) when the broker
    would not take it.

    With ``CELERY_TASK_ALWAYS_EAGER`` the task runs at once in this process, as ``apply_async`` would.
    """
    app = _app()
    try:
        if app.conf.task_always_eager:
            app.tasks[task_name].apply(args=tuple(args), kwargs=kwargs or {})
            return True
        options: dict[str, Any] = {
            "retry": True,
            "retry_policy": settings.TASK_ENQUEUE_RETRY_POLICY,
        }
        if queue is not None:
            options["queue"] = queue
        if countdown is not None:
            options["countdown"] = countdown
        if producer is not None:
            options["producer"] = producer
        app.send_task(task_name, args=tuple(args), kwargs=kwargs or {}, **options)
        return True
    except Exception as exc:
        logger.warning(
            "%s (%s: %s)",
            failure_message or f"Could not enqueue {task_name} {tuple(args)!r}; its app will recover it.",
            type(exc).__name__,
            exc,
        )
        return False


def enqueue_many(task_name: str, *, args_list: Iterable[Sequence[Any]], queue: str | None = None) -> int:
    """Send one message per item of ``args_list`` over one broker connection; returns how many went."""
    sent = 0
    batches = [tuple(args) for args in args_list]
    if not batches:
        return 0
    app = _app()
    if app.conf.task_always_eager:
        return sum(enqueue(task_name, args=args, queue=queue) for args in batches)
    try:
        with producer_for_enqueue() as producer:
            for args in batches:
                if not enqueue(task_name, args=args, queue=queue, producer=producer):
                    break  # the broker is gone; the rest would only wait for it too
                sent += 1
    except Exception:
        logger.warning("Could not reach the broker for %s %s tasks.", len(batches) - sent, task_name)
    return sent


@contextmanager
def producer_for_enqueue():
    """One pooled broker connection for a burst of messages."""
    with _app().producer_or_acquire() as producer:
        yield producer


def enqueue_after_commit(
    task_name: str,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    queue: str | None = None,
    countdown: float | None = None,
) -> None:
    """``enqueue`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(
        partial(enqueue, task_name, args=tuple(args), kwargs=kwargs, queue=queue, countdown=countdown)
    )


def enqueue_many_after_commit(
    task_name: str, *, args_list: Iterable[Sequence[Any]], queue: str | None = None
) -> None:
    batches = [tuple(args) for args in args_list]
    if batches:
        transaction.on_commit(partial(enqueue_many, task_name, args_list=batches, queue=queue))
