"""Fixtures of the marketing tests: clients with the marketing scopes, customers with known success
metrics, and the fan-out of events run in the test's own thread."""

import importlib

import pytest

from csintegration.events.models import Event
from csintegration.events.services import event_dispatch
from domains.customers import services as customer_services
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)

MARKETING_SCOPES = "marketing:read marketing:write"
BASE = "/api/v1/cs-marketing"
PROBLEM = "application/problem+json"


@pytest.fixture
def shipped_defaults(transactional_db):
    """The segments, trigger rules and stage actions the migrations ship, which the flush after an
    earlier transactional test removed: created again (the migration's own, idempotent, function)."""
    from django.apps import apps

    importlib.import_module("domains.marketing.migrations.0002_defaults").create_defaults(apps, None)


@pytest.fixture
def marketing_api(api):
    """An APIClient whose token may read and write marketing."""
    return api(scopes=MARKETING_SCOPES)


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str, **data):
        data.setdefault("name", f"Customer {customer_id}")
        return customer_services.customer_create(customer_id=customer_id, data=data)

    return _make


def events_of(event_type: str, customer_id: str | None = None) -> list[Event]:
    events = Event.objects.filter(event_type=event_type).order_by("occurred_at", "event_id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events)


def dispatch_pending(event_types=None) -> int:
    """Run the fan-out of every undispatched event (oldest first) in this thread, as a worker would."""
    pending = Event.objects.filter(dispatched_at__isnull=True).order_by("occurred_at", "event_id")
    if event_types:
        pending = pending.filter(event_type__in=list(event_types))
    count = 0
    for event_id in list(pending.values_list("event_id", flat=True)):
        event_dispatch(event_id=event_id)
        count += 1
    return count


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["instance"] == response.wsgi_request.path
    assert body["request_id"] == response["X-Request-ID"]
    if slug:
        assert body["type"].endswith(slug), body["type"]
    return body


def error_fields(response) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}
