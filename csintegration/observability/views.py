"""``GET /api/v1/cs-integration/metrics``: every process's metrics in the Prometheus text format."""

import logging
import os

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from csintegration.api.views import PlatformAPIView

from .collectors import PlatformStateCollector, registered_collectors

logger = logging.getLogger(__name__)


class _Guarded:
    """A scrape-time collector that fails alone: its metrics are left out, the others still served."""

    def __init__(self, collector) -> None:
        self.collector = collector

    def collect(self):
        try:
            yield from list(self.collector.collect())
        except Exception:
            logger.warning("The metrics collector %r failed.", self.collector, exc_info=True)


def exposition() -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for collector in (PlatformStateCollector(), *registered_collectors()):
        registry.register(_Guarded(collector))
    return generate_latest(registry)


@extend_schema(
    tags=["cs-integration"],
    summary="Platform metrics (Prometheus)",
    description=(
        "The metrics of every web and worker process in the Prometheus text exposition format: requests "
        "by route, method and status with latency histograms, rate-limit rejections and shed requests by "
        "category, events published by type, the outbox backlog and its oldest event, webhook attempts "
        "by outcome and attempt number with the event-to-delivery lag, deliveries due, Celery queue "
        "depths, and the apps' own (workflow runs, the nightly recompute). docs/operations.md has a "
        "scrape configuration and alert rules."
    ),
    responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus text format")},
)
class MetricsView(PlatformAPIView):
    required_scope = "metrics:read"
    rate_limit_category = "admin"

    def get(self, request):
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
