"""GET /api/v1/cs-integration/metrics: the Prometheus text format, scope metrics:read, and the figures the
platform counts (requests by route, rejections, events, webhook attempts and lag, the outbox, queues)."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from csintegration.events import publish
from csintegration.observability.middleware import route_template

METRICS = "/api/v1/cs-integration/metrics"
pytestmark = pytest.mark.django_db


def scrape(client) -> dict[str, list]:
    response = client.get(METRICS)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def value(samples, **labels) -> float:
    return sum(
        sample.value for sample in samples if all(sample.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_need_a_token_with_metrics_read(api):
    assert api(scopes="customers:read").get(METRICS).status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get(METRICS).status_code == 401


def test_requests_are_counted_by_route_template_and_status(api):
    client = api(scopes="metrics:read customers:read")
    before = scrape(client)
    route = "/api/v1/cs-integration/customers/{customer_id}"
    for _ in range(3):
        assert client.get("/api/v1/cs-integration/customers/cust_missing").status_code == 404
    after = scrape(client)
    counted = value(after["csi_http_requests"], route=route, method="GET", status="404") - value(
        before.get("csi_http_requests", []), route=route, method="GET", status="404"
    )
    assert counted == 3
    assert value(after["csi_http_request_duration_seconds"], route=route, method="GET") > 0


def test_events_the_outbox_and_the_queues_are_exposed(api):
    client = api(scopes="metrics:read")
    before = value(scrape(client).get("csi_events_published", []), event_type="customer.deleted")
    with transaction.atomic():
        event = publish("customer.deleted", customer_id="cust_gone", payload={"name": "Gone"})
    from csintegration.events.models import Event

    Event.objects.filter(pk=event.pk).update(
        dispatched_at=None, created_at=timezone.now() - timedelta(seconds=90)
    )
    samples = scrape(client)
    assert value(samples["csi_events_published"], event_type="customer.deleted") - before == 1
    assert value(samples["csi_outbox_backlog"]) >= 1
    assert value(samples["csi_outbox_oldest_undispatched_seconds"]) >= 89
    assert {sample.labels["queue"] for sample in samples["csi_celery_queue_depth"]} >= {"webhooks", "default"}
    assert "csi_webhook_due_deliveries" in samples and "csi_webhook_oldest_due_seconds" in samples


def test_a_rate_limit_rejection_is_counted(api, settings):
    client = api(scopes="metrics:read customers:read", rate_limits={"standard": "2/hour"})
    before = value(scrape(client).get("csi_rate_limit_rejections", []), category="standard")
    client.get("/api/v1/cs-integration/customers")
    client.get("/api/v1/cs-integration/customers")
    assert client.get("/api/v1/cs-integration/customers").status_code == 429
    assert value(scrape(client)["csi_rate_limit_rejections"], category="standard") - before >= 1


def test_route_templates_are_bounded_labels():
    assert (
        route_template("api/v1/cs-integration/customers/(?P<customer_id>cust_[A-Za-z0-9_-]{1,59})/health/?$")
        == "/api/v1/cs-integration/customers/{customer_id}/health"
    )
    assert route_template("^webhooks/(?P<endpoint_id>ep_[0-9a-z]+)/deliveries/?$") == (
        "/webhooks/{endpoint_id}/deliveries"
    )


def test_a_webhook_attempt_and_its_lag_are_counted(
    api, make_integration_client, settings, httpserver, django_capture_on_commit_callbacks
):
    from webhooks import deliveries, endpoints
    from webhooks.models import Delivery

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/hooks").respond_with_data("ok")
    owner = make_integration_client(scopes="webhooks:manage customers:read").client
    endpoints.endpoint_create(client=owner, url=httpserver.url_for("/hooks"), event_types=["*"])
    client = api(scopes="metrics:read")
    before = scrape(client)
    with django_capture_on_commit_callbacks(), transaction.atomic():  # the first attempt is made below
        publish("customer.deleted", customer_id="cust_lag", payload={"name": "x"})
    time.sleep(0.01)
    delivery = Delivery.objects.get(message__customer_id="cust_lag")
    deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token)
    after = scrape(client)
    succeeded = value(after["csi_webhook_attempts"], outcome="succeeded", attempt="1") - value(
        before.get("csi_webhook_attempts", []), outcome="succeeded", attempt="1"
    )
    assert succeeded == 1
    lag_count = [s for s in after["csi_webhook_delivery_lag_seconds"] if s.name.endswith("_count")]
    before_count = [
        s for s in before.get("csi_webhook_delivery_lag_seconds", []) if s.name.endswith("_count")
    ]
    assert sum(s.value for s in lag_count) - sum(s.value for s in before_count) == 1
