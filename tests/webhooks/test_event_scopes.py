"""Webhooks respect scopes: a client receives an event only while it holds the type's read scope, may
not subscribe to a type it cannot read, and ``"*"`` means every type it may read. The event catalogue
lists every registered type."""

import pytest
from django.db import transaction
from werkzeug import Response

from csintegration.clients.models import IntegrationClient
from csintegration.events import publish
from csintegration.events.types import event_type_get, event_types
from tests.celery_support import wait_until
from webhooks.models import Delivery, DeliveryStatus

from .conftest import BASE

CATALOGUE = f"{BASE}/event-types"


def test_registering_a_type_whose_scope_the_client_lacks_is_a_403_naming_the_scope(
    webhook_api, register_endpoint, loopback_allowed
):
    client = webhook_api(scopes="webhooks:manage finance:read")
    response = client.post(
        BASE, {"url": "http://127.0.0.1:9/hooks", "events": ["health_score_change"]}, format="json"
    )
    assert response.status_code == 403, response.content
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["scope"] == "customers:read" and "customers:read" in body["detail"]
    assert "health_score_change" in body["detail"]

    # A type of its own area is fine, and so is "*" (every type it may read).
    finance = register_endpoint(client, "http://127.0.0.1:9/hooks", events=["test.finance_event"])
    register_endpoint(client, "http://127.0.0.1:9/all", events=["*"])
    patched = client.patch(f"{BASE}/{finance['id']}", {"events": ["churn_risk_detected"]}, format="json")
    assert patched.status_code == 403 and patched.json()["scope"] == "customers:read"


@pytest.mark.django_db
def test_an_unknown_type_is_a_400(webhook_api, loopback_allowed):
    response = webhook_api().post(
        BASE, {"url": "http://127.0.0.1:9/hooks", "events": ["no_such_event"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_star_delivers_only_what_each_client_may_read(
    celery_worker, webhook_api, register_endpoint, loopback_allowed, httpserver
):
    received: dict[str, list[str]] = {"finance": [], "customers": []}

    def receiver(name):
        def handle(request):
            received[name].append(request.get_json()["event"])
            return Response("ok")

        return handle

    httpserver.expect_request("/finance").respond_with_handler(receiver("finance"))
    httpserver.expect_request("/customers").respond_with_handler(receiver("customers"))
    finance_client = webhook_api(scopes="webhooks:manage finance:read")
    customers_client = webhook_api(scopes="webhooks:manage customers:read")
    register_endpoint(finance_client, httpserver.url_for("/finance"), events=["*"])
    register_endpoint(customers_client, httpserver.url_for("/customers"), events=["*"])

    with transaction.atomic():
        publish(
            "health_score_change",
            customer_id="cust_scoped",
            payload={"previous_score": 80, "new_score": 60, "change_reason": "x", "trigger_events": []},
        )
        publish("test.finance_event", customer_id="cust_scoped", payload={"detail": "paid"})

    wait_until(lambda: len(received["customers"]) == 1 and len(received["finance"]) == 1)
    assert received["customers"] == ["health_score_change"]
    assert received["finance"] == ["test.finance_event"]
    # No delivery row was even written for the event the client may not read.
    assert Delivery.objects.filter(event_type="health_score_change").count() == 1


@pytest.mark.django_db
def test_a_scope_removed_after_registration_stops_its_deliveries(
    webhook_api, register_endpoint, loopback_allowed, django_capture_on_commit_callbacks
):
    from webhooks import deliveries

    client = webhook_api()
    endpoint = register_endpoint(client, "http://127.0.0.1:9/hooks", events=["health_score_change"])
    with django_capture_on_commit_callbacks():
        publish(
            "health_score_change",
            customer_id="cust_revoked",
            payload={"previous_score": 1, "new_score": 2, "change_reason": "x", "trigger_events": []},
        )
    delivery = Delivery.objects.get(endpoint_id=endpoint["id"])
    owner = IntegrationClient.objects.get(client_id=client.integration.client.client_id)
    owner.scopes = "webhooks:manage"
    owner.save()

    assert deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "customers:read" in delivery.last_error and delivery.attempt_count == 0


@pytest.mark.django_db
def test_the_catalogue_lists_every_registered_type_with_its_example(webhook_api):
    client = webhook_api(scopes="webhooks:manage customers:read")
    response = client.get(CATALOGUE)
    assert response.status_code == 200, response.content
    entries = {entry["name"]: entry for entry in response.json()}
    assert set(entries) == {event_type.name for event_type in event_types()}
    churn = entries["churn_risk_detected"]
    assert churn["area"] == "customers" and churn["scope"] == "customers:read" and churn["critical"]
    assert churn["readable"] is True and entries["test.finance_event"]["readable"] is False
    assert churn["example"]["event"] == "churn_risk_detected"
    assert set(churn["example"]) == {
        "event",
        "customer_id",
        *event_type_get("churn_risk_detected").example,
        "timestamp",
    }
    assert churn["schema"]["required"][0] == "event"
    assert churn["openapi_component"] == "#/components/schemas/ChurnRiskDetectedEvent"

    schema = client.get("/api/schema/", {"format": "json"}).json()
    component = schema["components"]["schemas"]["ChurnRiskDetectedEvent"]
    assert component["properties"]["risk_indicators"]["type"] == "array"
    assert webhook_api(scopes="customers:read").get(CATALOGUE).status_code == 403
