"""Customer writes publish customer.created / customer.updated / customer.deleted in the same transaction,
and keep the health history of scores set by hand."""

import json

import pytest

from domains.customers.models import HealthSnapshot
from tests.conftest import sign_request_kwargs

from .conftest import events_of

pytestmark = pytest.mark.django_db

BASE = "/api/v1/cs-integration/customers"


def test_create_update_delete_publish_events(api):
    client = api()
    created = client.post(BASE, {"customer_id": "cust_ev1", "name": "Evented", "arr": 1200.5}, format="json")
    assert created.status_code == 201
    [event] = events_of("customer.created", "cust_ev1")
    assert event.payload["name"] == "Evented" and event.payload["arr"] == 1200.5
    assert event.payload["event"] == "customer.created" and event.payload["timestamp"].endswith("Z")

    client.patch(f"{BASE}/cust_ev1", {"health_score": 30, "lifecycle_stage": "renewal"}, format="json")
    [update] = events_of("customer.updated", "cust_ev1")
    # The score went through the health engine, which also moved the trend (a 20-point fall).
    assert update.payload["changed_fields"] == [
        "health_score",
        "health_trend",
        "lifecycle_stage",
        "risk_level",
    ]
    assert update.payload["changes"]["health_score"] == {"previous": 50, "current": 30}
    assert update.payload["changes"]["risk_level"] == {"previous": "medium", "current": "high"}
    # A PATCH that changes nothing publishes nothing.
    client.patch(f"{BASE}/cust_ev1", {"lifecycle_stage": "renewal"}, format="json")
    assert len(events_of("customer.updated", "cust_ev1")) == 1
    assert list(HealthSnapshot.objects.filter(customer_id="cust_ev1").values_list("source", "score")) == [
        ("manual", 30),
        ("initial", 50),
    ]

    path = f"{BASE}/cust_ev1"
    assert client.delete(path, **sign_request_kwargs(client.integration, "DELETE", path)).status_code == 204
    [deleted] = events_of("customer.deleted", "cust_ev1")
    assert deleted.payload == {
        "event": "customer.deleted",
        "customer_id": "cust_ev1",
        "name": "Evented",
        "timestamp": deleted.payload["timestamp"],
    }


def test_a_rejected_write_publishes_nothing(api):
    client = api()
    client.post(BASE, {"customer_id": "cust_ev2", "name": "Once"}, format="json")
    assert client.post(BASE, {"customer_id": "cust_ev2", "name": "Twice"}, format="json").status_code == 409
    assert len(events_of("customer.created", "cust_ev2")) == 1


def test_bulk_upsert_publishes_one_event_per_record(api):
    client = api()
    records = [{"customer_id": f"cust_evb{i}", "name": f"Bulk {i}"} for i in range(40)]
    body = json.dumps({"customers": records}).encode()
    path = f"{BASE}/bulk"
    headers = sign_request_kwargs(client.integration, "POST", path, body)
    assert client.post(path, data=body, content_type="application/json", **headers).status_code == 200
    assert len(events_of("customer.created")) == 40

    updates = [{"customer_id": f"cust_evb{i}", "health_score": 90 if i % 2 else 50} for i in range(40)]
    body = json.dumps({"customers": updates}).encode()
    headers = sign_request_kwargs(client.integration, "POST", path, body)
    assert client.post(path, data=body, content_type="application/json", **headers).status_code == 200
    updated = events_of("customer.updated")
    assert len(updated) == 20  # the other half already had 50
    assert {event.payload["changes"]["health_score"]["current"] for event in updated} == {90}
    assert HealthSnapshot.objects.filter(source="manual").count() == 20
