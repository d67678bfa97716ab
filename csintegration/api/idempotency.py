"""``Idempotency-Key`` for POST: replay the first answer, refuse a changed body (422) or a concurrent
retry (409). Records live in the database so every web process sees them; they expire after 24 hours."""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .exceptions import Problem
from .models import IdempotencyRecord

RETENTION = timedelta(hours=24)
# A claim older than this belongs to a process that died mid-request; a retry may take it over.
STALE_CLAIM = timedelta(minutes=5)
_REPLAYED_HEADERS = ("Location", "Content-Type")


class IdempotentReplay(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _client_key(request) -> str:
    application = getattr(getattr(request, "auth", None), "application", None)
    return getattr(application, "client_id", None) or "anonymous"


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.path.encode())
    digest.update(b"\n")
    digest.update(request._request.body)
    return digest.hexdigest()


def claim(request, key: str) -> IdempotencyRecord:
    """Claim ``key`` for this request, or raise a replay / a 409 / a 422."""
    if not 1 <= len(key) <= 255:
        raise Problem(400, "invalid-idempotency-key", "Idempotency-Key must be 1 to 255 characters.")
    client_key, fingerprint, now = _client_key(request), _fingerprint(request), timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    client_key=client_key,
                    key=key,
                    method=request.method,
                    path=request.path,
                    fingerprint=fingerprint,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(client_key=client_key, key=key).first()
            if existing is None:
                continue
            stale = (
                existing.state == IdempotencyRecord.State.IN_PROGRESS
                and existing.created_at < now - STALE_CLAIM
            )
            if existing.created_at < now - RETENTION or stale:
                existing.delete()
                continue
            if existing.fingerprint != fingerprint:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "This Idempotency-Key was already used with a different request body or path.",
                ) from None
            if existing.state == IdempotencyRecord.State.IN_PROGRESS:
                raise Problem(
                    409,
                    "idempotency-in-progress",
                    "A request with this Idempotency-Key is still being processed; retry later.",
                    headers={"Retry-After": "1"},
                ) from None
            headers = dict(existing.response_headers)
            headers["Idempotent-Replayed"] = "true"
            raise IdempotentReplay(
                Response(existing.response_body, status=existing.response_status, headers=headers)
            ) from None
    raise Problem(409, "idempotency-in-progress", "Idempotency-Key is contended; retry later.")


def complete(record: IdempotencyRecord, response: Response) -> None:
    """Store a finished answer; a server error releases the key so that the client may retry."""
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    record.state = IdempotencyRecord.State.COMPLETED
    record.response_status = response.status_code
    record.response_body = json.loads(json.dumps(getattr(response, "data", None), cls=JSONEncoder))
    record.response_headers = {
        name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)
    }
    record.save(update_fields=["state", "response_status", "response_body", "response_headers"])


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted


class IdempotentPostMixin:
    """Honours ``Idempotency-Key`` on POST. Mixed into every platform view (see ``views.py``)."""

    _idempotency_record: IdempotencyRecord | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key is not None:
            self._idempotency_record = claim(request, key)

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None and not response.has_header("Idempotent-Replayed"):
            complete(record, response)
        return response
