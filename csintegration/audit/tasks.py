"""Periodic upkeep of the audit log."""

import logging

from celery import shared_task

from .services import api_call_prune

logger = logging.getLogger(__name__)


@shared_task(name="audit.prune_api_calls")
def prune_api_calls() -> int:
    deleted = api_call_prune()
    logger.info("Pruned %d audit records past their retention", deleted)
    return deleted
