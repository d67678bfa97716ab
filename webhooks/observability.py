"""What webhooks add to the health check and the metrics: the deliveries due and the oldest of them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from csintegration.api.health import CheckFailed

from .conf import conf
from .models import Delivery, DeliveryStatus


@dataclass(frozen=True)
class DueState:
    due: int
    oldest_due_seconds: float


def due_state() -> DueState:
    """One aggregate query on the partial index of pending deliveries."""
    now = timezone.now()
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).aggregate(
        count=Count("pk"), oldest=Min("next_attempt_at")
    )
    oldest = due["oldest"]
    return DueState(due["count"], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def check_deliveries() -> dict:
    state = due_state()
    details = {"deliveries_due": state.due, "oldest_due_delivery_seconds": round(state.oldest_due_seconds, 1)}
    if state.oldest_due_seconds > conf.WEBHOOK_HEALTH_MAX_DUE_SECONDS:
        raise CheckFailed("a webhook delivery has waited too long past its due time", details)
    return details


class DeliveryStateCollector:
    def collect(self):
        state = due_state()
        yield GaugeMetricFamily(
            "csi_webhook_due_deliveries", "Webhook deliveries due and not yet attempted", state.due
        )
        yield GaugeMetricFamily(
            "csi_webhook_oldest_due_seconds",
            "How long the oldest due webhook delivery has waited past its due time (0 when none)",
            state.oldest_due_seconds,
        )
