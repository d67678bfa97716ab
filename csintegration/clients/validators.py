"""The OAuth2 request validator: no password grant, inactive clients get no token, and a client with an
IP allowlist gets no token from any other address."""

from types import SimpleNamespace

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from csintegration.api.client_ip import address_allowed, client_address, parse_address

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

    def authenticate_client(self, request, *args, **kwargs):
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        networks = request.client.networks
        if networks:
            # django-oauth-toolkit passes the WSGI environ (REMOTE_ADDR, HTTP_X_FORWARDED_FOR) as headers.
            address = client_address(SimpleNamespace(META=request.headers))
            if not address_allowed(parse_address(address), networks):
                raise AddressNotAllowed(request=request)
        return True
