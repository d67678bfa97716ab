"""Fixtures of the finance tests: clients with the finance scopes, customers, contracts and payments
written through the services, signed requests, and the sales app present (a fake) or absent."""

import json
import sys
from datetime import date, timedelta
from decimal import Decimal

import pytest

from csintegration.events.models import Event
from domains.customers import services as customer_services
from domains.finance import services
from domains.finance.selectors import today
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)
from tests.conftest import sign_request_kwargs

from . import fake_sales

FINANCE_SCOPES = "finance:read finance:write"
BASE = "/api/v1/cs-finance"
PROBLEM = "application/problem+json"


@pytest.fixture
def finance_api(api):
    """An APIClient whose token may read and write finance (and read customers)."""
    return api(scopes=f"{FINANCE_SCOPES} customers:read")


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str = "cust_12345", **data):
        data.setdefault("name", f"Customer {customer_id}")
        return customer_services.customer_create(customer_id=customer_id, data=data)

    return _make


@pytest.fixture
def make_contract(db):
    def _make(customer, value, start: date, end: date):
        return services.contract_create(
            customer=customer, contracted_value=Decimal(str(value)), start_date=start, end_date=end
        )

    return _make


def days(n: int) -> date:
    """Today plus ``n`` days (negative: in the past)."""
    return today() + timedelta(days=n)


def signed_post(client, path: str, body, raw: bytes | None = None):
    raw = raw if raw is not None else json.dumps(body).encode()
    headers = sign_request_kwargs(client.integration, "POST", path, raw)
    return client.post(path, data=raw, content_type="application/json", **headers)


def events_of(event_type: str, customer_id: str | None = None) -> list[Event]:
    events = Event.objects.filter(event_type=event_type).order_by("occurred_at", "event_id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events)


def assert_problem(response, status: int, field: str | None = None, slug: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["instance"] == response.wsgi_request.path
    assert body["request_id"] == response["X-Request-ID"]
    if slug:
        assert body["type"].endswith(slug), body["type"]
    if field:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body


@pytest.fixture
def sales_present(monkeypatch):
    """The sales app's public reads answer from ``fake_sales`` (fill its dictionaries)."""
    fake_sales.reset()
    monkeypatch.setitem(sys.modules, "domains.sales.selectors", fake_sales)
    yield fake_sales
    fake_sales.reset()


@pytest.fixture
def sales_absent(monkeypatch):
    """The sales app's reads cannot be imported, whatever this tree holds."""
    monkeypatch.setitem(sys.modules, "domains.sales.selectors", None)
