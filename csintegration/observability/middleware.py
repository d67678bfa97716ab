"""Per request: the Prometheus request metrics, and one structured log line."""

from __future__ import annotations

import time
from functools import lru_cache

import structlog

from .logs import request_events
from .metrics import http_request_duration, http_requests

logger = structlog.get_logger("csintegration.request")

#: paths neither counted nor logged: static assets
SKIPPED_PREFIXES = ("/static/",)


@lru_cache(maxsize=1024)
def route_template(route: str) -> str:
    """``api/v1/cs-integration/customers/(?P<customer_id>cust_…)/health/?$`` →
    ``/api/v1/cs-integration/customers/{customer_id}/health``: a bounded label per route."""
    out, index = [], 0
    while index < len(route):
        if route.startswith("(?P<", index):
            end_name = route.index(">", index)
            name = route[index + 4 : end_name]
            depth, cursor = 1, end_name + 1
            while cursor < len(route) and depth:
                depth += {"(": 1, ")": -1}.get(route[cursor], 0)
                cursor += 1
            out.append("{" + name + "}")
            index = cursor
            continue
        out.append(route[index])
        index += 1
    text = "".join(out).replace("^", "").replace("$", "").replace("\\Z", "").replace("/?", "")
    text = text.replace("\\", "")
    return "/" + text.lstrip("/") if text else "/"


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "unmatched"
    return route_template(match.route)


def _client_id(request) -> str:
    application = getattr(getattr(request, "auth", None), "application", None)
    return getattr(application, "client_id", "") or ""


class ObservabilityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(SKIPPED_PREFIXES):
            return self.get_response(request)
        started = time.perf_counter()
        published = request_events.set([])
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            route, status = _route(request), response.status_code
            http_requests.labels(route, request.method, str(status)).inc()
            http_request_duration.labels(route, request.method).observe(elapsed)
            logger.info(
                "request",
                method=request.method,
                path=request.path,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_id=_client_id(request) or None,
                events=request_events.get() or None,
            )
            return response
        finally:
            request_events.reset(published)
