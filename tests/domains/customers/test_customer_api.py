"""The customer API end to end, with real tokens: success paths and every error path."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from domains.customers.models import Customer
from tests.conftest import sign_request_kwargs

BASE = "/api/v1/cs-integration/customers"
PROBLEM = "application/problem+json"

SEED_CUSTOMER = {
    "customer_id": "cust_12345",
    "name": "Acme Analytics",
    "segment": "enterprise",
    "arr": 150000,
    "success_manager": "sarah.smith@company.com",
    "health_score": 85,
    "health_trend": "improving",
    "risk_level": "low",
    "lifecycle_stage": "adoption",
    "success_metrics": {"adoption_rate": 0.75, "engagement_score": 8.2, "nps_score": 45},
    "integration_status": {
        "marketing": "active",
        "sales": "handed_off",
        "product": "beta_participant",
        "finance": "current",
        "operations": "supported",
    },
}

pytestmark = pytest.mark.django_db


def signed_bulk(client, payload):
    """POST …/customers/bulk with the RFC 9421 signature that the endpoint requires."""
    body = json.dumps(payload).encode()
    path = f"{BASE}/bulk"
    signature = sign_request_kwargs(client.integration, "POST", path, body)
    return client.post(path, data=body, content_type="application/json", **signature)


def assert_problem(response, status: int, slug: str | None = None):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["instance"] == response.wsgi_request.path
    assert body["request_id"] == response["X-Request-ID"]
    assert body["type"].startswith("http") and body["title"] and body["detail"]
    if slug:
        assert body["type"].endswith(slug)
    return body


def test_create_then_get_returns_the_seed_shape(api):
    client = api()
    created = client.post(BASE, SEED_CUSTOMER, format="json")
    assert created.status_code == 201, created.content
    assert created["Location"].endswith(f"{BASE}/cust_12345")

    body = client.get(f"{BASE}/cust_12345").json()
    assert set(body) == {
        "customer_id",
        "name",
        "segment",
        "arr",
        "success_manager",
        "health_score",
        "health_trend",
        "risk_level",
        "lifecycle_stage",
        "success_metrics",
        "integration_status",
        "created_at",
        "last_updated",
    }
    assert body["success_metrics"] == SEED_CUSTOMER["success_metrics"]
    assert body["integration_status"] == SEED_CUSTOMER["integration_status"]
    assert body["health_score"] == 85 and body["risk_level"] == "low" and body["arr"] == 150000
    assert body["last_updated"].endswith("Z")


def test_create_generates_an_id_and_derives_risk_from_score(api):
    response = api().post(BASE, {"name": "Globex", "health_score": 30}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["customer_id"].startswith("cust_")
    assert body["risk_level"] == "high"
    assert Customer.objects.get(pk=body["customer_id"]).risk_level == "high"


def test_duplicate_id_is_a_conflict(api):
    client = api()
    assert client.post(BASE, SEED_CUSTOMER, format="json").status_code == 201
    assert_problem(client.post(BASE, SEED_CUSTOMER, format="json"), 409, "customer-exists")


def test_update_partial_update_and_delete(api):
    client = api()
    client.post(BASE, SEED_CUSTOMER, format="json")
    patched = client.patch(f"{BASE}/cust_12345", {"success_metrics": {"nps_score": 60}}, format="json")
    assert patched.status_code == 200
    assert patched.json()["success_metrics"] == {
        "adoption_rate": 0.75,
        "engagement_score": 8.2,
        "nps_score": 60,
    }

    replaced = client.put(
        f"{BASE}/cust_12345", {"name": "Acme Renamed", "lifecycle_stage": "renewal"}, format="json"
    )
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "Acme Renamed"
    assert Customer.objects.get(pk="cust_12345").lifecycle_stage == "renewal"

    assert_problem(client.patch(f"{BASE}/cust_12345", {"customer_id": "cust_other"}, format="json"), 400)


def test_trailing_slash_is_tolerated(api):
    client = api()
    client.post(BASE, SEED_CUSTOMER, format="json")
    assert client.get(f"{BASE}/").status_code == 200
    assert client.get(f"{BASE}/cust_12345/").status_code == 200


def test_list_filters_ordering_and_cursor_pages(api):
    client = api()
    for index, score in enumerate([10, 40, 60, 90, 95]):
        client.post(
            BASE, {"name": f"Customer {index}", "health_score": score, "segment": "enterprise"}, format="json"
        )

    body = client.get(BASE, {"risk_level": "critical"}).json()
    assert [c["health_score"] for c in body["results"]] == [10]

    body = client.get(
        BASE, {"health_score_min": 50, "health_score_max": 92, "ordering": "health_score"}
    ).json()
    assert [c["health_score"] for c in body["results"]] == [60, 90]

    assert client.get(BASE, {"search": "customer 3"}).json()["results"][0]["health_score"] == 90

    first = client.get(BASE, {"page_size": 2, "ordering": "-health_score"}).json()
    assert [c["health_score"] for c in first["results"]] == [95, 90]
    assert first["previous"] is None and first["next"]
    second = client.get(first["next"]).json()
    assert [c["health_score"] for c in second["results"]] == [60, 40]


@pytest.mark.parametrize(
    "params",
    [
        {"risk_level": "extreme"},
        {"health_score_min": "abc"},
        {"updated_since": "yesterday"},
        {"page_size": 501},
        {"page_size": "x"},
        {"ordering": "password"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_invalid_filter_values_are_400(api, params):
    assert_problem(api().get(BASE, params), 400, "validation-error")


def test_bad_choice_and_bad_json_are_400(api):
    client = api()
    body = assert_problem(client.post(BASE, {"name": "X", "risk_level": "severe"}, format="json"), 400)
    assert body["errors"][0]["field"] == "risk_level" and body["errors"][0]["code"] == "invalid_choice"
    body = assert_problem(
        client.post(BASE, {"name": "X", "integration_status": {"sales": "won"}}, format="json"), 400
    )
    assert body["errors"][0]["field"] == "integration_status.sales"
    assert_problem(
        client.post(BASE, data="{not json", content_type="application/json"), 400, "malformed-request"
    )
    assert_problem(client.post(BASE, data="name=x", content_type="application/x-www-form-urlencoded"), 415)


def test_unknown_customer_and_unknown_path_are_problem_404(api):
    client = api()
    assert_problem(client.get(f"{BASE}/cust_missing"), 404)
    response = client.get("/api/v1/cs-integration/nothing-here")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert_problem(client.post(f"{BASE}/cust_missing", {}, format="json"), 405)


def test_no_token_or_bad_token_is_401_with_bearer_challenge():
    response = APIClient().get(BASE)
    body = assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert body["type"].endswith("not-authenticated")
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad.get(BASE).status_code == 401


def test_missing_scope_is_403_naming_the_scope(api):
    reader = api(scopes="customers:read")
    assert reader.get(BASE).status_code == 200
    body = assert_problem(reader.post(BASE, {"name": "X"}, format="json"), 403)
    assert "customers:write" in body["detail"]
    assert "customers:read" in assert_problem(api(scopes="marketing:read").get(BASE), 403)["detail"]


def test_token_cannot_carry_scopes_the_client_was_not_given(make_integration_client):
    credentials = make_integration_client(scopes="customers:read")
    response = Client().post(
        "/o/token/",
        {
            "grant_type": "client_credentials",
            "scope": "customers:write",
            "client_id": credentials.client.client_id,
            "client_secret": credentials.client_secret,
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


def test_password_grant_is_refused(make_integration_client):
    credentials = make_integration_client()
    response = Client().post(
        "/o/token/",
        {
            "grant_type": "password",
            "username": "x",
            "password": "y",
            "client_id": credentials.client.client_id,
            "client_secret": credentials.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_bulk_upsert_with_mixed_records(api):
    client = api()
    client.post(BASE, SEED_CUSTOMER, format="json")
    response = signed_bulk(
        client,
        {
            "customers": [
                {"name": "New One", "health_score": 70},
                {"customer_id": "cust_12345", "health_score": 20},
                {"name": "Broken", "risk_level": "severe"},
                {"customer_id": "cust_new2", "name": "New Two"},
                {"customer_id": "cust_new2", "name": "Twice"},
            ]
        },
    )
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "updated", "error", "created", "error"]
    assert results[2]["errors"][0]["field"] == "risk_level"
    assert results[4]["errors"][0]["code"] == "duplicate"
    assert Customer.objects.get(pk="cust_12345").health_score == 20
    assert Customer.objects.get(pk="cust_12345").risk_level == "critical"
    assert Customer.objects.filter(name__in=["New One", "New Two"]).count() == 2
    assert not Customer.objects.filter(name="Broken").exists()


def test_bulk_all_valid_is_200_and_uses_few_queries(api):
    client = api()
    records = [{"customer_id": f"cust_bulk{i}", "name": f"Bulk {i}"} for i in range(300)]
    with CaptureQueriesContext(connection) as queries:
        response = signed_bulk(client, {"customers": records})
    assert response.status_code == 200
    assert Customer.objects.filter(customer_id__startswith="cust_bulk").count() == 300
    # Creates now keep each customer's first score (snapshots) under its scorecard: a few more queries,
    # still a constant number per batch (SQLite splits each multi-row INSERT at its parameter limit).
    assert len(queries) < 32, len(queries)

    updates = [{"customer_id": f"cust_bulk{i}", "health_score": 90} for i in range(300)]
    with CaptureQueriesContext(connection) as queries:
        response = signed_bulk(client, {"customers": updates})
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"updated"}
    # Scores go through the health engine in one set-based pass (the customers' recent scores and signals,
    # then bulk writes of the scores, snapshots and health_score_change events).
    assert len(queries) < 45, len(queries)
    assert Customer.objects.filter(health_score=90).count() == 300


def test_bulk_update_of_fields_and_scores_writes_each_table_once(api):
    """Records that change fields and scores together: the fields and the engine's decisions reach the
    customers in one UPDATE, the engine's events and the records' customer.updated in one publish, and
    each snapshot names the health_score_change it published."""
    from csintegration.events.models import Event
    from domains.customers.models import HealthSnapshot

    client = api()
    records = [{"customer_id": f"cust_both{i}", "name": f"Both {i}", "health_score": 80} for i in range(150)]
    assert signed_bulk(client, {"customers": records}).status_code == 200
    before = {c.pk: c.updated_at for c in Customer.objects.filter(pk__startswith="cust_both")}
    changes = [
        {
            "customer_id": f"cust_both{i}",
            **({"name": f"Renamed {i}"} if i % 2 else {}),
            "health_score": 10 + i % 3,
        }
        for i in range(150)
    ]
    changes.append({"customer_id": "cust_both0", "name": "Twice"})  # refused: only the first counts
    with CaptureQueriesContext(connection) as queries:
        response = signed_bulk(client, {"customers": changes})
    assert response.status_code == 207
    customer_updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "customers_customer"')]
    # One statement on PostgreSQL; elsewhere bulk_update splits it at the database's parameter limit.
    assert len(customer_updates) == 1 or connection.vendor != "postgresql", customer_updates

    for customer in Customer.objects.filter(pk__startswith="cust_both"):
        index = int(customer.pk.removeprefix("cust_both"))
        assert customer.name == (f"Renamed {index}" if index % 2 else f"Both {index}")
        assert (customer.health_score, customer.risk_level) == (10 + index % 3, "critical")
        assert customer.updated_at > before[customer.pk]
    updated = {e.customer_id: e.payload for e in Event.objects.filter(event_type="customer.updated")}
    assert set(updated["cust_both1"]["changed_fields"]) >= {"name", "health_score", "risk_level"}
    assert "name" not in updated["cust_both2"]["changed_fields"]
    assert updated["cust_both2"]["changes"]["health_score"] == {"previous": 80, "current": 12}
    changed = {e.customer_id: e.event_id for e in Event.objects.filter(event_type="health_score_change")}
    churn = {e.customer_id: e.event_id for e in Event.objects.filter(event_type="churn_risk_detected")}
    assert len(changed) == len(churn) == 150
    latest = HealthSnapshot.objects.filter(customer__pk__startswith="cust_both", source="manual")
    assert {s.customer_id: (s.event_id, s.churn_event_id) for s in latest} == {
        key: (changed[key], churn[key]) for key in changed
    }


def test_bulk_refuses_more_than_1000_records(api):
    response = signed_bulk(api(), {"customers": [{"name": "x"}] * 1001})
    assert_problem(response, 400)


def test_idempotent_replay_and_conflict(api):
    client = api()
    first = client.post(BASE, {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert first.status_code == 201
    again = client.post(BASE, {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Customer.objects.filter(name="Once").count() == 1

    other = client.post(BASE, {"name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert_problem(other, 422, "idempotency-key-reused")


def test_idempotency_in_progress_is_409(api):
    from csintegration.api.models import IdempotencyRecord

    client = api()
    IdempotencyRecord.objects.create(
        client_key=client.integration.client.client_id,
        key="busy",
        method="POST",
        path=BASE,
        fingerprint="x",
    )
    # Same key while the first is "running": the fingerprint check comes first, so match it.
    import hashlib

    body = b'{"name":"Busy"}'
    fingerprint = hashlib.sha256(b"POST\n" + BASE.encode() + b"\n" + body).hexdigest()
    IdempotencyRecord.objects.filter(key="busy").update(fingerprint=fingerprint)
    response = client.post(BASE, data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy")
    assert_problem(response, 409, "idempotency-in-progress")


def test_request_id_is_echoed_or_generated(api):
    client = api()
    assert client.get(BASE, HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get(BASE, HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32


def test_delete_is_signed_and_an_unsigned_delete_is_401(api):
    client = api()
    client.post(BASE, SEED_CUSTOMER, format="json")
    path = f"{BASE}/cust_12345"
    assert_problem(client.delete(path), 401, "signature-required")
    assert Customer.objects.filter(pk="cust_12345").exists()

    response = client.delete(path, **sign_request_kwargs(client.integration, "DELETE", path))
    assert response.status_code == 204, response.content
    assert not Customer.objects.filter(pk="cust_12345").exists()


def test_unsigned_bulk_is_401(api):
    response = api().post(f"{BASE}/bulk", {"customers": [{"name": "Unsigned"}]}, format="json")
    assert_problem(response, 401, "signature-required")
    assert not Customer.objects.filter(name="Unsigned").exists()
