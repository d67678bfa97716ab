"""The OAuth application model of the platform (``OAUTH2_PROVIDER_APPLICATION_MODEL``)."""

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from oauth2_provider.models import AbstractApplication

from csintegration.encryption.fields import EncryptedCharField

RATE_LIMIT_CATEGORIES = ("standard", "realtime", "bulk", "admin")
_RATE_PATTERN = re.compile(r"^(\d+)\s*/\s*(second|minute|hour|day)$")


def parse_scopes(value: str) -> list[str]:
    return [scope for scope in value.replace(",", " ").split() if scope]


def parse_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in re.split(r"[\s,]+", value or ""):
        if item:
            networks.append(ipaddress.ip_network(item, strict=False))
    return networks


def validate_scopes(value: str) -> None:
    unknown = sorted(set(parse_scopes(value)) - set(settings.API_SCOPES))
    if unknown:
        raise ValidationError(f"Unknown scope(s): {', '.join(unknown)}.")


def validate_networks(value: str) -> None:
    try:
        parse_networks(value)
    except ValueError as exc:
        raise ValidationError(f"Not a CIDR list: {exc}") from exc


def validate_rate_limits(value: dict) -> None:
    if not isinstance(value, dict):
        raise ValidationError('Rate limits must be an object such as {"standard": "2000/hour"}.')
    for category, rate in value.items():
        if category not in RATE_LIMIT_CATEGORIES:
            raise ValidationError(
                f"Unknown rate-limit category {category!r}; use {', '.join(RATE_LIMIT_CATEGORIES)}."
            )
        if not isinstance(rate, str) or not _RATE_PATTERN.match(rate.strip()):
            raise ValidationError(f"Rate {rate!r} for {category} is not N/second|minute|hour|day.")


class IntegrationClient(AbstractApplication):
    """A system (or user-facing app) allowed to call the API, with what it may do and from where."""

    description = models.TextField(blank=True)
    scopes = models.TextField(
        blank=True, validators=[validate_scopes], help_text="Space-separated scopes this client may request"
    )
    allowed_ips = models.TextField(
        blank=True,
        validators=[validate_networks],
        help_text="CIDRs (IPv4 or IPv6), comma or newline separated; empty admits any address",
    )
    rate_limits = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_rate_limits],
        help_text='Quota overrides per category, e.g. {"standard": "5000/hour"}',
    )
    signing_secret = EncryptedCharField(
        max_length=255,
        blank=True,
        help_text="HMAC key for RFC 9421 request signatures (shown once; stored encrypted)",
    )
    is_active = models.BooleanField(default=True)

    class Meta(AbstractApplication.Meta):
        verbose_name = "integration client"
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"

    def clean(self) -> None:
        super().clean()
        if self.authorization_grant_type in (self.GRANT_PASSWORD, self.GRANT_IMPLICIT):
            raise ValidationError(
                {"authorization_grant_type": "The password and implicit grants are not offered."}
            )

    @property
    def scope_list(self) -> list[str]:
        return parse_scopes(self.scopes)

    @property
    def networks(self):
        return parse_networks(self.allowed_ips)

    def quota_for(self, category: str) -> str:
        return (self.rate_limits or {}).get(category) or settings.RATE_LIMIT_DEFAULTS[category]
