"""One error envelope for the whole platform: ``application/problem+json`` (RFC 9457).

DRF exceptions go through :func:`problem_exception_handler`; what never reaches DRF (unknown URLs,
server errors, CSRF failures) goes through the Django handlers at the bottom of this module.
"""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

#: Django's message when ``save(update_fields=…)`` finds its row gone
_ROW_VANISHED = "Save with update_fields did not affect any rows."

PROBLEM_CONTENT_TYPE = "application/problem+json"

# HTTP status → (problem type slug, title) for errors that carry no more specific type.
_DEFAULT_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("not-authenticated", "Authentication required"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable-content", "Unprocessable content"),
    429: ("quota-exceeded", "Quota exceeded"),
    500: ("server-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}


def problem_type(slug: str) -> str:
    return f"{settings.PROBLEM_TYPE_BASE}{slug}"


def problem_body(
    request: HttpRequest | None,
    *,
    status_code: int,
    detail: str,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    default_slug, default_title = _DEFAULT_PROBLEMS.get(status_code, ("error", "Error"))
    body: dict[str, Any] = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else None,
        "request_id": getattr(request, "request_id", None),
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


class Problem(exceptions.APIException):
    """An API error with its own problem type, e.g. ``Problem(409, "conflict", "…")``."""

    def __init__(
        self,
        status_code: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail=detail)
        self.status_code = status_code
        self.slug = slug
        self.title = title
        self.headers = headers or {}
        self.extra = extra


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE

    def __init__(self, limit: int | None = None) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
        super().__init__(f"The request body is larger than {limit} bytes.")


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested ``get_full_details()`` into ``[{"field": "a.b.0.c", "code", "message"}]``."""
    if isinstance(detail, dict) and set(detail) == {"message", "code"}:
        field = prefix or "non_field_errors"
        return [{"field": field, "code": detail["code"] or "invalid", "message": str(detail["message"])}]
    flat: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "__all__") and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            flat.extend(flatten_errors(value, path))
    elif isinstance(detail, list):
        nested = any(isinstance(item, dict) and set(item) != {"message", "code"} for item in detail)
        for index, item in enumerate(detail):
            if nested:
                if item:
                    flat.extend(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
            else:
                flat.extend(flatten_errors(item, prefix))
    return flat


def _first_message(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "The request is invalid."
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DatabaseError) and str(exc) == _ROW_VANISHED:
        # The row was deleted by a concurrent request between this one's read and its write.
        exc = exceptions.NotFound("The resource was deleted while this request was being processed.")
    elif isinstance(exc, RequestDataTooBig):  # the body was read (digest, idempotency) before parsing
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request could not be understood.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    from .db_retry import connection_dropped  # late: it imports the database layer

    if isinstance(exc, OperationalError | InterfaceError):
        dropped = connection_dropped(exc)
        if request is not None and dropped:
            request._request._database_connection_dropped = True  # db_retry may run the request again
        logger.warning("Database unavailable (%s): %s", "connection dropped" if dropped else "error", exc)
        exc = Problem(
            503,
            "database-unavailable",
            "The database is briefly unavailable; retry shortly.",
            title="Service unavailable",
            headers={"Retry-After": "1"},
        )

    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error in API view", exc_info=exc)
        body = problem_body(request, status_code=500, detail="An unexpected error occurred.")
        return problem_response(body)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, Problem):
        headers.update(exc.headers)
        body = problem_body(
            request,
            status_code=exc.status_code,
            detail=str(exc.detail),
            slug=exc.slug,
            title=exc.title,
            **exc.extra,
        )
    elif isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.get_full_details())
        body = problem_body(
            request,
            status_code=status.HTTP_400_BAD_REQUEST,
            slug="validation-error",
            title="Validation failed",
            detail=_first_message(errors),
            errors=errors,
        )
    else:
        slug = {
            exceptions.ParseError: "malformed-request",
            PayloadTooLarge: "payload-too-large",
            exceptions.NotAuthenticated: "not-authenticated",
            exceptions.AuthenticationFailed: "invalid-token",
        }.get(type(exc))
        body = problem_body(request, status_code=exc.status_code, detail=str(exc.detail), slug=slug)
    return problem_response(body, headers)


def problem_json_response(request: HttpRequest, status_code: int, detail: str) -> JsonResponse:
    """A problem document outside DRF (Django handlers, middleware)."""
    body = problem_body(request, status_code=status_code, detail=detail)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


_django_problem = problem_json_response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _django_problem(request, 413, f"The request body is larger than {limit} bytes.")
    return _django_problem(request, 400, "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 403, "You do not have permission to perform this action.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _django_problem(request, 404, f"No resource at {request.path}.")


def server_error(request: HttpRequest) -> JsonResponse:
    return _django_problem(request, 500, "An unexpected error occurred.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return _django_problem(request, 403, "CSRF verification failed.")
