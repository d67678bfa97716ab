"""What a campaign changed, and what a new one may be expected to change. Pure: the selectors aggregate
the members' rows in SQL into ``GroupStats``; these functions decide.

Measured impact is a difference in differences. For each group (the members, and the holdout or, without
one, the comparison group of non-members who entered the same segments later):

- retention rate: of the customers not churned when they joined, the share not churned at measurement;
  its change since joining is ``rate - 1`` (everyone counted was retained at the start);
- health change: the mean of (health score at measurement - health score at joining), in points;
- engagement change: the mean of (engagement at measurement - at joining), over the customers that had
  an engagement score at both times.

The impact on each is the members' change minus the comparison group's change: retention in percentage
points, health and engagement in points. ``engagement_lift`` is the engagement impact relative to the
members' mean engagement at joining, in percent.

The estimate of a new campaign is the interquartile range (25th to 75th percentile, inclusive method)
of the measured impacts of finished (completed) campaigns of the same type that had a comparison group,
once there are at least ``min_history`` of them; before that, the documented prior of its type.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

HOLDOUT, NON_MEMBERS = "holdout", "non_members"


@dataclass(frozen=True)
class GroupStats:
    """Aggregates of one group of a campaign."""

    size: int = 0
    #: customers not churned when they joined
    active_at_start: int = 0
    #: of those, customers not churned at measurement
    retained: int = 0
    #: mean health score change in points (None for an empty group)
    health_change: float | None = None
    #: customers with an engagement score when they joined and at measurement
    engagement_size: int = 0
    engagement_change: float | None = None
    #: their mean engagement score when they joined
    baseline_engagement: float | None = None

    @property
    def retention_rate(self) -> float | None:
        return self.retained / self.active_at_start if self.active_at_start else None

    def as_dict(self) -> dict[str, Any]:
        rate = self.retention_rate
        return {
            "size": self.size,
            "active_at_start": self.active_at_start,
            "retained": self.retained,
            "retention_rate": None if rate is None else round(rate, 4),
            "health_change": _round(self.health_change, 2),
            "engagement_size": self.engagement_size,
            "engagement_change": _round(self.engagement_change, 3),
            "baseline_engagement": _round(self.baseline_engagement, 3),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _difference(members: float | None, comparison: float | None) -> float | None:
    if members is None or comparison is None:
        return None
    return members - comparison


@dataclass(frozen=True)
class MeasuredImpact:
    measured_at: datetime
    #: "holdout", "non_members", or None when there is no comparison group yet
    comparison: str | None
    members: GroupStats
    comparison_group: GroupStats
    #: percentage points
    retention_difference: float | None
    health_difference: float | None
    engagement_difference: float | None
    #: percent of the members' engagement when they joined
    engagement_lift: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "measured_at": self.measured_at.isoformat(),
            "comparison": self.comparison,
            "members": self.members.as_dict(),
            "comparison_group": self.comparison_group.as_dict(),
            "difference_in_differences": {
                "retention_points": _round(self.retention_difference, 2),
                "health_score_points": _round(self.health_difference, 2),
                "engagement_points": _round(self.engagement_difference, 3),
            },
            "retention_improvement": format_percent(self.retention_difference),
            "engagement_lift": format_percent(self.engagement_lift),
            "engagement_lift_percent": _round(self.engagement_lift, 2),
        }


def measure(
    *, members: GroupStats, comparison_group: GroupStats, comparison: str | None, measured_at: datetime
) -> MeasuredImpact:
    """The difference in differences of the members against the comparison group."""
    if comparison_group.size == 0:
        comparison = None
    members_retention, comparison_retention = members.retention_rate, comparison_group.retention_rate
    retention = _difference(
        None if members_retention is None else members_retention - 1,
        None if comparison_retention is None else comparison_retention - 1,
    )
    retention = None if retention is None else 100 * retention
    engagement = _difference(members.engagement_change, comparison_group.engagement_change)
    lift = (
        100 * engagement / members.baseline_engagement
        if engagement is not None and members.baseline_engagement
        else None
    )
    return MeasuredImpact(
        measured_at=measured_at,
        comparison=comparison,
        members=members,
        comparison_group=comparison_group,
        retention_difference=retention,
        health_difference=_difference(members.health_change, comparison_group.health_change),
        engagement_difference=engagement,
        engagement_lift=lift,
    )


def format_percent(value: float | None) -> str | None:
    return None if value is None else f"{round(value):d}%"


def format_range(low: float, high: float) -> str:
    """``"15-20%"`` (the seed's form), ``"25%"`` when both ends round alike, ``"-5 to 3%"`` below zero."""
    low_int, high_int = round(low), round(high)
    if low_int == high_int:
        return f"{low_int}%"
    separator = "-" if low_int >= 0 else " to "
    return f"{low_int}{separator}{high_int}%"


# --- Estimates ------------------------------------------------------------------------------------------

#: the prior of each campaign type until enough of its campaigns are measured: (retention improvement in
#: percentage points, engagement lift in percent), each as a (low, high) range
PRIORS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "retention": ((15.0, 20.0), (25.0, 25.0)),
    "expansion": ((2.0, 5.0), (10.0, 15.0)),
    "onboarding_nurture": ((5.0, 10.0), (20.0, 30.0)),
    "adoption": ((3.0, 8.0), (15.0, 25.0)),
    "advocacy": ((0.0, 2.0), (5.0, 10.0)),
    "win_back": ((5.0, 15.0), (10.0, 20.0)),
}
HISTORY, PRIOR = "history", "prior"


@dataclass(frozen=True)
class Estimate:
    retention: tuple[float, float]
    engagement: tuple[float, float]
    basis: str
    campaigns_measured: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "retention_improvement": format_range(*self.retention),
            "engagement_lift": format_range(*self.engagement),
            "basis": self.basis,
            "campaigns_measured": self.campaigns_measured,
            "retention_improvement_range": [round(value, 2) for value in self.retention],
            "engagement_lift_range": [round(value, 2) for value in self.engagement],
        }


def interquartile_range(values: Sequence[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles (inclusive method: within the values' range)."""
    if not values:
        raise ValueError("No values.")
    if len(values) == 1:
        return values[0], values[0]
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[0], quartiles[2]


def estimate(*, campaign_type: str, history: Sequence[tuple[float, float]], min_history: int) -> Estimate:
    """From the (retention points, engagement lift %) of finished campaigns of the type, or its prior."""
    if history and len(history) >= max(min_history, 1):
        return Estimate(
            retention=interquartile_range([retention for retention, _ in history]),
            engagement=interquartile_range([lift for _, lift in history]),
            basis=HISTORY,
            campaigns_measured=len(history),
        )
    retention, engagement = PRIORS[campaign_type]
    return Estimate(retention=retention, engagement=engagement, basis=PRIOR, campaigns_measured=len(history))


def history_point(measured: dict[str, Any] | None) -> tuple[float, float] | None:
    """The (retention points, engagement lift %) of a stored measured impact, if it has both."""
    if not measured:
        return None
    retention = (measured.get("difference_in_differences") or {}).get("retention_points")
    lift = measured.get("engagement_lift_percent")
    if retention is None or lift is None:
        return None
    return float(retention), float(lift)
