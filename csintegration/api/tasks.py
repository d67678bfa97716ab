"""Periodic housekeeping of the API machinery."""

from celery import shared_task
from celery.signals import worker_ready

from .idempotency import purge_expired
from .signals import record_worker_heartbeat


@shared_task(name="api.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    from celery import current_task

    record_worker_heartbeat(getattr(current_task.request, "hostname", None))


@shared_task(name="api.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records() -> int:
    return purge_expired()


@worker_ready.connect
def _on_worker_ready(sender=None, **kwargs) -> None:
    record_worker_heartbeat(getattr(sender, "hostname", None))
