"""Fixtures of the sales tests: clients with the sales scopes, customers with known metrics, signed posts,
and the events a test published."""

import json

import pytest

from csintegration.events.models import Event
from domains.customers import services as customer_services
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)
from tests.conftest import sign_request_kwargs

SALES_SCOPES = "sales:read sales:write customers:read customers:write"
PROBLEM = "application/problem+json"
BASE = "/api/v1/cs-sales"

SEED_HANDOFF = {
    "customer_id": "cust_12345",
    "handoff_data": {
        "deal_value": 150000,
        "contract_terms": "3_year",
        "key_stakeholders": ["john.doe@company.com"],
        "success_criteria": ["adoption_target", "roi_target"],
        "sales_notes": "Strong technical champion, budget confirmed",
    },
    "success_initiation": {
        "onboarding_start": "2025-12-05",
        "success_manager": "sarah.smith@company.com",
        "first_check_in": "2025-12-12",
    },
}
#: what must never leave the platform in the clear
SECRETS = ("john.doe@company.com", "Strong technical champion")


@pytest.fixture
def sales_api(api):
    """An APIClient whose token may read and write sales and customers."""
    return api(scopes=SALES_SCOPES)


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str = "cust_12345", **data):
        data.setdefault("name", "Acme Analytics")
        return customer_services.customer_create(customer_id=customer_id, data=data)

    return _make


def signed_post(client, path: str, body, *, content_type: str = "application/json", **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign_request_kwargs(client.integration, "POST", path, raw)
    return client.post(path, data=raw, content_type=content_type, **headers, **extra)


def events_of(event_type: str, customer_id: str | None = None) -> list[Event]:
    events = Event.objects.filter(event_type=event_type).order_by("occurred_at", "event_id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events)


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["instance"] == response.wsgi_request.path
    assert body["request_id"] == response["X-Request-ID"]
    if slug:
        assert body["type"].endswith(slug), body["type"]
    return body


def error_fields(response) -> set[str]:
    return {error["field"] for error in assert_problem(response, 400, "validation-error")["errors"]}
