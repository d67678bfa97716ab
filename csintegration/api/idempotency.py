"""``Idempotency-Key`` for POST: replay the first answer, refuse a changed body (422) or a concurrent
retry (409). Records live in the database so every web process sees them; they expire after 24 hours.

The stored answer is encrypted (it may hold a secret shown once) and keeps its media type, so a replayed
problem is ``application/problem+json`` as the first answer was. A claim never outlives its request: a
server error (5xx), an exception, or an answer that cannot be stored releases the key at once, so the
client's retry runs again instead of meeting a 409 "in progress".
"""

import hashlib
import json
import logging
import re
from datetime import timedelta

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from .exceptions import Problem
from .models import IdempotencyRecord

logger = logging.getLogger(__name__)

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
#: visible ASCII, inner spaces allowed (HTTP strips a header value's outer whitespace anyway)
KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"
_KEY_RE = re.compile(KEY_PATTERN)
# A claim older than this belongs to a process that died mid-request; a retry may take it over.
STALE_CLAIM = timedelta(minutes=5)
_REPLAYED_HEADERS = ("Location",)


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
    if not (len(key) <= MAX_KEY_LENGTH and _KEY_RE.fullmatch(key)):
        raise Problem(
            400,
            "invalid-idempotency-key",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters.",
        )
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
                Response(
                    json.loads(existing.response_body) if existing.response_body else None,
                    status=existing.response_status,
                    headers=headers,
                    content_type=existing.response_content_type or None,
                )
            ) from None
    raise Problem(409, "idempotency-in-progress", "Idempotency-Key is contended; retry later.")


def release(record: IdempotencyRecord) -> None:
    """Give the key up, so that a retry runs the request again."""
    for attempt in range(2):
        try:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return
        except (OperationalError, InterfaceError):
            if attempt == 0 and not connection.in_atomic_block:
                connection.close()  # the request's connection dropped: once more on a fresh one
                continue
            logger.exception("Could not release Idempotency-Key %s", record.key)
        except Exception:  # the claim then expires after STALE_CLAIM
            logger.exception("Could not release Idempotency-Key %s", record.key)
        return


def complete(record: IdempotencyRecord, response: Response) -> None:
    """Store a finished answer; a server error, or one that cannot be stored, releases the key."""
    if response.status_code >= 500:
        release(record)
        return
    data = getattr(response, "data", None)
    record.state = IdempotencyRecord.State.COMPLETED
    record.response_status = response.status_code
    record.response_body = "" if data is None else json.dumps(data, cls=JSONEncoder)
    record.response_content_type = getattr(response, "content_type", None) or ""
    record.response_headers = {
        name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)
    }
    try:
        with transaction.atomic():
            record.save(
                update_fields=[
                    "state",
                    "response_status",
                    "response_body",
                    "response_content_type",
                    "response_headers",
                ]
            )
    except Exception:
        logger.exception("Could not store the answer of Idempotency-Key %s; releasing it", record.key)
        release(record)


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

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            # Only set here when something raised past finalize_response: the claim ends with its request.
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                release(record)

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = self._idempotency_record
        if record is not None and not response.has_header("Idempotent-Replayed"):
            complete(record, response)
        self._idempotency_record = None  # not before: if complete() raised, dispatch() releases it
        return response
