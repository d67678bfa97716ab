"""Celery tasks of webhooks: one attempt of a few deliveries, and the dispatcher of due retries."""

from celery import shared_task
from django.db import DatabaseError

from . import deliveries


@shared_task(
    name="webhooks.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=3,
)
def deliver(delivery_ids: list[str], lease_token: str | None = None) -> None:
    """One attempt of each of a few deliveries, sent in parallel. A duplicate run finds them done or held
    and does nothing."""
    if isinstance(delivery_ids, str):
        delivery_ids = [delivery_ids]
    deliveries.deliveries_attempt(delivery_ids=delivery_ids, lease_token=lease_token)


@shared_task(name="webhooks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    """Run by beat every few seconds: queue the deliveries whose next attempt is due."""
    return deliveries.deliveries_dispatch_due()
