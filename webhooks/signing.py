"""Standard Webhooks signatures: secrets (``whsec_…``) and the ``webhook-*`` headers of a delivery."""

import base64
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """``whsec_`` followed by the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signature_header(*, message_id: str, timestamp: int, body: str, signing_secrets: Iterable[str]) -> str:
    """``v1,<sig>`` per secret, space-separated (two during a secret rotation)."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=moment, data=body) for secret in signing_secrets
    )


def delivery_headers(
    *, message_id: str, timestamp: int, body: str, signing_secrets: Iterable[str]
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            message_id=message_id, timestamp=timestamp, body=body, signing_secrets=signing_secrets
        ),
    }
