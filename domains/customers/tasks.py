"""Celery tasks of the customers domain: the nightly recompute of every customer's health."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import health
from .metrics import recompute_duration

logger = logging.getLogger(__name__)


@shared_task(
    name="customers.recompute_all_health",
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=3,
)
def recompute_all_health() -> dict[str, int]:
    """Recompute every customer's health from its signals under the current scorecards.

    Idempotent: a second run finds the same scores and writes no snapshot and publishes no event.
    """
    with recompute_duration.time():
        stats = health.health_recompute_all()
    logger.info("Recomputed health: %s", stats.as_dict())
    return stats.as_dict()
