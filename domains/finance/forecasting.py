"""Forecast arithmetic, pure: each line's risk-adjusted value, the aggregates, and where submitted
aggregates differ from the computed ones.

For each customer line: renewal value R (the contracted value of the customer's stored contracts that end
within the period), renewal probability p, expansion value E and probability q.

    total_forecasted_revenue = Σ (R + E)
    risk_adjusted_value      = Σ (R * p + E * q)
    confidence_level         = risk_adjusted_value ÷ total_forecasted_revenue   (null when the total is 0)

so the confidence level is the value-weighted mean probability: the share of the revenue at stake that
the forecast expects to land.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0")
AGGREGATE_FIELDS = ("total_forecasted_revenue", "confidence_level", "risk_adjusted_value")
MONEY_FIELDS = ("total_forecasted_revenue", "risk_adjusted_value")


def cents(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineComputation:
    customer_id: str
    renewal_value: Decimal
    renewal_probability: float
    expansion_value: Decimal
    expansion_probability: float

    @property
    def risk_adjusted_renewal(self) -> Decimal:
        return cents(self.renewal_value * Decimal(str(self.renewal_probability)))

    @property
    def risk_adjusted_expansion(self) -> Decimal:
        return cents(self.expansion_value * Decimal(str(self.expansion_probability)))

    @property
    def risk_adjusted_value(self) -> Decimal:
        return self.risk_adjusted_renewal + self.risk_adjusted_expansion


@dataclass(frozen=True)
class Aggregates:
    total_forecasted_revenue: Decimal
    risk_adjusted_value: Decimal
    confidence_level: float | None
    renewal_value: Decimal
    expansion_value: Decimal
    risk_adjusted_renewal_value: Decimal
    risk_adjusted_expansion_value: Decimal
    customers: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (money as numbers to the cent)."""
        return {
            "total_forecasted_revenue": float(self.total_forecasted_revenue),
            "confidence_level": self.confidence_level,
            "risk_adjusted_value": float(self.risk_adjusted_value),
            "renewal_value": float(self.renewal_value),
            "expansion_value": float(self.expansion_value),
            "risk_adjusted_renewal_value": float(self.risk_adjusted_renewal_value),
            "risk_adjusted_expansion_value": float(self.risk_adjusted_expansion_value),
            "customers": self.customers,
        }


def aggregate(lines: Iterable[LineComputation]) -> Aggregates:
    renewal = expansion = adjusted_renewal = adjusted_expansion = ZERO
    customers = 0
    for line in lines:
        customers += 1
        renewal += line.renewal_value
        expansion += line.expansion_value
        adjusted_renewal += line.risk_adjusted_renewal
        adjusted_expansion += line.risk_adjusted_expansion
    total = renewal + expansion
    adjusted = adjusted_renewal + adjusted_expansion
    confidence = round(float(adjusted / total), 4) if total > 0 else None
    return Aggregates(
        total_forecasted_revenue=total,
        risk_adjusted_value=adjusted,
        confidence_level=confidence,
        renewal_value=renewal,
        expansion_value=expansion,
        risk_adjusted_renewal_value=adjusted_renewal,
        risk_adjusted_expansion_value=adjusted_expansion,
        customers=customers,
    )


@dataclass(frozen=True)
class Tolerance:
    #: share of the computed amount
    relative: float
    #: currency units (absorbs rounding)
    absolute: float
    #: for confidence_level, in probability units
    confidence: float

    def allowed(self, field: str, computed: float) -> float:
        if field == "confidence_level":
            return self.confidence
        return max(self.absolute, self.relative * abs(computed))


def find_discrepancies(
    submitted: Mapping[str, float], computed: Aggregates, tolerance: Tolerance
) -> list[dict[str, Any]]:
    """One entry per submitted aggregate that differs from the computed one by more than its tolerance
    (a submitted confidence level when nothing is at stake, so none can be computed, is one too)."""
    figures = computed.as_dict()
    found = []
    for field in AGGREGATE_FIELDS:
        if field not in submitted or submitted[field] is None:
            continue
        sent, ours = float(submitted[field]), figures[field]
        if ours is None:
            found.append(
                {
                    "field": f"aggregate_metrics.{field}",
                    "submitted": sent,
                    "computed": None,
                    "difference": None,
                    "tolerance": None,
                }
            )
            continue
        allowed = tolerance.allowed(field, ours)
        difference = sent - ours
        if abs(difference) > allowed:
            digits = 4 if field == "confidence_level" else 2
            found.append(
                {
                    "field": f"aggregate_metrics.{field}",
                    "submitted": sent,
                    "computed": ours,
                    "difference": round(difference, digits),
                    "tolerance": round(allowed, digits),
                }
            )
    return found
