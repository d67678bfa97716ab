"""What the customer's 360 page in the admin shows of its health: the 90-day history as a line chart,
the latest score's breakdown as bars per measure with what changed since the previous score, and the
headline figures. Two queries whatever the length of the history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from csintegration.adminsite.charts import Bar, Point, bar_chart, line_chart

from . import scoring
from .models import Customer, HealthSnapshot, RiskLevel

HISTORY_DAYS = 90
RISK_TONES = {
    RiskLevel.LOW: "success",
    RiskLevel.MEDIUM: "warning",
    RiskLevel.HIGH: "danger",
    RiskLevel.CRITICAL: "critical",
}


def history(customer: Customer, *, days: int = HISTORY_DAYS) -> list[HealthSnapshot]:
    """The applied scores of the last ``days`` days, oldest first."""
    since = timezone.now() - timedelta(days=days)
    return list(
        HealthSnapshot.objects.filter(customer=customer, applied=True, observed_at__gte=since)
        .only("id", "score", "risk_level", "observed_at")
        .order_by("observed_at", "id")
    )


def latest_two(customer: Customer) -> tuple[HealthSnapshot | None, HealthSnapshot | None]:
    latest = list(
        HealthSnapshot.objects.filter(customer=customer, applied=True).order_by("-observed_at", "-id")[:2]
    )
    return (latest[0] if latest else None, latest[1] if len(latest) > 1 else None)


def health_history_chart(snapshots: list[HealthSnapshot]):
    points = [
        Point(label=f"{s.observed_at:%b %d}", value=s.score, tone=RISK_TONES.get(s.risk_level, "primary"))
        for s in snapshots
    ]
    return line_chart(
        points,
        title=f"Health score, last {HISTORY_DAYS} days",
        guides=((25, "25"), (50, "50"), (75, "75")),
        label_every=max(1, len(points) // 6),
    )


def breakdown_rows(latest: HealthSnapshot | None, previous: HealthSnapshot | None) -> list[dict[str, Any]]:
    """Per measure of the latest score: its raw and normalised value, weight share, points, and the
    change of its points and raw value since the previous score."""
    if latest is None:
        return []
    changes = {
        change["measure"]: change
        for change in scoring.breakdown_changes(previous.breakdown if previous else None, latest.breakdown)
    }
    rows = []
    for entry in latest.breakdown or ():
        change = changes.get(entry["measure"], {})
        rows.append(
            {
                "measure": entry["measure"],
                "raw_value": entry.get("raw_value"),
                "normalised_value": entry.get("normalised_value"),
                "weight_share": entry.get("weight_share", 0.0),
                "points": entry.get("contribution", 0.0),
                "max_points": round(100 * entry.get("weight_share", 0.0), 2),
                "points_delta": change.get("contribution_delta"),
                "previous_raw_value": change.get("previous_raw_value"),
                "raw_delta": change.get("raw_delta"),
            }
        )
    return rows


def breakdown_chart(rows: list[dict[str, Any]]):
    def shown(row) -> str:
        delta = row["points_delta"]
        return f"{row['points']:g}" + (f" ({delta:+g})" if delta else "")

    bars = [
        Bar(
            label=row["measure"],
            value=row["points"],
            display=shown(row),
            tone="danger"
            if (row["points_delta"] or 0) < 0
            else "success"
            if (row["points_delta"] or 0) > 0
            else "primary",
        )
        for row in rows
    ]
    scale = max((row["max_points"] for row in rows), default=0) or None
    return bar_chart(bars, title="Points per measure of the latest score", scale=scale, width=560)


def context(customer: Customer) -> dict[str, Any]:
    snapshots = history(customer)
    latest, previous = latest_two(customer)
    rows = breakdown_rows(latest, previous)
    return {
        "customer": customer,
        "health_chart": health_history_chart(snapshots),
        "history_points": len(snapshots),
        "history_low": min((s.score for s in snapshots), default=None),
        "history_high": max((s.score for s in snapshots), default=None),
        "latest_snapshot": latest,
        "previous_snapshot": previous,
        "score_delta": latest.score - previous.score if latest and previous else None,
        "breakdown_rows": rows,
        "breakdown_chart": breakdown_chart(rows) if rows else None,
    }
