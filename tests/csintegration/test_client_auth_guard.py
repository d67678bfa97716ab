"""Client authentication at /o/ cannot be turned against the platform: failures are throttled per
client and per address, a repeated wrong secret is not hashed again, hashing has a bounded number of
slots, and a client holds a bounded number of live tokens."""

import base64
import secrets

import pytest
from django.test import Client
from oauth2_provider import oauth2_validators
from oauth2_provider.models import get_access_token_model
from rest_framework.test import APIClient

from csintegration.clients import auth_guard

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/cs-integration/customers"


def _address() -> str:
    # A fresh source address per test, so windows counted by earlier runs (in Redis) do not interfere.
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def _token_request(client_id: str, secret: str, address: str, path: str = "/o/token/"):
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    data = {"grant_type": "client_credentials"} if path == "/o/token/" else {"token": "x"}
    return Client().post(path, data, HTTP_AUTHORIZATION=f"Basic {pair}", REMOTE_ADDR=address)


@pytest.fixture
def counted_hashes(monkeypatch):
    calls = []
    original = oauth2_validators.check_password

    def counting(provided, stored, *args, **kwargs):
        calls.append(provided)
        return original(provided, stored, *args, **kwargs)

    monkeypatch.setattr(oauth2_validators, "check_password", counting)
    return calls


def test_failures_are_throttled_per_client_then_even_the_right_secret_waits(
    make_integration_client, settings, counted_hashes
):
    settings.OAUTH_FAILED_AUTH_PER_CLIENT = "3/minute"
    credentials = make_integration_client()
    client_id, address = credentials.client.client_id, _address()
    for attempt in range(3):
        response = _token_request(client_id, f"wrong-{attempt}", address)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    hashed = len(counted_hashes)
    throttled = _token_request(client_id, credentials.client_secret, address)
    assert throttled.status_code == 429, throttled.content
    assert throttled["Content-Type"].startswith("application/json")
    assert throttled.json()["error"] == "slow_down" and int(throttled["Retry-After"]) >= 1
    assert len(counted_hashes) == hashed  # refused before any hash
    # Another client from elsewhere is not affected.
    other = make_integration_client()
    assert _token_request(other.client.client_id, other.client_secret, _address()).status_code == 200


def test_failures_are_throttled_per_address_across_client_ids(make_integration_client, settings):
    settings.OAUTH_FAILED_AUTH_PER_ADDRESS = "4/minute"
    address = _address()
    clients = [make_integration_client() for _ in range(3)]
    statuses = [
        _token_request(credentials.client.client_id, "wrong", address).status_code
        for credentials in clients
        for _ in range(2)
    ]
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}
    introspected = _token_request(
        clients[0].client.client_id, clients[0].client_secret, address, "/o/introspect/"
    )
    assert introspected.status_code == 429 and introspected.json()["error"] == "slow_down"


def test_a_repeated_wrong_secret_is_not_hashed_again(make_integration_client, counted_hashes):
    credentials = make_integration_client()
    address = _address()
    for _ in range(3):
        assert _token_request(credentials.client.client_id, "same-wrong", address).status_code == 401
    assert counted_hashes.count("same-wrong") == 1
    assert _token_request(credentials.client.client_id, credentials.client_secret, address).status_code == 200


def test_when_every_hashing_slot_is_taken_the_check_is_refused_at_once(
    make_integration_client, settings, mailoutbox
):
    settings.OAUTH_SECRET_CHECKS_AT_ONCE = 2
    settings.OAUTH_SECRET_CHECK_WAIT_SECONDS = 0.01
    credentials = make_integration_client()
    semaphore = auth_guard.slots.semaphore()
    assert semaphore.acquire(blocking=False) and semaphore.acquire(blocking=False)
    try:
        busy = _token_request(credentials.client.client_id, credentials.client_secret, _address())
    finally:
        semaphore.release()
        semaphore.release()
    assert busy.status_code == 503 and busy["Retry-After"] == "1"
    assert busy.json()["error"] == "temporarily_unavailable"
    assert mailoutbox == []  # a refusal, not a server error: no email to the operators per request
    assert (
        _token_request(credentials.client.client_id, credentials.client_secret, _address()).status_code == 200
    )


def test_past_the_live_token_bound_the_oldest_tokens_are_revoked(make_integration_client, settings):
    settings.OAUTH_MAX_LIVE_TOKENS_PER_CLIENT = 2
    credentials = make_integration_client()
    address = _address()
    tokens = [
        _token_request(credentials.client.client_id, credentials.client_secret, address).json()
        for _ in range(3)
    ]
    live = get_access_token_model().objects.filter(application=credentials.client)
    assert live.count() == 2

    def status_with(token):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
        return api.get(CUSTOMERS).status_code

    assert [status_with(token) for token in tokens] == [401, 200, 200]
