"""``GET /api/v1/cs-integration/health``: database, cache, broker and worker checks, the outbox, and the
checks the apps add (``register_health_check``); no token needed.

The checks that read the database run on the request's connection under a statement timeout; the
others (cache, broker) run at once in threads of their own, and the answer waits at most
``HEALTH_CHECK_TIMEOUT_SECONDS`` for them: a dependency that hangs is reported failing instead of
holding the load balancer's probe. The outbox is failing past ``HEALTH_OUTBOX_MAX_BACKLOG`` undispatched
events or when its oldest is older than ``HEALTH_OUTBOX_MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from .models import WorkerHeartbeat
from .views import PlatformAPIView

logger = logging.getLogger(__name__)
WORKER_HEARTBEAT_MAX_AGE = timedelta(seconds=120)

#: a check returns details to show (or None) and raises when failing
Check = Callable[[], dict[str, Any] | None]


class CheckFailed(Exception):
    """A check's own verdict, with the details that led to it."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_cache() -> None:
    probe = uuid.uuid4().hex
    cache.set("health:probe", probe, timeout=10)
    if cache.get("health:probe") != probe:
        raise RuntimeError("cache did not return what was written")


def check_broker() -> None:
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_workers() -> None:
    recent = timezone.now() - WORKER_HEARTBEAT_MAX_AGE
    if not WorkerHeartbeat.objects.filter(seen_at__gte=recent).exists():
        raise RuntimeError("no Celery worker reported in the last two minutes")


def check_outbox() -> dict[str, Any]:
    from csintegration.observability.state import outbox_state

    state = outbox_state(now=timezone.now())
    details = {
        "outbox_backlog": state.backlog,
        "outbox_oldest_seconds": round(state.oldest_undispatched_seconds, 1),
    }
    if state.backlog > settings.HEALTH_OUTBOX_MAX_BACKLOG:
        raise CheckFailed(f"{state.backlog} events wait in the outbox", details)
    if state.oldest_undispatched_seconds > settings.HEALTH_OUTBOX_MAX_AGE_SECONDS:
        raise CheckFailed("the oldest event has waited too long in the outbox", details)
    return details


#: name → (check, whether it reads the database)
CHECKS: dict[str, tuple[Check, bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, False),
    "broker": (check_broker, False),
    "workers": (check_workers, True),
    "outbox": (check_outbox, True),
}
_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health-check")


def register_health_check(name: str, check: Check, *, uses_database: bool = True) -> None:
    """Add a check (from an app's ``ready()``): it returns details or raises when failing."""
    with _lock:
        CHECKS[name] = (check, uses_database)


def _verdict(name: str, run: Callable[[], dict[str, Any] | None], details: dict[str, Any]) -> str:
    try:
        details.update(run() or {})
        return "ok"
    except CheckFailed as exc:
        logger.warning("Health check %s failed: %s", name, exc)
        details.update(exc.details)
    except Exception as exc:
        logger.warning("Health check %s failed: %s", name, exc)
    return "failing"


def _database_checks(checks: dict[str, Check], details: dict[str, Any]) -> dict[str, str]:
    timeout_ms = int(settings.HEALTH_CHECK_TIMEOUT_SECONDS * 1000)
    results: dict[str, str] = {}
    for name, check in checks.items():

        def run(check=check):
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL statement_timeout = {timeout_ms}")
                return check()

        results[name] = _verdict(name, run, details)
    return results


def run_checks(timeout: float | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """Each check's verdict (``ok`` or ``failing``) and the details they report."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS if timeout is None else timeout
    with _lock:
        checks = dict(CHECKS)
    details: dict[str, Any] = {}
    futures = {
        name: _pool.submit(check) for name, (check, uses_database) in checks.items() if not uses_database
    }
    results = _database_checks(
        {name: check for name, (check, uses_database) in checks.items() if uses_database}, details
    )
    wait(futures.values(), timeout=timeout)
    for name, future in futures.items():
        if not future.done():
            logger.warning("Health check %s did not answer within %s s", name, timeout)
            results[name] = "failing"
        else:
            results[name] = _verdict(name, future.result, details)
    return {name: results[name] for name in checks}, details


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "checks": serializers.DictField(
            child=serializers.ChoiceField(choices=["ok", "failing"]),
            help_text="database, cache, broker, workers, outbox, deliveries",
        ),
        "details": serializers.DictField(
            help_text="outbox_backlog, outbox_oldest_seconds (the oldest undispatched event), "
            "deliveries_due, oldest_due_delivery_seconds"
        ),
    },
)


class HealthView(PlatformAPIView):
    """The platform's health: 200 when every check passes, 503 naming the failing ones."""

    public = True
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="health",
        tags=["cs-integration"],
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request):
        checks, details = run_checks()
        healthy = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ok" if healthy else "degraded", "checks": checks, "details": details},
            status=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )
