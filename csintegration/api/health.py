"""``GET /api/v1/cs-integration/health``: database, cache, broker and worker checks, no token needed."""

import logging
import uuid
from datetime import timedelta

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from .models import WorkerHeartbeat
from .views import PlatformAPIView

logger = logging.getLogger(__name__)
WORKER_HEARTBEAT_MAX_AGE = timedelta(seconds=120)


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


CHECKS = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "workers": check_workers,
}


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("Health check %s failed: %s", name, exc)
            results[name] = "failing"
    return results


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "checks": serializers.DictField(child=serializers.ChoiceField(choices=["ok", "failing"])),
    },
)


class HealthView(PlatformAPIView):
    """The platform's health: 200 when every dependency answers, 503 naming the failing ones."""

    public = True
    authentication_classes = []
    permission_classes = []

    @extend_schema(
        operation_id="health",
        tags=["cs-integration"],
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request):
        checks = run_checks()
        healthy = all(value == "ok" for value in checks.values())
        return Response(
            {"status": "ok" if healthy else "degraded", "checks": checks},
            status=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )
