"""Metrics read when Prometheus scrapes (the database and the broker), not counted by a process. Apps add
collectors of their own with ``register_collector``."""

from __future__ import annotations

import threading

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

_collectors: dict[str, object] = {}
_lock = threading.Lock()


def register_collector(name: str, collector) -> None:
    """Add a prometheus-client collector (an object with ``collect()``) to the metrics endpoint."""
    with _lock:
        _collectors[name] = collector


def registered_collectors() -> list:
    with _lock:
        return list(_collectors.values())


class PlatformStateCollector:
    """The outbox's backlog and its oldest undispatched event, and the messages in each Celery queue."""

    def collect(self):
        from csintegration.queues import queue_depths

        from .state import outbox_state

        state = outbox_state(now=timezone.now())
        yield GaugeMetricFamily(
            "csi_outbox_backlog", "Events written but not yet handed to every subscriber", state.backlog
        )
        yield GaugeMetricFamily(
            "csi_outbox_oldest_undispatched_seconds",
            "Age of the oldest event still waiting in the outbox (0 when none)",
            state.oldest_undispatched_seconds,
        )
        queues = GaugeMetricFamily(
            "csi_celery_queue_depth", "Messages waiting in each Celery queue", labels=["queue"]
        )
        for name, depth in queue_depths().items():
            if depth is not None:
                queues.add_metric([name], depth)
        yield queues
