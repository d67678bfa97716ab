"""``Idempotency-Key``: replays keep their media type, and a claim never outlives its request."""

import pytest

from csintegration.api import idempotency
from csintegration.api.models import IdempotencyRecord

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/cs-integration/customers"


def test_a_replayed_problem_is_still_problem_json(api):
    client = api()
    first = client.post(CUSTOMERS, {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="bad-body")
    again = client.post(CUSTOMERS, {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="bad-body")
    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"
    assert first["Content-Type"] == again["Content-Type"] == "application/problem+json"
    assert again.json() == first.json()


def test_a_replayed_success_is_json_with_its_location(api):
    client = api()
    body = {"customer_id": "cust_replay1", "name": "Replay"}
    first = client.post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="good-body")
    again = client.post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="good-body")
    assert first.status_code == again.status_code == 201
    assert again["Content-Type"] == "application/json" and again["Location"] == first["Location"]


@pytest.mark.parametrize("key", ["", " ", "a" * 256, "tab\there", "é"])
def test_a_malformed_key_is_refused(api, key):
    response = api().post(CUSTOMERS, {"name": "X"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400, response.content
    assert response.json()["type"].endswith("invalid-idempotency-key")


def test_an_answer_that_cannot_be_stored_releases_the_key(api, monkeypatch):
    client = api()
    original_save = IdempotencyRecord.save

    def failing_save(self, *args, **kwargs):
        if kwargs.get("update_fields"):
            raise RuntimeError("storage failed")
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(IdempotencyRecord, "save", failing_save)
    body = {"customer_id": "cust_release1", "name": "Release"}
    assert client.post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    assert not IdempotencyRecord.objects.filter(key="k1").exists()


def test_an_exception_past_the_view_releases_the_key(api, monkeypatch):
    client = api()
    client.raise_request_exception = False

    def broken_complete(record, response):
        raise RuntimeError("boom")

    monkeypatch.setattr(idempotency, "complete", broken_complete)
    response = client.post(CUSTOMERS, {"name": "Boom"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert not IdempotencyRecord.objects.filter(key="k2").exists()
    monkeypatch.undo()
    retried = client.post(CUSTOMERS, {"name": "Boom"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert retried.status_code == 201, retried.content


def test_a_server_error_releases_the_key(api, monkeypatch):
    from domains.customers import services

    client = api()
    client.raise_request_exception = False

    def failing_create(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services, "customer_create", failing_create)
    response = client.post(CUSTOMERS, {"name": "Fire"}, format="json", HTTP_IDEMPOTENCY_KEY="k3")
    assert response.status_code == 500
    assert not IdempotencyRecord.objects.filter(key="k3").exists()
