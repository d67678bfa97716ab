"""The health endpoint and the OpenAPI document."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from csintegration.api.models import WorkerHeartbeat

HEALTH = "/api/v1/cs-integration/health"
pytestmark = pytest.mark.django_db


def test_health_is_ok_without_a_token_when_everything_answers():
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    response = APIClient().get(HEALTH)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # The contract's four checks, and the event pipeline's own.
    assert body["checks"] == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "workers": "ok",
        "outbox": "ok",
        "deliveries": "ok",
    }
    assert body["details"] == {
        "outbox_backlog": 0,
        "outbox_oldest_seconds": 0.0,
        "deliveries_due": 0,
        "oldest_due_delivery_seconds": 0.0,
    }


def test_health_is_degraded_and_names_the_failing_check():
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now() - timezone.timedelta(minutes=10))
    response = APIClient().get(HEALTH)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["workers"] == "failing" and body["checks"]["database"] == "ok"


def test_health_reports_an_unreachable_broker():
    from csintegration.celery import app
    from tests.celery_support import conf_set

    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    original = app.conf.broker_url
    conf_set(app, broker_url="redis://127.0.0.1:1/0")
    try:
        response = APIClient().get(HEALTH)
    finally:
        conf_set(app, broker_url=original)
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "failing"


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "csintegration.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
)
def test_health_reports_an_unreachable_cache():
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    response = APIClient().get(HEALTH)
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "failing"


def test_schema_is_served_with_oauth2_scopes_per_operation():
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    document = response.json()
    scheme = document["components"]["securitySchemes"]["oauth2"]
    assert set(scheme["flows"]["clientCredentials"]["scopes"]) == set(settings.API_SCOPES)
    customers = document["paths"]["/api/v1/cs-integration/customers"]
    assert customers["get"]["security"] == [{"oauth2": ["customers:read"]}]
    assert customers["post"]["security"] == [{"oauth2": ["customers:write"]}]
    assert "401" in customers["get"]["responses"] and "429" in customers["get"]["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in customers["post"]["parameters"])
    for path in ("/api/docs/", "/api/redoc/"):
        assert APIClient().get(path).status_code == 200


def test_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
