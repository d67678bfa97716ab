"""JWT access tokens (RFC 9068): issued by the OAuth server, verified on every API call.

DOT stores each token it issues, so a revoked token (deleted by ``/o/revoke_token/``) is refused at once;
the signature, type, audience, issuer and expiry are checked here as well before the row is trusted.
"""

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

import jwt
from django.conf import settings

from .keys import active_key, verification_keys

ACCESS_TOKEN_TYPE = "at+jwt"
ALGORITHM = "RS256"
CLIENT_CREDENTIALS = "client_credentials"
REQUIRED_CLAIMS = ("iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti")


def access_token_claims(request, *, now: int | None = None) -> dict[str, Any]:
    """The claims of a token for an oauthlib token request (client credentials, code or refresh)."""
    issued_at = int(time.time()) if now is None else now
    client_id = request.client.client_id
    user = getattr(request, "user", None)
    if request.grant_type == CLIENT_CREDENTIALS or user is None:
        subject = client_id
    else:
        subject = str(user.pk)
    return {
        "iss": settings.JWT_ISSUER,
        "sub": subject,
        "aud": settings.JWT_AUDIENCE,
        "client_id": client_id,
        "scope": " ".join(request.scopes or ()),
        "iat": issued_at,
        # oauthlib sets expires_in (ACCESS_TOKEN_EXPIRE_SECONDS) before it calls the generator; DOT stores
        # the same lifetime in the token's row.
        "exp": issued_at + int(request.expires_in),
        "jti": uuid.uuid4().hex,
    }


def generate_access_token(request, refresh_token: bool = False) -> str:
    """``OAUTH2_PROVIDER["ACCESS_TOKEN_GENERATOR"]``: an RS256 JWT with ``typ: at+jwt`` and the key's kid."""
    key = active_key()
    return jwt.encode(
        access_token_claims(request),
        key.private_key,
        algorithm=ALGORITHM,
        headers={"typ": ACCESS_TOKEN_TYPE, "kid": key.kid},
    )


class _VerifiedClaims:
    """Claims of tokens whose signature this process has already verified, most recent first.

    The same token string is the same signed bytes, so its RSA signature need not be checked on every
    call; what can change is checked each time: the expiry, and that its key is still trusted.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
        if entry is None:
            return None
        kid, claims = entry
        if claims["exp"] <= time.time() or kid not in verification_keys():
            return None
        if claims.get("aud") != settings.JWT_AUDIENCE or claims.get("iss") != settings.JWT_ISSUER:
            return None
        return claims

    def put(self, token: str, kid: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._entries[token] = (kid, claims)
            self._entries.move_to_end(token)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_verified = _VerifiedClaims()


def decode_access_token(token: str) -> dict[str, Any]:
    """The verified claims of ``token``; raises ``jwt.InvalidTokenError`` with a reason otherwise."""
    claims = _verified.get(token)
    if claims is not None:
        return claims
    header = jwt.get_unverified_header(token)
    # RFC 9068 §4: the typ header must be at+jwt (an "application/" prefix is allowed).
    if str(header.get("typ", "")).lower().removeprefix("application/") != ACCESS_TOKEN_TYPE:
        raise jwt.InvalidTokenError("The token is not an RFC 9068 access token (typ is not at+jwt).")
    key = verification_keys().get(header.get("kid"))
    if key is None:
        raise jwt.InvalidTokenError("The token is signed with an unknown key.")
    # No leeway: the same servers issue and check the tokens, and DOT's row expires at the same instant.
    claims = jwt.decode(
        token,
        key.public_key,
        algorithms=[ALGORITHM],
        audience=settings.JWT_AUDIENCE,
        issuer=settings.JWT_ISSUER,
        options={"require": list(REQUIRED_CLAIMS)},
    )
    _verified.put(token, header.get("kid"), claims)
    return claims
