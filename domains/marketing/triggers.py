"""Trigger rules decided: does a rule's CS signal hold for a customer, and why. Pure: the selectors gather
a customer's facts from stored data, the rules come from the database.

| signal | holds when (``threshold``, default) |
| --- | --- |
| health_declining | trend declining, or the latest score fell ``threshold`` points (10) or more |
| churn_risk | the risk level is high or critical |
| expansion_ready | the sales app put the customer in its expansion pipeline (readiness crossed) |
| onboarding_stalled | in onboarding for more than ``threshold`` days (30) |
| low_adoption | adoption rate below ``threshold`` (0.3) |
| low_engagement | engagement score below ``threshold`` (5) |
| promoter | NPS at least ``threshold`` (50) |
| churned | the lifecycle stage is churned |

Every signal but ``churned`` ignores churned customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_THRESHOLDS: dict[str, float] = {
    "health_declining": 10.0,
    "onboarding_stalled": 30.0,
    "low_adoption": 0.3,
    "low_engagement": 5.0,
    "promoter": 50.0,
}
#: the values a threshold may take, per signal that has one
THRESHOLD_BOUNDS: dict[str, tuple[float, float]] = {
    "health_declining": (1.0, 100.0),
    "onboarding_stalled": (1.0, 3650.0),
    "low_adoption": (0.0, 1.0),
    "low_engagement": (0.0, 10.0),
    "promoter": (-100.0, 100.0),
}
CHURNED = "churned"


@dataclass(frozen=True)
class CustomerFacts:
    """What the rules read of one customer, as stored."""

    health_score: int
    #: the score before the latest one in the health history (None without one)
    previous_score: int | None
    health_trend: str
    risk_level: str
    lifecycle_stage: str
    days_in_stage: float
    adoption_rate: float | None
    engagement_score: float | None
    nps_score: int | None
    sales_status: str


@dataclass(frozen=True)
class RuleSpec:
    rule_id: int | None
    name: str
    signal: str
    threshold: float | None
    campaign_type: str
    trigger_type: str
    automatic: bool = False


@dataclass(frozen=True)
class Firing:
    rule: RuleSpec
    reason: str


def threshold_problem(signal: str, threshold: float | None) -> str | None:
    """Why ``threshold`` does not suit ``signal`` (None when it does; blank takes the default)."""
    if threshold is None:
        return None
    bounds = THRESHOLD_BOUNDS.get(signal)
    if bounds is None:
        return "This signal takes no threshold; leave it blank."
    low, high = bounds
    if not low <= threshold <= high:
        return f"Use a threshold from {low:g} to {high:g} for this signal."
    return None


def _threshold(rule: RuleSpec) -> float:
    return rule.threshold if rule.threshold is not None else DEFAULT_THRESHOLDS[rule.signal]


def evaluate(rule: RuleSpec, facts: CustomerFacts) -> str | None:
    """The reason the rule fires for these facts, or None."""
    signal = rule.signal
    if signal == CHURNED:
        return "lifecycle_stage is churned" if facts.lifecycle_stage == CHURNED else None
    if facts.lifecycle_stage == CHURNED:
        return None
    if signal == "health_declining":
        drop_needed = _threshold(rule)
        reasons = []
        if facts.health_trend == "declining":
            reasons.append("health_trend is declining")
        if facts.previous_score is not None and facts.previous_score - facts.health_score >= drop_needed:
            fall = facts.previous_score - facts.health_score
            reasons.append(
                f"health score fell {fall} points ({facts.previous_score} to {facts.health_score}), "
                f"at least {drop_needed:g}"
            )
        return "; ".join(reasons) or None
    if signal == "churn_risk":
        if facts.risk_level in ("high", "critical"):
            return f"risk_level is {facts.risk_level}"
        return None
    if signal == "expansion_ready":
        if facts.sales_status == "expansion_pipeline":
            return "expansion readiness crossed the sales threshold (sales_status expansion_pipeline)"
        return None
    if signal == "onboarding_stalled":
        days = _threshold(rule)
        if facts.lifecycle_stage == "onboarding" and facts.days_in_stage > days:
            return f"in onboarding for {facts.days_in_stage:.0f} days, more than {days:g}"
        return None
    if signal == "low_adoption":
        limit = _threshold(rule)
        if facts.adoption_rate is not None and facts.adoption_rate < limit:
            return f"adoption_rate {facts.adoption_rate:g} is below {limit:g}"
        return None
    if signal == "low_engagement":
        limit = _threshold(rule)
        if facts.engagement_score is not None and facts.engagement_score < limit:
            return f"engagement_score {facts.engagement_score:g} is below {limit:g}"
        return None
    if signal == "promoter":
        floor = _threshold(rule)
        if facts.nps_score is not None and facts.nps_score >= floor:
            return f"nps_score {facts.nps_score} is at least {floor:g}"
        return None
    raise ValueError(f"Unknown signal {signal!r}")


def firings(rules: Sequence[RuleSpec], facts: CustomerFacts) -> list[Firing]:
    """The rules that fire, in the order given (priority, then name)."""
    fired = []
    for rule in rules:
        reason = evaluate(rule, facts)
        if reason:
            fired.append(Firing(rule=rule, reason=reason))
    return fired
