"""JWT access tokens (RFC 9068) from the real token endpoint: claims, JWKS, key rotation, and refusals."""

import base64
import hashlib
import json
import time

import jwt
import pytest
from django.test import Client, override_settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauth2_provider.views import TokenView
from rest_framework.test import APIClient

from csintegration.auth.rsa import new_rsa_private_key_pem
from tests.conftest import basic_auth, fetch_token

CUSTOMERS = "/api/v1/cs-integration/customers"
JWKS = "/o/.well-known/jwks.json"
AccessToken = get_access_token_model()

pytestmark = pytest.mark.django_db


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_refused(response) -> dict:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge, challenge
    return response.json()


def jwks_keys(client=None) -> dict[str, jwt.PyJWK]:
    response = (client or Client()).get(JWKS)
    assert response.status_code == 200
    return {key.key_id: key for key in jwt.PyJWKSet.from_dict(response.json()).keys}


def verify_with_jwks(token: str) -> dict:
    header = jwt.get_unverified_header(token)
    key = jwks_keys()[header["kid"]]
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience="cs-integration-api",
        issuer="http://127.0.0.1:8000",
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def short_lived_tokens(settings):
    """Tokens from /o/token/ live 1 s while this fixture is active."""
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ACCESS_TOKEN_EXPIRE_SECONDS": 1,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    yield
    # The token view caches its OAuth server; drop the one built with the short lifetime.
    if "_oauthlib_core" in TokenView.__dict__:
        del TokenView._oauthlib_core


def test_token_is_an_rfc9068_jwt_that_verifies_against_the_jwks(make_integration_client):
    credentials = make_integration_client(scopes="customers:read events:write")
    issued = fetch_token(credentials)
    token = issued["access_token"]
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    assert "refresh_token" not in issued  # client credentials get no refresh token

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    claims = verify_with_jwks(token)
    client_id = credentials.client.client_id
    assert set(claims) >= {"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"}
    assert claims["sub"] == client_id and claims["client_id"] == client_id
    assert set(claims["scope"].split()) == {"customers:read", "events:write"}
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60

    stored = AccessToken.objects.get(token_checksum=checksum(token))
    assert stored.application == credentials.client
    assert abs(stored.expires.timestamp() - claims["exp"]) < 5

    second = verify_with_jwks(fetch_token(credentials)["access_token"])
    assert second["jti"] != claims["jti"]
    assert bearer(token).get(CUSTOMERS).status_code == 200


def test_jwks_document_is_public_and_cacheable():
    response = Client().get(JWKS)
    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert "d" not in key and "p" not in key  # public half only


