"""Celery tasks of the finance domain: the overdue check of every customer and the nightly refit of the
renewal model. Both are idempotent: a second run changes nothing the first did not."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    name="finance.check_payment_standings",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def check_payment_standings() -> dict[str, int]:
    """Publish ``payment_overdue`` for customers whose payment fell due unpaid since the last check, and
    ``payments_current`` for those with no overdue payment left."""
    stats = services.payment_standings_check()
    if stats.became_overdue or stats.became_current:
        logger.info("Payment standings changed: %s", stats.as_dict())
    return stats.as_dict()


@shared_task(
    name="finance.recompute_renewal_model",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    retry_backoff_max=1800,
    max_retries=3,
)
def recompute_renewal_model() -> dict[str, object]:
    """Refit the renewal model on the outcomes known today (or record the prior, below the minimum)."""
    fit = services.renewal_model_refit()
    summary = {"basis": fit.basis, "outcomes": fit.outcomes, "brier_score": fit.brier_score}
    logger.info("Renewal model refitted: %s", summary)
    return summary
