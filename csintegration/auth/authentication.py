"""DRF authentication: a bearer JWT whose signature and claims verify and whose stored row is still valid."""

import jwt
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed

from . import token_cache
from .access_tokens import decode_access_token


def bearer_token(request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None when there is no such header."""
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or ""


class JWTAccessTokenAuthentication(OAuth2Authentication):
    """The JWT is verified (signature, typ, iss, aud, exp), then its stored row is looked up by checksum,
    as django-oauth-toolkit stores it, so that a revoked token is refused at once: one Redis round trip
    with a shared cache, else one query (see ``token_cache``). The oauthlib request pipeline is not
    needed for a bearer check and costs more than the rest together.

    A request without a bearer token is anonymous (the scope check then answers 401); a request with an
    invalid one fails here with 401 and ``WWW-Authenticate: Bearer … error="invalid_token"``.
    """

    def authenticate(self, request):
        token = bearer_token(request)
        if token is None:
            return None
        try:
            claims = decode_access_token(token)
        except jwt.InvalidTokenError as exc:
            self._refuse(request, f"The access token is invalid: {exc}")
        access_token = token_cache.access_token_for(token, claims["client_id"])
        if access_token is None or access_token.is_expired():
            self._refuse(request, "The access token is expired, revoked or unknown.")
        user = access_token.user
        application = access_token.application
        if application is None or application.client_id != claims["client_id"]:
            self._refuse(request, "The access token does not belong to its client.")
        if not getattr(application, "is_active", True):
            self._refuse(request, "The client of this access token is disabled.")
        access_token.claims = claims
        return user, access_token

    def _refuse(self, request, description: str):
        request.oauth2_error = {"error": "invalid_token", "error_description": description.replace('"', "'")}
        raise AuthenticationFailed(description)
