"""Periodic housekeeping of credentials (scheduled in ``CELERY_BEAT_SCHEDULE``)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .services import expired_credentials_clear


@shared_task(name="auth.clear_expired_tokens")
def clear_expired_tokens() -> dict[str, int]:
    # A signature older than its maximum age is refused as stale, so its row is no longer needed then.
    retention = timedelta(seconds=2 * settings.SIGNATURE_MAX_AGE_SECONDS)
    return expired_credentials_clear(signature_retention=retention)
