"""Value realisation, pure: how long a customer took to realise its contracted value, its churn-risk
episodes and which of them were saves, and the share of its revenue that Customer Success kept or grew.

- **Realisation timeline**: whole calendar months from the start of the earliest contract in force to
  the first value report (at or after that start) whose realised value reached the contracted value in
  force; ``"18_months"`` (``"1_month"``, ``"0_months"``). None while no report has reached it.
- **Churn-risk episode**: starts with a ``churn_risk_detected`` alert; ends at the first later score
  that is at least ``recovery_points`` above the alert's score with a risk level of low or medium.
  Alerts raised while an episode is open belong to it. An episode that ended is a **save** when the
  customer still had a contract in force on the day it ended; it is worth the ARR kept: the smaller of
  the ARR in force on the alert's day and on the day it ended.
- **Success contribution**: (churn prevention value + expansion revenue) ÷ current ARR, at most 1: the
  share of today's ARR that saves kept or expansion added over the attribution window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from .terms import whole_months_between

RECOVERED_RISK_LEVELS = ("low", "medium")


def timeline_label(months: int) -> str:
    return f"{months}_month" if months == 1 else f"{months}_months"


def realization_timeline(
    *, start: date | None, contracted_value: Decimal, reports: Sequence[tuple[date, Decimal]]
) -> str | None:
    """``reports`` are (reported on, realised value) pairs in any order."""
    if start is None or contracted_value <= 0:
        return None
    for reported_on, value in sorted(reports):
        if reported_on >= start and value >= contracted_value:
            return timeline_label(whole_months_between(start, reported_on))
    return None


@dataclass(frozen=True)
class Alert:
    event_id: str
    occurred_at: datetime
    #: the score that raised it
    score: int


@dataclass(frozen=True)
class ScorePoint:
    observed_at: datetime
    score: int
    risk_level: str


@dataclass(frozen=True)
class Episode:
    alert_event_id: str
    started_at: datetime
    alert_score: int
    #: None while the customer is still at risk
    ended_at: datetime | None = None
    recovery_score: int | None = None


def churn_risk_episodes(
    alerts: Sequence[Alert], points: Sequence[ScorePoint], *, recovery_points: int
) -> list[Episode]:
    ordered_points = sorted(points, key=lambda point: point.observed_at)
    episodes: list[Episode] = []
    open_until: datetime | None = None  # the end of the last episode, or None if it is still open
    for alert in sorted(alerts, key=lambda item: item.occurred_at):
        if episodes and (open_until is None or alert.occurred_at <= open_until):
            continue  # raised during an episode already counted
        target = alert.score + recovery_points
        recovery = next(
            (
                point
                for point in ordered_points
                if point.observed_at > alert.occurred_at
                and point.score >= target
                and point.risk_level in RECOVERED_RISK_LEVELS
            ),
            None,
        )
        episodes.append(
            Episode(
                alert_event_id=alert.event_id,
                started_at=alert.occurred_at,
                alert_score=alert.score,
                ended_at=recovery.observed_at if recovery else None,
                recovery_score=recovery.score if recovery else None,
            )
        )
        open_until = recovery.observed_at if recovery else None
    return episodes


def success_contribution(
    *, churn_prevention_value: Decimal, expansion_revenue: Decimal, current_arr: Decimal
) -> float | None:
    if current_arr <= 0:
        return None
    share = (churn_prevention_value + expansion_revenue) / current_arr
    return round(min(1.0, float(share)), 2)


def roi_percentage(*, realized_value: Decimal | None, contracted_value: Decimal) -> int | None:
    """round(100 * realised ÷ contracted); None without a report or a contract in force."""
    if realized_value is None or contracted_value <= 0:
        return None
    return int((100 * realized_value / contracted_value).quantize(Decimal(1), rounding=ROUND_HALF_UP))
