"""The OAuth2 request validator: no password grant, and inactive clients get no token."""

from oauth2_provider.oauth2_validators import OAuth2Validator

REFUSED_GRANTS = frozenset({"password"})


class PlatformOAuth2Validator(OAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if grant_type in REFUSED_GRANTS or not getattr(client, "is_active", True):
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)
