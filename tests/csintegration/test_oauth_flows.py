"""OAuth flows end to end: authorization code with PKCE for a signed-in user, refresh-token rotation with
reuse refusal, token introspection, and the periodic clean-up of expired credentials."""

import base64
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from rest_framework.test import APIClient

from csintegration.adminsite.totp import totp_current_code, totp_device_enroll
from csintegration.auth.models import SeenSignature
from csintegration.auth.tasks import clear_expired_tokens
from tests.conftest import basic_auth, fetch_token

REDIRECT_URI = "https://app.example.com/callback"
CUSTOMERS = "/api/v1/cs-integration/customers"
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture
def user_app(make_integration_client):
    """A public user-facing app (authorization code + PKCE) and a signed-in browser of one of its users."""
    app = make_integration_client(
        scopes="customers:read",
        name="Success portal",
        grant_type="authorization-code",
        client_type="public",
        redirect_uris=REDIRECT_URI,
    )
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(username="csm.alice", password=password, is_staff=True)
    totp_device_enroll(username="csm.alice")
    browser = Client()
    signed_in = browser.post(
        "/admin/login/",
        {"username": "csm.alice", "password": password, "otp_token": totp_current_code(username="csm.alice")},
    )
    assert signed_in.status_code == 302, signed_in.content
    return app, user, browser


def authorize(browser: Client, client_id: str, challenge: str | None, state: str = "xyz") -> dict:
    """Consent as the signed-in user would (GET the consent page, POST its form); the redirect's query."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "customers:read",
        "state": state,
    }
    if challenge:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = browser.get("/o/authorize/", query)
    if page.status_code == 302:  # an error is redirected back to the app at once
        return parse_qs(urlparse(page["Location"]).query)
    assert page.status_code == 200, page.content
    form = {key: value for key, value in page.context["form"].initial.items() if value is not None}
    consent = browser.post("/o/authorize/", {**form, "allow": "Authorize"})
    assert consent.status_code == 302, consent.content
    location = urlparse(consent["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def test_authorization_code_with_pkce_then_refresh_rotation_and_reuse_refusal(user_app):
    app, user, browser = user_app
    client_id = app.client.client_id
    verifier, challenge = pkce_pair()
    redirect = authorize(browser, client_id, challenge)
    assert redirect["state"] == ["xyz"]
    code = redirect["code"][0]

    wrong = Client().post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": secrets.token_urlsafe(48),
        },
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    # The real exchange, with a fresh code and its verifier.
    verifier, challenge = pkce_pair()
    code = authorize(browser, client_id, challenge)["code"][0]
    issued = Client().post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert issued.status_code == 200, issued.content
    first = issued.json()
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user.pk) and claims["client_id"] == client_id
    assert claims["scope"] == "customers:read"
    assert jwt.get_unverified_header(first["access_token"])["typ"] == "at+jwt"
    assert first["refresh_token"].count(".") == 0  # refresh tokens stay opaque
    refresh_row = RefreshToken.objects.get(token_checksum=checksum(first["refresh_token"]))
    assert refresh_row.user == user
    assert settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"] == 30 * 24 * 3600

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {first['access_token']}")
    assert api.get(CUSTOMERS).status_code == 200

    refreshed = Client().post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": client_id},
    )
    assert refreshed.status_code == 200, refreshed.content
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    second_claims = jwt.decode(second["access_token"], options={"verify_signature": False})
    assert second_claims["sub"] == str(user.pk) and second_claims["scope"] == "customers:read"

    reused = Client().post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": client_id},
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    # Reuse protection: replaying a rotated refresh token revokes the whole family, the new one too.
    after_reuse = Client().post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"], "client_id": client_id},
    )
    assert after_reuse.status_code == 400 and after_reuse.json()["error"] == "invalid_grant"


def test_pkce_is_required(user_app):
    app, _, browser = user_app
    redirect = authorize(browser, app.client.client_id, challenge=None)
    assert redirect["error"] == ["invalid_request"]
    assert "code" not in redirect


def test_password_grant_is_not_offered(user_app):
    app, user, _ = user_app
    response = Client().post(
        "/o/token/",
        {
            "grant_type": "password",
            "username": user.username,
            "password": "x",
            "client_id": app.client.client_id,
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


def test_a_client_introspects_its_own_tokens_only(make_integration_client):
    mine = make_integration_client(scopes="customers:read events:write")
    other = make_integration_client(scopes="customers:read")
    token = fetch_token(mine)["access_token"]

    answer = Client().post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(mine))
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["active"] is True and body["token_type"] == "Bearer"
    assert body["client_id"] == mine.client.client_id == body["sub"]
    assert set(body["scope"].split()) == {"customers:read", "events:write"}
    assert body["aud"] == "cs-integration-api" and body["iss"] == "http://127.0.0.1:8000"
    assert body["exp"] - body["iat"] == 3600 and body["jti"]

    # Credentials in the body work too (RFC 6749 §2.3.1).
    in_body = Client().post(
        "/o/introspect/",
        {"token": token, "client_id": mine.client.client_id, "client_secret": mine.client_secret},
    )
    assert in_body.json()["active"] is True

    foreign = Client().post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(other))
    assert foreign.status_code == 200 and foreign.json() == {"active": False}

    unknown = Client().post("/o/introspect/", {"token": "nope"}, HTTP_AUTHORIZATION=basic_auth(mine))
    assert unknown.json() == {"active": False}

    missing = Client().post("/o/introspect/", {}, HTTP_AUTHORIZATION=basic_auth(mine))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"

    anonymous = Client().post("/o/introspect/", {"token": token})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    assert anonymous["WWW-Authenticate"].startswith("Basic")
    # A bearer token is no client authentication here.
    bearer = Client().post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.status_code == 401

    Client().post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(mine))
    revoked = Client().post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(mine))
    assert revoked.json() == {"active": False}


def test_introspection_of_an_expired_token_is_inactive(make_integration_client):
    credentials = make_integration_client()
    token = fetch_token(credentials)["access_token"]
    AccessToken.objects.filter(token_checksum=checksum(token)).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    answer = Client().post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic_auth(credentials))
    assert answer.json() == {"active": False}


def test_clear_expired_tokens_task_is_scheduled_and_prunes(make_integration_client):
    assert settings.CELERY_BEAT_SCHEDULE["clear-expired-tokens"]["task"] == "auth.clear_expired_tokens"
    credentials = make_integration_client()
    expired = fetch_token(credentials)["access_token"]
    live = fetch_token(credentials)["access_token"]
    AccessToken.objects.filter(token_checksum=checksum(expired)).update(
        expires=timezone.now() - timedelta(days=1)
    )
    old = SeenSignature.objects.create(
        digest="a" * 64, client_id="c", method="DELETE", path="/x", signed_at=timezone.now()
    )
    SeenSignature.objects.filter(pk=old.pk).update(seen_at=timezone.now() - timedelta(hours=1))
    recent = SeenSignature.objects.create(
        digest="b" * 64, client_id="c", method="DELETE", path="/y", signed_at=timezone.now()
    )

    result = clear_expired_tokens.apply().get()

    assert result == {"seen_signatures": 1}
    assert not AccessToken.objects.filter(token_checksum=checksum(expired)).exists()
    assert AccessToken.objects.filter(token_checksum=checksum(live)).exists()
    assert list(SeenSignature.objects.values_list("pk", flat=True)) == [recent.pk]
