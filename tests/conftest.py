"""Shared fixtures: real OAuth clients and tokens from ``/o/token/``, and the services policy.

Tests that need PostgreSQL or Redis are marked ``services`` and skip on the embedded run; with
``REQUIRE_SERVICES=1`` (the services run of ``.ci/run``) any skip is turned into a failure.
"""

import base64
import json
import os

import pytest
import requests
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from csintegration.clients.services import client_create
from csintegration.events import register_event_type
from examples.signed_request import sign_request

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
HAS_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
HAS_REDIS = bool(settings.REDIS_URL)


# Event types of the platform's own tests, one per area that no test app of the platform publishes in:
# tests of the event machinery and of webhooks use them without depending on a domain app.
TEST_EVENT_TYPES = {
    area: register_event_type(
        f"test.{area}_event",
        label=f"A {area} event of the tests",
        area=area,
        example={"detail": "example"},
    )
    for area in ("sales", "product", "finance", "operations", "marketing")
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("services") and not (HAS_POSTGRES and HAS_REDIS):
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped on the services run (REQUIRE_SERVICES=1): {report.longrepr}"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Client secrets are hashed like passwords; PBKDF2's deliberate slowness only slows the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def failed_client_auth_not_throttled_per_address(settings):
    """Every test client calls from 127.0.0.1, so the per-address window of failed client
    authentications would carry over from test to test; the throttle has tests of its own."""
    settings.OAUTH_FAILED_AUTH_PER_ADDRESS = "1000000/minute"


@pytest.fixture(autouse=True)
def audit_rows_written_per_call(settings):
    """Tests read a call's audit row right after it; the batched writer has tests of its own."""
    settings.AUDIT_BATCH_WRITES = False


@pytest.fixture
def make_integration_client(db):
    """Create an OAuth client (client credentials) with the given scopes; returns its credentials."""

    def _make(scopes="customers:read customers:write", **kwargs):
        kwargs.setdefault("name", "test client")
        return client_create(scopes=scopes, **kwargs)

    return _make


STAFF_PASSWORD = "correct-Horse-battery-9"


@pytest.fixture
def staff_client(db):
    """A test client signed in to the admin as a superuser, through the login form with password and TOTP."""
    from django.contrib.auth import get_user_model

    from csintegration.adminsite.totp import totp_current_code, totp_device_enroll

    get_user_model().objects.create_superuser("operator", "operator@example.com", STAFF_PASSWORD)
    totp_device_enroll(username="operator")
    client = Client()
    response = client.post(
        "/admin/login/",
        {
            "username": "operator",
            "password": STAFF_PASSWORD,
            "otp_token": totp_current_code(username="operator"),
        },
    )
    assert response.status_code == 302, response.content
    return client


def basic_auth(credentials) -> str:
    """The HTTP Basic header value of a client's credentials (RFC 6749 client authentication)."""
    pair = f"{credentials.client.client_id}:{credentials.client_secret}".encode()
    return f"Basic {base64.b64encode(pair).decode()}"


def fetch_token(credentials, scope: str | None = None, **extra) -> dict:
    """POST /o/token/ with the client credentials grant, as an integrator would."""
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = Client().post("/o/token/", data, HTTP_AUTHORIZATION=basic_auth(credentials), **extra)
    assert response.status_code == 200, response.content
    return response.json()


SIGNATURE_HEADERS = ("Content-Digest", "Signature-Input", "Signature")


def sign_request_kwargs(credentials, method: str, path: str, body: bytes = b"", created=None) -> dict:
    """RFC 9421 signature headers (as ``HTTP_…`` test-client kwargs), made by the client-side helper
    ``sign_request`` on a real ``requests.PreparedRequest`` for ``path`` with ``body``."""
    prepared = requests.Request(method, f"http://testserver{path}", data=body).prepare()
    sign_request(
        prepared,
        client_id=credentials.client.client_id,
        signing_secret=credentials.signing_secret,
        created=created,
    )
    return {f"HTTP_{name.upper().replace('-', '_')}": prepared.headers[name] for name in SIGNATURE_HEADERS}


@pytest.fixture
def token_for(db):
    return fetch_token


@pytest.fixture
def api(make_integration_client):
    """An APIClient with a real bearer token; ``api(scopes=…)`` makes one with other scopes."""

    def _api(scopes="customers:read customers:write", **kwargs):
        credentials = make_integration_client(scopes=scopes, **kwargs)
        extra = {}
        if credentials.client.networks:  # the token must be requested from an allowed address
            extra["REMOTE_ADDR"] = str(next(iter(credentials.client.networks[0])))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {fetch_token(credentials, **extra)['access_token']}")
        client.integration = credentials
        return client

    return _api


def openapi_document() -> dict:
    """The OpenAPI document /api/schema/ serves, generated without a request."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def query_parameter_schema(operation: dict, name: str) -> dict:
    return next(p["schema"] for p in operation["parameters"] if p["in"] == "query" and p["name"] == name)
