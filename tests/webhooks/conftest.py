"""Fixtures of the webhook tests: a real local receiver, a real Celery worker, a beat stand-in, and
clients with the ``webhooks:manage`` scope."""

import threading
from collections.abc import Iterator

import pytest

from tests.celery_support import celery_test_app, celery_worker  # noqa: F401  (fixtures)

BASE = "/api/v1/cs-integration/webhooks"
LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.fixture(scope="session")
def httpserver_listen_address():
    # A literal address, so endpoint URLs need no name resolution.
    return ("127.0.0.1", 0)


@pytest.fixture
def loopback_allowed(settings):
    """Admit the local receiver: tests register http://127.0.0.1 URLs as an on-premise receiver would."""
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    return settings


@pytest.fixture
def fast_schedule(loopback_allowed):
    """Retries after 0.1 s, 0.1 s, 0.1 s; no jitter; a short attempt timeout."""
    settings = loopback_allowed
    settings.WEBHOOK_RETRY_SCHEDULE = [0.1, 0.1, 0.1]
    settings.WEBHOOK_RETRY_JITTER = 0
    settings.WEBHOOK_TIMEOUT_SECONDS = 3
    return settings


@pytest.fixture
def webhook_api(api):
    """An API client with the webhooks:manage scope, as one OAuth client (which may read the customer
    events that the tests subscribe to)."""

    def _make(scopes: str = "webhooks:manage customers:read", **kwargs):
        return api(scopes=scopes, **kwargs)

    return _make


@pytest.fixture
def register_endpoint():
    """Register an endpoint through the API; returns the 201 body (with its secret)."""

    def _register(client, url: str, events=("*",), **extra) -> dict:
        response = client.post(BASE, {"url": url, "events": list(events), **extra}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return _register


@pytest.fixture
def beat(request) -> Iterator[None]:
    """Stands in for celery beat: sends ``webhooks.dispatch_due_deliveries`` every 0.1 s to the worker."""
    from webhooks.tasks import dispatch_due_deliveries

    request.getfixturevalue("celery_worker")

    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.1):
            dispatch_due_deliveries.apply_async()

    thread = threading.Thread(target=tick, name="test-beat", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)
