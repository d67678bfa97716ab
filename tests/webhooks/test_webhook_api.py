"""The webhook management API with real tokens: registration, validation, isolation, rotation, deliveries."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from csintegration.events.types import event_types
from tests.conftest import openapi_document, query_parameter_schema
from webhooks.models import Attempt, Delivery, DeliveryStatus, Message, WebhookEndpoint

from .conftest import BASE

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
PUBLIC_URL = "https://93.184.215.14/hooks"  # a literal public address: no DNS needed


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["detail"]
    if slug:
        assert body["type"].endswith(slug), body["type"]
    return body


def make_delivery(
    endpoint_id: str, *, status=DeliveryStatus.FAILED, event_type="health_score_change", **extra
):
    message = Message.objects.create(
        event_id=f"evt_{Message.objects.count() + 1:026d}",
        event_type=event_type,
        customer_id="cust_1",
        body=json.dumps({"event": event_type}),
        occurred_at=timezone.now(),
    )
    return Delivery.objects.create(
        message=message, endpoint_id=endpoint_id, event_type=event_type, status=status, **extra
    )


def test_register_returns_id_and_secret_once(webhook_api):
    client = webhook_api()
    response = client.post(
        BASE,
        {"url": PUBLIC_URL, "events": ["health_score_change", "churn_risk_detected"], "description": "CRM"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("ep_")
    assert response["Location"].endswith(f"{BASE}/{body['id']}")
    assert body["secret"].startswith("whsec_")
    assert 24 <= len(base64.b64decode(body["secret"][len("whsec_") :])) <= 32
    assert body["events"] == ["health_score_change", "churn_risk_detected"]
    assert body["is_active"] is True and body["description"] == "CRM"

    detail = client.get(f"{BASE}/{body['id']}").json()
    assert "secret" not in detail and detail["url"] == PUBLIC_URL
    listed = client.get(BASE).json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert "secret" not in listed["results"][0] and listed["next"] is None

    stored = WebhookEndpoint.objects.get(pk=body["id"])
    assert stored.secret == body["secret"]
    assert stored.client == client.integration.client


def test_secret_is_stored_encrypted(webhook_api, register_endpoint):
    from django.db import connection

    endpoint = register_endpoint(webhook_api(), PUBLIC_URL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint WHERE id = %s", [endpoint["id"]])
        (raw,) = cursor.fetchone()
    assert endpoint["secret"] not in raw and raw.startswith("enc:")


def test_wildcard_and_unknown_event_types(webhook_api):
    client = webhook_api()
    assert client.post(BASE, {"url": PUBLIC_URL, "events": ["*"]}, format="json").status_code == 201
    body = assert_problem(
        client.post(BASE, {"url": PUBLIC_URL, "events": ["health_score_change", "nope"]}, format="json"),
        400,
        "validation-error",
    )
    assert body["errors"][0]["field"] == "events" and "nope" in body["errors"][0]["message"]
    assert_problem(client.post(BASE, {"url": PUBLIC_URL, "events": []}, format="json"), 400)
    assert_problem(
        client.post(BASE, {"url": PUBLIC_URL, "events": ["*", "customer.created"]}, format="json"), 400
    )
    assert_problem(client.post(BASE, {"url": PUBLIC_URL}, format="json"), 400)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://93.184.215.14/hooks", "https"),
        ("ftp://93.184.215.14/hooks", "https"),
        ("not a url", "https"),
        ("https://user:pw@93.184.215.14/hooks", "credentials"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://10.0.0.1/hooks", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/hooks", "loopback"),
        ("https://[fd00::1]/hooks", "private"),
        ("https://100.64.0.1/hooks", "shared"),
        ("https://0.0.0.0/hooks", "unspecified"),
        ("https://224.0.0.1/hooks", "multicast"),
        ("https://240.0.0.1/hooks", "reserved"),
        ("https://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("https://localhost/hooks", "loopback"),
        ("https://no-such-host.invalid/hooks", "could not be resolved"),
    ],
)
def test_unsafe_urls_are_refused_at_registration(webhook_api, url, fragment):
    body = assert_problem(
        webhook_api().post(BASE, {"url": url, "events": ["*"]}, format="json"), 400, "validation-error"
    )
    assert body["errors"][0]["field"] == "url"
    assert fragment in body["errors"][0]["message"], body
    assert not WebhookEndpoint.objects.exists()


def test_allowed_networks_admit_local_receivers(webhook_api, loopback_allowed):
    client = webhook_api()
    for url in ("http://127.0.0.1:9/hooks", "http://[::1]:9/hooks", "http://localhost:9/hooks"):
        assert client.post(BASE, {"url": url, "events": ["*"]}, format="json").status_code == 201, url
    # The exception covers only the networks listed.
    assert_problem(client.post(BASE, {"url": "http://10.0.0.1/hooks", "events": ["*"]}, format="json"), 400)


def test_patch_and_delete(webhook_api, register_endpoint):
    client = webhook_api()
    endpoint = register_endpoint(client, PUBLIC_URL, events=["health_score_change"])
    path = f"{BASE}/{endpoint['id']}"

    patched = client.patch(
        path, {"events": ["customer.created"], "description": "changed", "is_active": False}, format="json"
    )
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert body["events"] == ["customer.created"] and body["description"] == "changed"
    assert body["is_active"] is False and body["disabled_reason"] == "manual" and body["disabled_at"]

    assert [item["id"] for item in client.get(BASE, {"is_active": "false"}).json()["results"]] == [
        endpoint["id"]
    ]
    assert client.get(BASE, {"is_active": "true"}).json()["results"] == []
    assert_problem(client.get(BASE, {"is_active": "null"}), 400)

    reenabled = client.patch(path, {"is_active": True}, format="json").json()
    assert (
        reenabled["is_active"] is True
        and reenabled["disabled_reason"] == ""
        and reenabled["disabled_at"] is None
    )

    assert_problem(client.patch(path, {"url": "https://10.1.2.3/x"}, format="json"), 400)
    assert_problem(client.patch(path, {"events": ["bogus"]}, format="json"), 400)
    assert_problem(client.put(path, {"url": PUBLIC_URL, "events": ["*"]}, format="json"), 405)

    assert client.delete(path).status_code == 204
    assert_problem(client.get(path), 404)


def test_endpoints_of_another_client_do_not_exist(webhook_api, register_endpoint):
    owner, stranger = webhook_api(name="owner"), webhook_api(name="stranger")
    endpoint = register_endpoint(owner, PUBLIC_URL)
    delivery = make_delivery(endpoint["id"])
    path = f"{BASE}/{endpoint['id']}"

    assert stranger.get(BASE).json()["results"] == []
    assert_problem(stranger.get(path), 404)
    assert_problem(stranger.patch(path, {"description": "mine"}, format="json"), 404)
    assert_problem(stranger.delete(path), 404)
    assert_problem(stranger.post(f"{path}/rotate-secret"), 404)
    assert_problem(stranger.get(f"{path}/deliveries"), 404)
    assert_problem(stranger.post(f"{path}/deliveries/{delivery.pk}/retry"), 404)
    assert_problem(stranger.post(f"{path}/replay", {"since": "2020-01-01T00:00:00Z"}, format="json"), 404)
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).description == ""
    assert owner.get(path).status_code == 200


def test_scope_is_required(api, webhook_api):
    assert_problem(api(scopes="customers:read customers:write").get(BASE), 403)
    assert_problem(
        api(scopes="customers:read").post(BASE, {"url": PUBLIC_URL, "events": ["*"]}, format="json"), 403
    )
    assert webhook_api().get(BASE).status_code == 200
    anonymous = webhook_api()
    anonymous.credentials()
    assert_problem(anonymous.get(BASE), 401)


def test_rotate_secret_keeps_the_previous_one_for_a_day(webhook_api, register_endpoint):
    client = webhook_api()
    endpoint = register_endpoint(client, PUBLIC_URL)
    response = client.post(f"{BASE}/{endpoint['id']}/rotate-secret")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != endpoint["secret"]
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert stored.secret == body["secret"] and stored.previous_secret == endpoint["secret"]
    remaining = stored.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)
    assert (
        client.get(f"{BASE}/{endpoint['id']}").json()["secret_rotation_ends_at"]
        == body["previous_secret_expires_at"]
    )


def test_delivery_list_with_attempts_and_filters(webhook_api, register_endpoint):
    client = webhook_api()
    endpoint = register_endpoint(client, PUBLIC_URL)
    failed = make_delivery(endpoint["id"], attempt_count=2, last_status_code=500)
    Attempt.objects.create(
        delivery=failed, number=1, status_code=500, duration_ms=12, response_excerpt="boom"
    )
    Attempt.objects.create(delivery=failed, number=2, error="Connection failed: refused", duration_ms=3)
    succeeded = make_delivery(endpoint["id"], status=DeliveryStatus.SUCCEEDED, event_type="customer.created")
    path = f"{BASE}/{endpoint['id']}/deliveries"

    body = client.get(path).json()
    assert [item["id"] for item in body["results"]] == [succeeded.pk, failed.pk]
    item = body["results"][1]
    assert item["message_id"].startswith("msg_") and item["event_id"].startswith("evt_")
    assert item["status"] == "failed" and item["attempt_count"] == 2
    assert item["attempts"] == [
        {
            "number": 1,
            "status_code": 500,
            "duration_ms": 12,
            "response_excerpt": "boom",
            "error": "",
            "succeeded": False,
            "created_at": item["attempts"][0]["created_at"],
        },
        {
            "number": 2,
            "status_code": None,
            "duration_ms": 3,
            "response_excerpt": "",
            "error": "Connection failed: refused",
            "succeeded": False,
            "created_at": item["attempts"][1]["created_at"],
        },
    ]
    assert [i["id"] for i in client.get(path, {"status": "failed"}).json()["results"]] == [failed.pk]
    assert [i["id"] for i in client.get(path, {"event_type": "customer.created"}).json()["results"]] == [
        succeeded.pk
    ]
    assert client.get(path, {"page_size": 1}).json()["next"]
    assert_problem(client.get(path, {"status": "lost"}), 400)
    assert_problem(client.get(path, {"event_type": "nope"}), 400)
    assert client.get(f"{path}/{failed.pk}").json()["id"] == failed.pk


def test_retry_and_replay_validation(webhook_api, register_endpoint):
    client = webhook_api()
    endpoint = register_endpoint(client, PUBLIC_URL)
    pending = make_delivery(endpoint["id"], status=DeliveryStatus.PENDING, next_attempt_at=timezone.now())
    path = f"{BASE}/{endpoint['id']}"
    assert_problem(client.post(f"{path}/deliveries/{pending.pk}/retry"), 409, "webhook-conflict")
    assert_problem(client.post(f"{path}/deliveries/dlv_doesnotexist/retry"), 404)
    assert_problem(client.post(f"{path}/replay", {}, format="json"), 400)
    assert_problem(client.post(f"{path}/replay", {"since": "yesterday"}, format="json"), 400)
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert_problem(client.post(f"{path}/replay", {"since": future}, format="json"), 400)

    client.patch(path, {"is_active": False}, format="json")
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.FAILED  # disabling fails what was pending
    assert_problem(client.post(f"{path}/deliveries/{pending.pk}/retry"), 409, "webhook-conflict")
    assert_problem(client.post(f"{path}/replay", {"since": "2020-01-01T00:00:00Z"}, format="json"), 409)


def test_the_delivery_filter_names_the_event_types_it_takes():
    operation = openapi_document()["paths"][f"{BASE}/{{endpoint_id}}/deliveries"]["get"]
    assert query_parameter_schema(operation, "event_type")["items"]["enum"] == [t.name for t in event_types()]
