"""Writes of webhook endpoints: registration (checked against the client's scopes), changes, secret
rotation, enabling and disabling (with the operators told)."""

import logging
from collections.abc import Collection, Iterable
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import mail_admins
from django.db import transaction
from django.utils import timezone

from csintegration.clients.models import parse_scopes
from csintegration.events.types import UnknownEventType, event_type_get, event_type_names

from . import signing, transport
from .conf import conf
from .models import ALL_EVENTS, DeliveryStatus, DisabledReason, WebhookEndpoint

logger = logging.getLogger(__name__)

ENDPOINT_DISABLED_ERROR = "The endpoint is disabled; the delivery was not sent."


class MissingScope(Exception):
    """The client may not receive an event type it asked for: it lacks the type's read scope."""

    def __init__(self, scope: str, event_type: str) -> None:
        super().__init__(f"The client lacks the scope '{scope}' that the event type '{event_type}' requires.")
        self.scope = scope
        self.event_type = event_type


# --- Validation -----------------------------------------------------------------------------------------


def validate_event_types(event_types: Iterable[str]) -> list[str]:
    """De-duplicated, registered event types; ``["*"]`` alone means every type. Raises ValidationError."""
    if isinstance(event_types, str) or not isinstance(event_types, Iterable):
        raise ValidationError("A list of event types is required.", code="invalid")
    values = list(dict.fromkeys(event_types))
    if not values:
        raise ValidationError("At least one event type (or '*') is required.", code="empty")
    if ALL_EVENTS in values:
        if len(values) > 1:
            raise ValidationError("'*' already means every event type; list nothing else.", code="invalid")
        return values
    unknown = []
    for value in values:
        try:
            event_type_get(value)
        except (UnknownEventType, TypeError):
            unknown.append(value)
    if unknown:
        raise ValidationError(
            f"Unknown event type(s): {', '.join(map(str, unknown))}. "
            f"Known: {', '.join(event_type_names())}, or '*' (GET …/webhooks/event-types lists them).",
            code="unknown_event_type",
        )
    return values


def check_event_type_scopes(event_types: Iterable[str], *, scopes: Collection[str]) -> None:
    """Raise ``MissingScope`` for the first named type whose read scope is not in ``scopes``. ``"*"``
    needs none: it means every type the client may read, resolved at each delivery."""
    for name in event_types:
        if name == ALL_EVENTS:
            continue
        event_type = event_type_get(name)
        if event_type.read_scope not in scopes:
            raise MissingScope(event_type.read_scope, name)


def client_scopes(client: Any) -> frozenset[str]:
    """The scopes a client is registered with (what it may read, whatever its current token asks)."""
    return frozenset(parse_scopes(getattr(client, "scopes", "") or ""))


def validate_endpoint_url(url: str) -> str:
    """An https URL whose host resolves only to public addresses (or to ``WEBHOOK_ALLOWED_NETWORKS``)."""
    try:
        transport.validate_destination(url)
    except ValueError as exc:
        raise ValidationError(str(exc), code="unsafe_url") from exc
    return url


# --- Endpoints ------------------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(
    *, client: Any, url: str, event_types: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its secret (the only time, besides rotation, it is shown)."""
    secret = signing.new_secret()
    event_types = validate_event_types(event_types)
    check_event_type_scopes(event_types, scopes=client_scopes(client))
    endpoint = WebhookEndpoint.objects.create(
        client=client,
        url=validate_endpoint_url(url),
        event_types=event_types,
        description=description,
        secret=secret,
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change url, events, description or is_active. Re-activating clears the disabled state."""
    changed: list[str] = []
    if "url" in data and data["url"] != endpoint.url:
        endpoint.url = validate_endpoint_url(data["url"])
        changed.append("url")
    if "event_types" in data:
        endpoint.event_types = validate_event_types(data["event_types"])
        check_event_type_scopes(endpoint.event_types, scopes=client_scopes(endpoint.client))
        changed.append("event_types")
    if "description" in data and data["description"] != endpoint.description:
        endpoint.description = data["description"]
        changed.append("description")
    if changed:
        endpoint.save(update_fields=[*changed, "updated_at"])
    if "is_active" in data and data["is_active"] != endpoint.is_active:
        if data["is_active"]:
            endpoint_enable(endpoint=endpoint)
        else:
            endpoint_disable(endpoint=endpoint, reason=DisabledReason.MANUAL, notify=False)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the one it replaces keeps signing (beside the new one) for the overlap period."""
    now = timezone.now()
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(
        seconds=conf.WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS
    )
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return secret


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.is_active = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint.save(
        update_fields=["is_active", "disabled_reason", "disabled_at", "failing_since", "updated_at"]
    )
    return endpoint


@transaction.atomic
def endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, detail: str = "", notify: bool = True
) -> WebhookEndpoint:
    """Stop sending to an endpoint: its pending deliveries become failed (replayable once re-enabled)."""
    now = timezone.now()
    updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason, disabled_at=now, updated_at=now
    )
    endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = False, reason, now
    if not updated:
        return endpoint
    endpoint.deliveries.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        lease_token="",
        lease_expires_at=None,
        in_flight_since=None,
        last_error=ENDPOINT_DISABLED_ERROR,
        updated_at=now,
    )
    endpoint.slots.update(delivery_id="", claim_token="", lease_expires_at=None)
    logger.warning("Webhook endpoint %s disabled (%s). %s", endpoint.pk, reason, detail)
    if notify:
        transaction.on_commit(lambda: _notify_operators_disabled(endpoint.pk, reason, detail))
    return endpoint


def _notify_operators_disabled(endpoint_id: str, reason: str, detail: str) -> None:
    endpoint = WebhookEndpoint.objects.select_related("client").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    label = DisabledReason(reason).label
    mail_admins(
        subject=f"Webhook endpoint {endpoint.pk} disabled: {label}",
        message=(
            f"The webhook endpoint {endpoint.pk} of the client {endpoint.client.name} "
            f"({endpoint.client.client_id}) was disabled on {endpoint.disabled_at:%Y-%m-%d %H:%M:%S} UTC.\n\n"
            f"URL: {endpoint.url}\nReason: {label}\n{detail}\n\n"
            "Its pending deliveries were marked failed. Once the receiver works again, re-enable the "
            "endpoint (PATCH is_active=true, or in the admin) and replay its failed deliveries."
        ),
        fail_silently=True,
    )
