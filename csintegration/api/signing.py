"""RFC 9421 HTTP Message Signatures for high-value operations (CONTRACT.md §5).

A view lists the viewset actions (or, for plain views, HTTP methods) that need a signature in
``signature_required_actions``. Such a request carries ``Content-Digest`` (RFC 9530, sha-256) and a
``Signature-Input``/``Signature`` pair that covers at least ``"@method" "@path" "content-digest"``, with
``created``, ``keyid`` (the OAuth client_id of the token) and ``alg="hmac-sha256"``, keyed with the UTF-8
bytes of the client's signing secret. Each signature is accepted once.

:func:`sign_request` is the client side (the README shows the same code for integrators).
"""

import datetime
import hashlib
import hmac

import http_sf
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from rest_framework import permissions
from rest_framework.exceptions import NotAuthenticated

from csintegration.auth.services import seen_signature_record

from .exceptions import Problem

SIGNATURE_ALGORITHM = algorithms.HMAC_SHA256
COVERED_COMPONENTS = ("@method", "@path", "content-digest")


def signature_required(request, view) -> bool:
    required = getattr(view, "signature_required_actions", ()) or ()
    action = getattr(view, "action", None)
    return (action is not None and action in required) or request.method in required


class _SignedMessage:
    """A Django request seen through the message interface that http-message-signatures resolves."""

    def __init__(self, request) -> None:
        self.method = request.method
        self.url = request.build_absolute_uri()
        self.headers = request.headers


class _ClientKeyResolver(HTTPSignatureKeyResolver):
    """The only key a request may be signed with: its token's client's signing secret."""

    def __init__(self, client) -> None:
        self.client = client

    def resolve_public_key(self, key_id: str):
        if key_id != self.client.client_id or not self.client.signing_secret:
            return None
        return self.client.signing_secret.encode()

    def resolve_private_key(self, key_id: str):
        raise HTTPMessageSignaturesException("The server does not sign requests.")


def _invalid(detail: str) -> Problem:
    return Problem(401, "signature-invalid", detail, title="Invalid request signature")


def _check_content_digest(headers, body: bytes) -> None:
    value = headers.get("Content-Digest")
    if value is None:
        raise _invalid("The request has no Content-Digest, which the signature must cover.")
    try:
        members = http_sf.parse(value.encode("ascii"), tltype="dictionary")
        digest = members["sha-256"][0]
        if not isinstance(digest, bytes):
            raise TypeError("the sha-256 member is not a byte sequence")
    except (KeyError, TypeError, ValueError, UnicodeEncodeError):
        raise Problem(
            400,
            "content-digest-invalid",
            "Content-Digest must be an RFC 9530 dictionary with a sha-256 byte sequence.",
            title="Invalid Content-Digest",
        ) from None
    if not hmac.compare_digest(digest, hashlib.sha256(body).digest()):
        raise Problem(
            400,
            "content-digest-mismatch",
            "The body does not match its Content-Digest.",
            title="Content-Digest mismatch",
        )


def verify_signed_request(request, client) -> None:
    """Raise the contract's problem unless ``request`` carries a fresh, valid, unseen signature."""
    headers = request.headers
    if "Signature" not in headers or "Signature-Input" not in headers:
        raise Problem(
            401,
            "signature-required",
            "This operation requires an HTTP Message Signature (RFC 9421): Content-Digest, "
            "Signature-Input and Signature, keyed with the client's signing secret.",
            title="Request signature required",
        )
    django_request = getattr(request, "_request", request)
    try:
        body = django_request.body
    except RequestDataTooBig:
        raise Problem(413, "payload-too-large", "The request body is too large.") from None
    _check_content_digest(headers, body)
    verifier = HTTPMessageVerifier(
        signature_algorithm=SIGNATURE_ALGORITHM, key_resolver=_ClientKeyResolver(client)
    )
    # ``created`` may lie this far from the server's clock either way (the skew, with max_age=0 below).
    verifier.max_clock_skew = datetime.timedelta(seconds=settings.SIGNATURE_MAX_AGE_SECONDS)
    try:
        (result,) = verifier.verify(
            _SignedMessage(django_request),
            max_age=datetime.timedelta(0),
            require_components=COVERED_COMPONENTS,
        )
    except HTTPMessageSignaturesException as exc:
        raise _invalid(f"The request signature does not verify: {exc}") from None
    if result.parameters.get("alg") != SIGNATURE_ALGORITHM.algorithm_id:
        raise _invalid('The signature must name its algorithm: alg="hmac-sha256".')
    signature = http_sf.parse(headers["Signature"].encode("ascii"), tltype="dictionary")[result.label][0]
    created = datetime.datetime.fromtimestamp(result.parameters["created"], tz=datetime.UTC)
    if not seen_signature_record(
        client_id=client.client_id,
        signature=signature,
        method=request.method,
        path=django_request.path,
        signed_at=created,
    ):
        raise _invalid("This signature was already used; sign each request anew.")


class SignedRequestRequired(permissions.BasePermission):
    """Enforces the signature on the actions a view lists in ``signature_required_actions``."""

    def has_permission(self, request, view) -> bool:
        if getattr(view, "public", False) or not signature_required(request, view):
            return True
        client = getattr(getattr(request, "auth", None), "application", None)
        if client is None:
            raise NotAuthenticated()
        verify_signed_request(request, client)
        return True
