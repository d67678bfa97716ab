"""Celery tasks of the marketing domain: finishing campaigns past their end, and keeping the comparison
groups of open campaigns current. Both are idempotent."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    name="marketing.complete_due_campaigns",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    max_retries=3,
)
def complete_due_campaigns() -> list[str]:
    completed = services.campaigns_complete_due()
    if completed:
        logger.info("Completed campaigns past their end: %s", ", ".join(completed))
    return completed


@shared_task(
    name="marketing.track_campaign_comparisons",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    max_retries=3,
)
def track_campaign_comparisons() -> int:
    added = services.campaigns_comparisons_track()
    if added:
        logger.info("Added %s later segment entrants to campaign comparison groups", added)
    return added