def test_key_rotation_keeps_old_tokens_valid_until_the_old_key_is_dropped(make_integration_client, settings):
    credentials = make_integration_client()
    old_token = fetch_token(credentials)["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    old_pem = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    new_pem = new_rsa_private_key_pem()

    rotated = {**settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": new_pem}
    with override_settings(OAUTH2_PROVIDER={**rotated, "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old_pem]}):
        kids = jwks_keys()
        assert len(kids) == 2 and old_kid in kids
        new_token = fetch_token(credentials)["access_token"]
        new_kid = jwt.get_unverified_header(new_token)["kid"]
        assert new_kid != old_kid and new_kid in kids
        assert verify_with_jwks(new_token)["client_id"] == credentials.client.client_id
        assert bearer(old_token).get(CUSTOMERS).status_code == 200
        assert bearer(new_token).get(CUSTOMERS).status_code == 200

    with override_settings(OAUTH2_PROVIDER={**rotated, "OIDC_RSA_PRIVATE_KEYS_INACTIVE": []}):
        assert set(jwks_keys()) == {new_kid}
        body = assert_refused(bearer(old_token).get(CUSTOMERS))
        assert "unknown key" in body["detail"]
        assert bearer(new_token).get(CUSTOMERS).status_code == 200


def test_revoked_token_is_refused_at_once(make_integration_client):
    credentials = make_integration_client()
    token = fetch_token(credentials)["access_token"]
    client = bearer(token)
    assert client.get(CUSTOMERS).status_code == 200

    revoked = Client().post(
        "/o/revoke_token/",
        {"token": token, "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=basic_auth(credentials),
    )
    assert revoked.status_code == 200
    assert verify_with_jwks(token)["exp"] > time.time()  # the JWT itself has not expired
    body = assert_refused(client.get(CUSTOMERS))
    assert body["type"].endswith("invalid-token")


def test_expired_row_is_refused(make_integration_client):
    token = fetch_token(make_integration_client())["access_token"]
    AccessToken.objects.filter(token_checksum=checksum(token)).update(
        expires=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert_refused(bearer(token).get(CUSTOMERS))


def test_expired_jwt_is_refused_even_if_its_row_is_still_valid(make_integration_client, short_lived_tokens):
    token = fetch_token(make_integration_client())["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1
    AccessToken.objects.filter(token_checksum=checksum(token)).update(
        expires=timezone.now() + timezone.timedelta(hours=1)
    )
    deadline = time.monotonic() + 5
    while time.time() < claims["exp"] and time.monotonic() < deadline:
        time.sleep(0.05)
    body = assert_refused(bearer(token).get(CUSTOMERS))
    assert "expired" in body["detail"]


def test_tampered_tokens_are_refused(make_integration_client):
    token = fetch_token(make_integration_client(scopes="customers:read"))["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "customers:read customers:write"
    forged_payload = b64url(json.dumps(claims).encode())
    assert_refused(bearer(f"{header}.{forged_payload}.{signature}").get(CUSTOMERS))

    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert_refused(bearer(f"{header}.{payload}.{flipped}").get(CUSTOMERS))
    assert_refused(bearer("not-a-token").get(CUSTOMERS))
    assert_refused(bearer("").get(CUSTOMERS))


def test_token_for_another_audience_or_issuer_is_refused(make_integration_client):
    credentials = make_integration_client()
    with override_settings(JWT_AUDIENCE="another-api"):
        foreign_audience = fetch_token(credentials)["access_token"]
    with override_settings(JWT_ISSUER="https://elsewhere.example"):
        foreign_issuer = fetch_token(credentials)["access_token"]
    assert jwt.decode(foreign_audience, options={"verify_signature": False})["aud"] == "another-api"

    # Both rows are valid in DOT's table: only the JWT checks can refuse them.
    assert "audience" in assert_refused(bearer(foreign_audience).get(CUSTOMERS))["detail"].lower()
    assert "issuer" in assert_refused(bearer(foreign_issuer).get(CUSTOMERS))["detail"].lower()


def test_a_signed_jwt_that_is_not_an_access_token_is_refused(make_integration_client, settings):
    """An RS256 JWT from our own key but with typ JWT (as an ID token has) is not an access token."""
    token = fetch_token(make_integration_client())["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    header = jwt.get_unverified_header(token)
    retyped = jwt.encode(
        claims,
        settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"],
        algorithm="RS256",
        headers={"typ": "JWT", "kid": header["kid"]},
    )
    # Store it as the token's value, so that only the type check can refuse it.
    AccessToken.objects.filter(token_checksum=checksum(token)).update(
        token=retyped, token_checksum=hashlib.sha256(retyped.encode()).hexdigest()
    )
    assert "at+jwt" in assert_refused(bearer(retyped).get(CUSTOMERS))["detail"]


def test_tokens_of_a_disabled_client_are_refused(make_integration_client):
    credentials = make_integration_client()
    token = fetch_token(credentials)["access_token"]
    credentials.client.is_active = False
    credentials.client.save(update_fields=["is_active"])
    assert_refused(bearer(token).get(CUSTOMERS))


def test_no_token_is_401_with_a_bearer_challenge():
    response = APIClient().get(CUSTOMERS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_verified_token_is_not_rechecked_but_its_expiry_and_audience_are(
    make_integration_client, settings, monkeypatch
):
    from csintegration.auth import access_tokens

    token = fetch_token(make_integration_client())["access_token"]
    claims = access_tokens.decode_access_token(token)
    assert access_tokens._verified.get(token) == claims  # the signature is checked once per process
    monkeypatch.setattr(access_tokens.time, "time", lambda: claims["exp"] + 1)
    assert access_tokens._verified.get(token) is None  # expired: verified again, and refused
    monkeypatch.undo()
    settings.JWT_AUDIENCE = "another-api"
    assert access_tokens._verified.get(token) is None
    with pytest.raises(jwt.InvalidAudienceError):
        access_tokens.decode_access_token(token)
