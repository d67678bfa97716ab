"""Records every call under ``/api/`` and ``/o/`` in the audit log, whatever its outcome.

What is kept: the client, the token's user and scopes, method, path (no query string), status,
latency, client address and request id. Never the ``Authorization`` header, a secret or a body.
"""

import base64
import binascii
import functools
import time
from urllib.parse import unquote

from django.conf import settings
from django.utils import timezone

from csintegration.api.client_ip import client_address, parse_address

from .services import api_call_build, api_call_record
from .writer import writer

AUDITED_PREFIXES = ("/api/", "/o/")
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _basic_auth_client_id(request) -> str:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    # RFC 6749 §2.3.1: the client id is form-encoded before the colon; the secret after it is dropped.
    return unquote(decoded.partition(":")[0].replace("+", " "))


def _token_request_client_id(request) -> str:
    client_id = _basic_auth_client_id(request)
    if client_id:
        return client_id
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        # The OAuth view has already parsed the form; only the public client id is read from it.
        return str(request.POST.get("client_id", ""))
    return ""


def _identity(request) -> tuple[str, str, str]:
    """(client_id, user, scopes) from the token the call was authenticated with, if any."""
    token = getattr(request, "auth", None)
    application = getattr(token, "application", None)
    if application is not None:
        user = getattr(token, "user", None)
        username = user.get_username() if user is not None else ""
        return application.client_id, username, getattr(token, "scope", "") or ""
    if request.path.startswith("/o/"):
        return _token_request_client_id(request), "", ""
    return "", "", ""


def _address(request) -> str | None:
    # Only a well-formed IP is stored: the column is typed, and a forwarded value is unchecked text.
    address = parse_address(client_address(request))
    return str(address) if address is not None else None


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(AUDITED_PREFIXES):
            return self.get_response(request)
        started_at, started = timezone.now(), time.perf_counter()
        response = self.get_response(request)
        latency_ms = (time.perf_counter() - started) * 1000
        client_id, user, scopes = _identity(request)
        fields = {
            "time": started_at,
            "client_id": client_id,
            "user": user,
            "scopes": scopes,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "latency_ms": latency_ms,
            "client_address": _address(request),
            "request_id": getattr(request, "request_id", ""),
        }
        if settings.AUDIT_BATCH_WRITES:
            writer.submit(api_call_build(**fields))
            return response
        record = functools.partial(api_call_record, **fields)
        closers = getattr(response, "_resource_closers", None)
        if closers is None:
            record()
        else:
            # Written when the server closes the response, after its last byte went out: the caller
            # does not wait for the INSERT (Django runs these closers before request_finished).
            closers.append(record)
        return response
