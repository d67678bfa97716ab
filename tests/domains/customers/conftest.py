"""Fixtures of the customer tests: clients with the health scopes, customers with a known score, events."""

import json

import pytest

from csintegration.events.models import Event
from domains.customers import services
from tests.conftest import sign_request_kwargs

HEALTH_SCOPES = "customers:read customers:write events:write"


@pytest.fixture
def health_api(api):
    """An APIClient whose token may read customers and send events and signals."""
    return api(scopes=HEALTH_SCOPES)


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str = "cust_12345", **data):
        data.setdefault("name", "Acme Analytics")
        return services.customer_create(customer_id=customer_id, data=data)

    return _make


def signed_post(client, path: str, body: dict):
    raw = json.dumps(body).encode()
    headers = sign_request_kwargs(client.integration, "POST", path, raw)
    return client.post(path, data=raw, content_type="application/json", **headers)


def events_of(event_type: str, customer_id: str | None = None) -> list[Event]:
    events = Event.objects.filter(event_type=event_type).order_by("occurred_at", "event_id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events)
