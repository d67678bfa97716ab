"""The platform's Prometheus metrics, in prometheus-client's multiprocess mode so that every gunicorn and
Celery process is counted (``PROMETHEUS_MULTIPROC_DIR``, set by the settings). Apps define their own
metrics the same way, in their own modules; ``GET /api/v1/cs-integration/metrics`` exposes them all."""

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0, 86400.0)

http_requests = Counter("csi_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
http_request_duration = Histogram(
    "csi_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
rate_limit_rejections = Counter(
    "csi_rate_limit_rejections_total", "Requests refused over a client's quota (429)", ["category"]
)
requests_shed = Counter("csi_requests_shed_total", "Requests shed under overload (503)", ["category"])
events_published = Counter(
    "csi_events_published_total",
    "Domain events written to the outbox (counted as they are written)",
    ["event_type"],
)
webhook_attempts = Counter(
    "csi_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (succeeded, failed, gone, aborted, lost) and attempt number",
    ["outcome", "attempt"],
)
webhook_delivery_lag = Histogram(
    "csi_webhook_delivery_lag_seconds",
    "From an event's time to its successful delivery to one endpoint",
    buckets=LAG_BUCKETS,
)


def attempt_label(number: int) -> str:
    """Attempt numbers as a bounded label: 1 … 8, then 9+."""
    return str(number) if number <= 8 else "9+"
