"""Celery tasks of the event machinery: the fan-out of one event, and the outbox sweeper."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    name="events.dispatch_event",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the service bounds the attempts (EVENTS_MAX_DISPATCH_ATTEMPTS)
    soft_time_limit=120,
    time_limit=150,
    ignore_result=True,
)
def dispatch_event(self, event_id: str) -> None:
    """Fan one event out to its subscribers; retries with backoff while any of them fails.

    Idempotent: a second run (redelivery after a worker loss, a sweep) skips finished subscribers.
    """
    outcome = services.event_dispatch(event_id=event_id)
    if not outcome.found:
        logger.info("Event %s no longer exists; nothing to dispatch.", event_id)
        return
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in, queue=services.queue_for(outcome.event_type))


@shared_task(
    name="events.dispatch_events",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=600,
    time_limit=660,
    ignore_result=True,
)
def dispatch_events(event_ids: list[str]) -> None:
    """Fan out a batch of events (from ``publish_many``). An event whose subscribers fail is handed to
    its own ``dispatch_event`` task, which retries it with backoff."""
    for event_id in event_ids:
        outcome = services.event_dispatch(event_id=event_id)
        if outcome.found and outcome.retry_in is not None:
            dispatch_event.apply_async(
                args=(event_id,), countdown=outcome.retry_in, queue=services.queue_for(outcome.event_type)
            )


@shared_task(name="events.sweep_undispatched", acks_late=True, ignore_result=True)
def sweep_undispatched() -> int:
    """Re-enqueue events whose fan-out never ran (broker outage, lost message); one batch per run."""
    return services.events_sweep_undispatched()
