"""Writes of the authentication package: recording accepted signatures and pruning what has expired."""

import hashlib
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.models import clear_expired

from .models import SeenSignature


def seen_signature_record(
    *, client_id: str, signature: bytes, method: str, path: str, signed_at: datetime
) -> bool:
    """Record a signature as used; False when it was seen before (a replay), in any process."""
    try:
        with transaction.atomic():
            SeenSignature.objects.create(
                digest=hashlib.sha256(signature).hexdigest(),
                client_id=client_id,
                method=method,
                path=path[:2048],
                signed_at=signed_at,
            )
    except IntegrityError:
        return False
    return True


def seen_signatures_prune(*, older_than: timedelta) -> int:
    """Forget signatures that are too old to be accepted anyway."""
    deleted, _ = SeenSignature.objects.filter(seen_at__lt=timezone.now() - older_than).delete()
    return deleted


def expired_credentials_clear(*, signature_retention: timedelta) -> dict[str, int]:
    """DOT's cleartokens (expired access, refresh and ID tokens, grants) plus old seen signatures."""
    clear_expired()
    return {"seen_signatures": seen_signatures_prune(older_than=signature_retention)}
