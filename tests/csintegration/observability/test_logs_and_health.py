"""Structured logs that follow a signal from its request to its delivery, and the deep health check."""

import io
import json
import logging
import threading
import time
from datetime import timedelta

import pytest
import structlog
from django.utils import timezone
from rest_framework.test import APIClient

from csintegration.api import health
from csintegration.api.models import WorkerHeartbeat
from csintegration.observability.logs import logging_config
from tests.celery_support import celery_test_app, celery_worker, wait_until  # noqa: F401

HEALTH = "/api/v1/cs-integration/health"


def structured(records, name: str) -> list[dict]:
    return [
        record.msg for record in records if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


def test_the_json_format_renders_one_object_per_line():
    config = logging_config(log_format="json", level="INFO")
    formatter_config = dict(config["formatters"]["structured"])
    factory = formatter_config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**formatter_config))
    target = logging.getLogger("test.structured")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        structlog.contextvars.bind_contextvars(request_id="req-1")
        structlog.get_logger("test.structured").info("request", status=200)
        logging.getLogger("test.structured").warning("plain %s", "line")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
        target.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "request" and first["status"] == 200 and first["request_id"] == "req-1"
    assert first["level"] == "info" and first["timestamp"].endswith("Z")
    assert second["event"] == "plain line" and second["level"] == "warning"


@pytest.mark.django_db
def test_a_request_logs_one_line_with_its_request_id_and_the_events_it_published(api, caplog):
    client = api(scopes="customers:read customers:write")
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/api/v1/cs-integration/customers",
            {"name": "Logged"},
            format="json",
            HTTP_X_REQUEST_ID="trace-me-1",
        )
    assert response.status_code == 201
    [line] = [entry for entry in structured(caplog.records, "request") if entry["request_id"] == "trace-me-1"]
    assert line["route"] == "/api/v1/cs-integration/customers" and line["status"] == 201
    assert line["method"] == "POST" and line["duration_ms"] > 0 and line["client_id"]
    from csintegration.events.models import Event

    created = Event.objects.get(event_type="customer.created", customer_id=response.json()["customer_id"])
    assert line["events"] == [created.event_id]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_request_id_and_event_id_reach_the_delivery_line(
    celery_worker,  # noqa: F811
    api,
    make_integration_client,
    settings,
    httpserver,
    caplog,
):
    from webhooks import endpoints

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/hooks").respond_with_data("ok")
    owner = make_integration_client(scopes="webhooks:manage customers:read").client
    endpoints.endpoint_create(client=owner, url=httpserver.url_for("/hooks"), event_types=["*"])
    client = api(scopes="customers:write")
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/api/v1/cs-integration/customers",
            {"name": "Traced"},
            format="json",
            HTTP_X_REQUEST_ID="trace-me-2",
        )
        customer_id = response.json()["customer_id"]
        lines = wait_until(
            lambda: [
                entry
                for entry in structured(caplog.records, "webhook_attempt")
                if entry.get("customer_id") == customer_id
            ]
        )
        tasks = wait_until(
            lambda: [
                entry
                for entry in structured(caplog.records, "task")
                if entry.get("request_id") == "trace-me-2" and entry.get("task") == "webhooks.deliver"
            ]
        )
    from csintegration.events.models import Event

    event = Event.objects.get(event_type="customer.created", customer_id=customer_id)
    [delivered] = lines
    assert delivered["request_id"] == "trace-me-2" and delivered["event_id"] == event.event_id
    assert delivered["outcome"] == "succeeded" and delivered["task"] == "webhooks.deliver"
    assert tasks[0]["state"] == "SUCCESS" and tasks[0]["duration_ms"] >= 0


@pytest.mark.django_db
def test_an_outbox_backlog_or_a_late_delivery_degrades_the_health(
    settings, django_capture_on_commit_callbacks
):
    from csintegration.events import publish
    from csintegration.events.models import Event

    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 60
    with django_capture_on_commit_callbacks():
        event = publish("customer.deleted", customer_id="cust_h", payload={"name": "x"})
    Event.objects.filter(pk=event.pk).update(
        dispatched_at=None, created_at=timezone.now() - timedelta(minutes=5)
    )
    response = APIClient().get(HEALTH)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded" and body["checks"]["outbox"] == "failing"
    assert body["details"]["outbox_backlog"] == 1 and body["details"]["outbox_oldest_seconds"] >= 299

    Event.objects.update(dispatched_at=timezone.now())
    settings.HEALTH_OUTBOX_MAX_BACKLOG = 5000
    from webhooks.models import Delivery

    assert not Delivery.objects.exists()
    settings.WEBHOOK_HEALTH_MAX_DUE_SECONDS = 60
    _late_delivery()
    body = APIClient().get(HEALTH).json()
    assert body["checks"]["deliveries"] == "failing" and body["checks"]["outbox"] == "ok"
    assert body["details"]["deliveries_due"] == 1 and body["details"]["oldest_due_delivery_seconds"] >= 119


def _late_delivery() -> None:
    from csintegration.clients.services import client_create
    from webhooks.models import Delivery, Message, WebhookEndpoint

    client = client_create(name="late", scopes="webhooks:manage customers:read").client
    endpoint = WebhookEndpoint.objects.create(client=client, url="https://example.com/h", event_types=["*"])
    message = Message.objects.create(
        event_id="evt_late", event_type="customer.deleted", body="{}", occurred_at=timezone.now()
    )
    Delivery.objects.create(
        message=message,
        endpoint=endpoint,
        event_type="customer.deleted",
        next_attempt_at=timezone.now() - timedelta(minutes=2),
    )


@pytest.mark.django_db
def test_a_hanging_check_is_failing_within_the_timeout(settings):
    WorkerHeartbeat.objects.create(hostname="w1", seen_at=timezone.now())
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    release = threading.Event()
    health.register_health_check("hangs", lambda: release.wait(10), uses_database=False)
    try:
        started = time.monotonic()
        response = APIClient().get(HEALTH)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        with health._lock:
            health.CHECKS.pop("hangs")
    assert response.status_code == 503 and response.json()["checks"]["hangs"] == "failing"
    assert elapsed < 3  # not the 10 s the check would have held it
