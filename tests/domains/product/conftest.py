"""Fixtures of the product tests: clients with the product scopes, customers, features, signed requests."""

import json

import pytest

from csintegration.events.models import Event
from domains.customers import services as customer_services
from domains.product import services
from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)
from tests.conftest import sign_request_kwargs

PRODUCT_SCOPES = "product:read product:write"
BASE = "/api/v1/cs-product"


@pytest.fixture
def product_api(api):
    """An APIClient whose token may read and write the product area."""
    return api(scopes=PRODUCT_SCOPES)


@pytest.fixture
def make_customer(db):
    def _make(customer_id: str = "cust_12345", **data):
        data.setdefault("name", f"Customer {customer_id}")
        return customer_services.customer_create(customer_id=customer_id, data=data)

    return _make


@pytest.fixture
def make_feature(db):
    def _make(feature_id: str = "feat_analytics", **data):
        data.setdefault("name", feature_id.removeprefix("feat_").replace("_", " ").title())
        return services.feature_create(feature_id=feature_id, data=data)

    return _make


def record_usage(*triples):
    """Record (customer_id, feature_id, date, count) through the service, as the API does."""
    return services.usage_record_many(
        items=[
            services.UsageInput(index, customer_id, feature_id, day, count)
            for index, (customer_id, feature_id, day, count) in enumerate(triples)
        ]
    )


def signed_post(client, path: str, body: dict):
    raw = json.dumps(body).encode()
    headers = sign_request_kwargs(client.integration, "POST", path, raw)
    return client.post(path, data=raw, content_type="application/json", **headers)


def events_of(event_type: str, customer_id: str | None = None) -> list[Event]:
    events = Event.objects.filter(event_type=event_type).order_by("occurred_at", "event_id")
    if customer_id is not None:
        events = events.filter(customer_id=customer_id)
    return list(events)
