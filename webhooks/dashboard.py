"""The webhooks' part of the admin dashboard: the delivery success rate and the event-to-delivery lag
over the last 24 hours, and the endpoints that are failing; each figure links to the list behind it."""

from __future__ import annotations

from datetime import timedelta
from statistics import median

from django.db.models import Count, Q
from django.utils import timezone

from csintegration.adminsite.charts import Bar, bar_chart
from csintegration.adminsite.dashboard import Chart, Figure, Section, changelist_url

from .models import Delivery, DeliveryStatus, WebhookEndpoint

WINDOW_HOURS = 24
DELIVERIES = "webhooks.delivery"
ENDPOINTS = "webhooks.webhookendpoint"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def delivery_section(request) -> Section:
    now = timezone.now().replace(microsecond=0)
    since = now - timedelta(hours=WINDOW_HOURS)
    window = {"created_at__gte": since.isoformat()}
    counts = Delivery.objects.filter(created_at__gte=since).aggregate(
        total=Count("pk"),
        succeeded=Count("pk", filter=Q(status=DeliveryStatus.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
        pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
    )
    finished = counts["succeeded"] + counts["failed"]
    rate = f"{100 * counts['succeeded'] / finished:.1f}%" if finished else "-"
    lags = [
        (succeeded_at - occurred_at).total_seconds()
        for succeeded_at, occurred_at in Delivery.objects.filter(
            created_at__gte=since, status=DeliveryStatus.SUCCEEDED, succeeded_at__isnull=False
        ).values_list("succeeded_at", "message__occurred_at")
    ]
    lag = f"{_seconds(median(lags))} / {_seconds(_percentile(lags, 0.95))}" if lags else "-"
    failing = WebhookEndpoint.objects.filter(is_active=True, failing_since__isnull=False).count()
    disabled = WebhookEndpoint.objects.filter(is_active=False).count()
    figures = [
        Figure(
            "Deliveries, 24 h", str(counts["total"]), changelist_url(DELIVERIES, **window), counts["total"]
        ),
        Figure(
            "Delivery success rate, 24 h",
            rate,
            changelist_url(DELIVERIES, status__exact=DeliveryStatus.SUCCEEDED, **window),
            counts["succeeded"],
            tone="success",
            note=f"{counts['succeeded']} of {finished} finished",
        ),
        Figure(
            "Failed deliveries, 24 h",
            str(counts["failed"]),
            changelist_url(DELIVERIES, status__exact=DeliveryStatus.FAILED, **window),
            counts["failed"],
            tone="danger" if counts["failed"] else "success",
        ),
        Figure(
            "Event-to-delivery lag, median / p95",
            lag,
            changelist_url(DELIVERIES, status__exact=DeliveryStatus.SUCCEEDED, **window),
            len(lags),
            note=f"over {len(lags)} succeeded deliveries",
        ),
        Figure(
            "Failing endpoints",
            str(failing),
            changelist_url(ENDPOINTS, is_active__exact=1, failing_since__isnull="False"),
            failing,
            tone="danger" if failing else "success",
        ),
        Figure(
            "Disabled endpoints",
            str(disabled),
            changelist_url(ENDPOINTS, is_active__exact=0),
            disabled,
            tone="warning" if disabled else "neutral",
        ),
    ]
    chart = bar_chart(
        [
            Bar(
                "succeeded",
                counts["succeeded"],
                changelist_url(DELIVERIES, status__exact=DeliveryStatus.SUCCEEDED, **window),
                "success",
            ),
            Bar(
                "pending",
                counts["pending"],
                changelist_url(DELIVERIES, status__exact=DeliveryStatus.PENDING, **window),
                "warning",
            ),
            Bar(
                "failed",
                counts["failed"],
                changelist_url(DELIVERIES, status__exact=DeliveryStatus.FAILED, **window),
                "danger",
            ),
        ],
        title="Deliveries of the last 24 hours by status",
        width=360,
    )
    return Section(figures=figures, charts=[Chart("Deliveries by status, 24 h", chart)])
