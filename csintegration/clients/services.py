"""Every write to integration clients: creation and secret rotation. Secrets are returned once."""

import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret

from .models import IntegrationClient, parse_scopes


@dataclass(frozen=True)
class IssuedCredentials:
    client: IntegrationClient
    client_secret: str
    signing_secret: str

    def as_dict(self) -> dict:
        return {
            "client_id": self.client.client_id,
            "client_secret": self.client_secret,
            "signing_secret": self.signing_secret,
            "scopes": self.client.scope_list,
        }


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


def parse_rate_limit_options(options: list[str]) -> dict[str, str]:
    """``["realtime=200/hour", …]`` → ``{"realtime": "200/hour"}`` (validated by the model)."""
    limits = {}
    for option in options:
        category, separator, rate = option.partition("=")
        if not separator:
            raise ValidationError(f"Rate limit {option!r} is not CATEGORY=N/PERIOD.")
        limits[category.strip()] = rate.strip()
    return limits


@transaction.atomic
def client_create(
    *,
    name: str,
    scopes: str | list[str],
    allowed_ips: str = "",
    rate_limits: dict[str, str] | None = None,
    grant_type: str = IntegrationClient.GRANT_CLIENT_CREDENTIALS,
    client_type: str = IntegrationClient.CLIENT_CONFIDENTIAL,
    redirect_uris: str = "",
    description: str = "",
    client_id: str | None = None,
    client_secret: str | None = None,
    signing_secret: str | None = None,
) -> IssuedCredentials:
    scope_text = " ".join(parse_scopes(scopes if isinstance(scopes, str) else " ".join(scopes)))
    plain_secret = client_secret or generate_client_secret()
    plain_signing_secret = signing_secret or new_signing_secret()
    client = IntegrationClient(
        name=name,
        description=description,
        scopes=scope_text,
        allowed_ips=allowed_ips,
        rate_limits=rate_limits or {},
        authorization_grant_type=grant_type,
        client_type=client_type,
        redirect_uris=redirect_uris,
        client_secret=plain_secret,
        signing_secret=plain_signing_secret,
    )
    if client_id:
        client.client_id = client_id
    client.full_clean()
    client.save()
    return IssuedCredentials(client=client, client_secret=plain_secret, signing_secret=plain_signing_secret)


@transaction.atomic
def client_rotate_secrets(*, client: IntegrationClient) -> IssuedCredentials:
    plain_secret, plain_signing_secret = generate_client_secret(), new_signing_secret()
    client.client_secret = plain_secret
    client.signing_secret = plain_signing_secret
    client.save(update_fields=["client_secret", "signing_secret", "updated"])
    return IssuedCredentials(client=client, client_secret=plain_secret, signing_secret=plain_signing_secret)
