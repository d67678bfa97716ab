"""Celery tasks of the sales domain: the nightly re-evaluation of every customer's expansion readiness."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    name="sales.recompute_all_readiness",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=3,
)
def recompute_all_readiness() -> dict[str, int]:
    """Re-evaluate every customer's readiness (milestones age out of the model's window with no event,
    and an edited model changes scores). Idempotent: a second run announces nothing new."""
    stats = services.readiness_evaluate_all()
    logger.info("Re-evaluated expansion readiness: %s", stats.as_dict())
    return stats.as_dict()
