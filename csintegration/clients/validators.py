"""The OAuth2 request validator: no password grant, inactive clients get no token, a client with an
IP allowlist gets no token from any other address, secret checks go through the guard of
``auth_guard.py``, and a client holds at most ``OAUTH_MAX_LIVE_TOKENS_PER_CLIENT`` live access tokens."""

import contextvars
import hashlib
from types import SimpleNamespace

from django.conf import settings
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from csintegration.api.client_ip import address_allowed, client_address, parse_address

from .auth_guard import check_client_secret

# The oauthlib request whose client is being authenticated: _check_secret() is handed only the two
# secrets, and the guard needs the client id and the address.
_authenticating: contextvars.ContextVar = contextvars.ContextVar("authenticating", default=None)

REFUSED_GRANTS = frozenset({"password"})


class AddressNotAllowed(OAuth2Error):
    error = "access_denied"
    status_code = 403
    description = "This client may not request tokens from this address."


class PlatformOAuth2Validator(OAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if grant_type in REFUSED_GRANTS or not getattr(client, "is_active", True):
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def _address(self, request) -> str:
        # django-oauth-toolkit passes the WSGI environ (REMOTE_ADDR, HTTP_X_FORWARDED_FOR) as headers.
        return client_address(SimpleNamespace(META=request.headers))

    def _check_secret(self, provided_secret, stored_secret):
        request = _authenticating.get()
        client = getattr(request, "client", None) if request is not None else None
        return check_client_secret(
            client_id=getattr(client, "client_id", "") or "",
            address=self._address(request) if request is not None else "",
            provided=provided_secret or "",
            stored=stored_secret or "",
            check=super()._check_secret,
        )

    def authenticate_client(self, request, *args, **kwargs):
        marker = _authenticating.set(request)
        try:
            authenticated = super().authenticate_client(request, *args, **kwargs)
        finally:
            _authenticating.reset(marker)
        if not authenticated:
            return False
        networks = request.client.networks
        if networks:
            address = self._address(request)
            if not address_allowed(parse_address(address), networks):
                raise AddressNotAllowed(request=request)
        return True

    def _save_bearer_token(self, token, request, *args, **kwargs):
        saved = super()._save_bearer_token(token, request, *args, **kwargs)
        _revoke_tokens_over_the_limit(token["access_token"])
        return saved


def _revoke_tokens_over_the_limit(new_token: str) -> None:
    """Past the limit the oldest live access tokens of the same client (and user) are revoked: issuing
    is never refused, so a client that asks for a token per call keeps working on its newest ones."""
    limit = settings.OAUTH_MAX_LIVE_TOKENS_PER_CLIENT
    if not limit:
        return
    model = get_access_token_model()
    issued = model.objects.filter(token_checksum=hashlib.sha256(new_token.encode()).hexdigest()).first()
    if issued is None:
        return
    live = model.objects.filter(
        application_id=issued.application_id, user_id=issued.user_id, expires__gt=timezone.now()
    ).order_by("-created", "-pk")
    excess = list(live.values_list("pk", flat=True)[limit:])
    if excess:
        # One by one through the model, so the token cache forgets each (post_delete) at once.
        for stale in model.objects.filter(pk__in=excess):
            stale.revoke()
