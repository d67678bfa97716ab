"""Request ids (every response carries ``X-Request-ID``; a well-formed inbound id is echoed), and the
problem+json fallback for errors answered outside DRF."""

import contextvars
import logging
import re
import uuid

import structlog
from django.db import InterfaceError, OperationalError, connection

from .exceptions import problem_json_response

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
shed_logger = logging.getLogger("csintegration.api.shed")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        inbound = request.headers.get("X-Request-ID", "")
        request_id = inbound if _REQUEST_ID_PATTERN.match(inbound) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
            structlog.contextvars.unbind_contextvars("request_id")
        response["X-Request-ID"] = request_id
        return response


_JSON_TYPES = ("application/json", "application/problem+json")
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Cache-Control")


class ProblemFallbackMiddleware:
    """An error under ``/api/`` or ``/o/`` that some view answered without JSON (Django's bare 405 from
    a view that does not take the method, e.g. ``GET /o/token/``) becomes a problem document, so no
    HTML or empty error body ever reaches a client of the API (CONTRACT.md §3). OAuth's own JSON errors
    (``{"error": "invalid_client"}``) are left as RFC 6749 defines them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def process_exception(self, request, exception):
        """A database outage under a view outside DRF (``/o/token/``) is a 503 to retry, not a 500."""
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        connection.close_if_unusable_or_obsolete()
        problem = problem_json_response(request, 503, "The database is briefly unavailable; retry shortly.")
        problem["Retry-After"] = "1"
        return problem

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 503 and response.has_header("Retry-After"):
            # Deliberate shedding (overload, busy secret checks, a database blip), not a server error:
            # Django would log each one at ERROR and mail it to ADMINS, one email per refused request.
            response._has_been_logged = True
            shed_logger.warning(
                "Shed %s %s with 503: Retry-After %s", request.method, request.path, response["Retry-After"]
            )
        if (
            response.status_code < 400
            or not request.path.startswith(("/api/", "/o/"))
            or response.get("Content-Type", "").startswith(_JSON_TYPES)
        ):
            return response
        detail = {
            405: f"{request.method} is not allowed here; allowed: {response.get('Allow', 'none')}.",
        }.get(response.status_code, "The request could not be served.")
        problem = problem_json_response(request, response.status_code, detail)
        for name in _KEPT_HEADERS:
            if response.has_header(name):
                problem[name] = response[name]
        return problem
