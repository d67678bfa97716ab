"""Writes of the audit log: recording one call, pruning old rows."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import ApiCall

logger = logging.getLogger(__name__)
PRUNE_BATCH_SIZE = 5000


def api_call_build(
    *,
    time,
    client_id: str,
    user: str,
    scopes: str,
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    client_address: str | None,
    request_id: str,
) -> ApiCall:
    """The row of one call (unsaved), with every field cut to its column."""
    return ApiCall(
        time=time,
        client_id=client_id[:100],
        user=user[:150],
        scopes=scopes,
        method=method[:10],
        path=path[:2048],
        status=status,
        latency_ms=round(latency_ms, 3),
        client_address=client_address or None,
        request_id=request_id[:128],
    )


def api_calls_write(rows: list[ApiCall]) -> int:
    """One INSERT for the rows; a failing audit write is logged and never turns a call into an error."""
    if not rows:
        return 0
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # No call waits for these rows' WAL flush; a database crash can lose the last fraction of a
                # second of audit rows, never corrupt them (asynchronous commit).
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            ApiCall.objects.bulk_create(rows, batch_size=500)
        return len(rows)
    except Exception:
        logger.exception("Could not write %s audit records", len(rows))
        return 0


def api_call_record(**fields) -> ApiCall | None:
    """Write the row of one call now (see ``api_call_build`` for the fields)."""
    row = api_call_build(**fields)
    return row if api_calls_write([row]) else None


def api_call_prune(*, retention_days: int | None = None) -> int:
    """Delete rows older than ``AUDIT_RETENTION_DAYS``, in batches so no long lock is held."""
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        batch = list(ApiCall.objects.filter(time__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH_SIZE])
        if not batch:
            return deleted
        count, _ = ApiCall.objects.filter(pk__in=batch).delete()
        deleted += count
