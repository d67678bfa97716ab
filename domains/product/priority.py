"""The priority score of a piece of feedback (pure: no ORM, no I/O).

    priority_score = 100 * (w_p·P + w_b·B + w_v·V + w_h·H) / (w_p + w_b + w_v + w_h), one decimal

- P, the declared priority: low 0.25, medium 0.5, high 0.75, critical 1;
- B, the business impact: nice_to_have 0.25, efficiency_gain 0.5, critical_for_success 0.75,
  renewal_blocker 1;
- V, the value at stake: log10(1 + ARR) / log10(1 + PRODUCT_FEEDBACK_ARR_CAP), at most 1 (so a 10 * larger
  account weighs a constant step more, not 10 *);
- H, the health risk: (100 - health score) / 100 (a request from a struggling customer matters more to
  retention).

Weights ``PRODUCT_FEEDBACK_WEIGHTS`` (default 0.35, 0.25, 0.25, 0.15).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

PRIORITY_VALUES = {"low": 0.25, "medium": 0.5, "high": 0.75, "critical": 1.0}
IMPACT_VALUES = {
    "nice_to_have": 0.25,
    "efficiency_gain": 0.5,
    "critical_for_success": 0.75,
    "renewal_blocker": 1.0,
}


@dataclass(frozen=True)
class PriorityScore:
    score: float
    #: each term (0..1) and its weight, as shown in the admin and the API
    terms: dict[str, dict[str, float]]

    def as_inputs(self, *, arr: float, health_score: int) -> dict:
        return {"arr": arr, "health_score": health_score, "terms": self.terms}


def arr_term(arr: float, cap: float) -> float:
    if arr <= 0:
        return 0.0
    return min(1.0, math.log10(1 + arr) / math.log10(1 + max(cap, 1.0)))


def health_risk_term(health_score: int) -> float:
    return (100 - max(0, min(100, health_score))) / 100


def priority_score(
    *,
    priority: str,
    business_impact: str,
    arr: float | Decimal,
    health_score: int,
    weights: Sequence[float],
    arr_cap: float,
) -> PriorityScore:
    if len(weights) != 4 or any(weight < 0 for weight in weights) or sum(weights) <= 0:
        raise ValueError("PRODUCT_FEEDBACK_WEIGHTS is four non-negative numbers, not all zero.")
    values = {
        "priority": PRIORITY_VALUES[priority],
        "business_impact": IMPACT_VALUES[business_impact],
        "arr": round(arr_term(float(arr), arr_cap), 4),
        "health_risk": health_risk_term(health_score),
    }
    total_weight = sum(weights)
    terms = {
        name: {"value": value, "weight": weight}
        for (name, value), weight in zip(values.items(), weights, strict=True)
    }
    score = 100 * sum(value * weight for value, weight in zip(values.values(), weights, strict=True))
    return PriorityScore(score=round(score / total_weight, 1), terms=terms)
