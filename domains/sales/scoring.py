"""Expansion readiness, computed (pure: no ORM, no I/O).

A readiness model is a list of weighted factors, each normalised to 0..1 like a health scorecard's
measures (``range``: linear between a minimum and a maximum, clamped; ``target``: the ratio to a target,
full marks at the target or above). The score is

    score = round( Σ weight_i * normalised_i ÷ Σ weight_i * 100 )        (0 to 100, half up)

over every factor of the model. Unlike health, a factor without a value (no NPS survey yet, no adoption
figure) earns no points and keeps its weight: readiness is evidence, and missing evidence is not
evidence. Each factor's ``points`` are its share of the score, to the hundredth, and the points add up
to the score exactly (largest remainder).

``readiness_factors`` are the factors that contributed most: those whose normalised value reaches the
model's ``strong_share`` (0.6 by default), by points, at most ``top_factors`` (3) of them.

The crossing rule (:func:`decide_crossing`): ``expansion_ready`` is announced when the score reaches the
threshold while the customer was not above it; the customer then stays "above" until the score falls
below ``threshold - rearm_margin``, and only a new upward crossing announces again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

RANGE = "range"
TARGET = "target"

ADOPTION, HEALTH, ENGAGEMENT, NPS, TREND, MILESTONES = (
    "adoption",
    "health",
    "engagement",
    "nps",
    "trend",
    "milestones",
)
#: a trend is categorical: this is the raw value each one stands for
TREND_VALUES: dict[str, float] = {"improving": 1.0, "stable": 0.5, "declining": 0.0}


@dataclass(frozen=True)
class FactorSpec:
    factor: str
    weight: float
    label: str
    normalisation: str = RANGE
    min_value: float | None = None
    max_value: float | None = None
    target_value: float | None = None
    #: milestones: the look-back of the count
    window_days: int = 180


@dataclass(frozen=True)
class ReadinessSpec:
    name: str
    factors: tuple[FactorSpec, ...]
    threshold: int = 70
    rearm_margin: int = 0
    top_factors: int = 3
    strong_share: float = 0.6
    model_id: int | None = None

    @property
    def milestone_window_days(self) -> int | None:
        for spec in self.factors:
            if spec.factor == MILESTONES:
                return spec.window_days
        return None


@dataclass(frozen=True)
class ReadinessInputs:
    """What the model reads of one customer."""

    adoption_rate: float | None = None
    health_score: int | None = None
    engagement_score: float | None = None
    nps_score: int | None = None
    health_trend: str | None = None
    #: milestones reached within the milestone factor's window
    recent_milestones: int = 0

    def raw_value(self, factor: str) -> float | None:
        if factor == ADOPTION:
            return self.adoption_rate
        if factor == HEALTH:
            return None if self.health_score is None else float(self.health_score)
        if factor == ENGAGEMENT:
            return self.engagement_score
        if factor == NPS:
            return None if self.nps_score is None else float(self.nps_score)
        if factor == TREND:
            return TREND_VALUES.get(self.health_trend or "")
        if factor == MILESTONES:
            return float(self.recent_milestones)
        raise ValueError(f"Unknown readiness factor {factor!r}")


@dataclass(frozen=True)
class FactorResult:
    factor: str
    label: str
    raw_value: float | None
    #: 0..1, None when the customer has no value
    normalised_value: float | None
    weight: float
    #: the factor's share of the model's weights
    weight_share: float
    #: its part of the score, in points (the points of all factors add up to the score)
    points: float

    def as_dict(self) -> dict:
        return {
            "factor": self.factor,
            "label": self.label,
            "raw_value": self.raw_value,
            "normalised_value": self.normalised_value,
            "weight": self.weight,
            "weight_share": self.weight_share,
            "points": self.points,
        }


@dataclass(frozen=True)
class Readiness:
    score: int
    factors: tuple[FactorResult, ...]
    #: the factors that contributed most, by points
    top: tuple[FactorResult, ...]

    @property
    def readiness_factors(self) -> list[str]:
        return [result.label for result in self.top]

    @property
    def factor_points(self) -> dict[str, float]:
        return {result.label: result.points for result in self.top}


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def normalise(value: float, spec: FactorSpec) -> float:
    """A raw value on 0..1, where 1 is full marks."""
    if spec.normalisation == RANGE:
        if spec.min_value is None or spec.max_value is None or spec.max_value <= spec.min_value:
            raise ValueError(f"{spec.factor}: a range needs min_value < max_value")
        return _clamp((value - spec.min_value) / (spec.max_value - spec.min_value))
    if spec.normalisation == TARGET:
        if spec.target_value is None or spec.target_value <= 0:
            raise ValueError(f"{spec.factor}: a target normalisation needs a target above 0")
        return _clamp(value / spec.target_value)
    raise ValueError(f"{spec.factor}: unknown normalisation {spec.normalisation!r}")


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def apportion(exact: Sequence[float], total: int, unit: int = 100) -> list[float]:
    """Round ``exact`` shares to 1/unit so that they add up to ``total`` exactly (largest remainder)."""
    exact_total = sum(exact)
    if exact_total <= 0:
        return [0.0] * len(exact)
    quotas = [share / exact_total * total * unit for share in exact]
    floors = [math.floor(quota) for quota in quotas]
    remainder = total * unit - sum(floors)
    by_fraction = sorted(range(len(quotas)), key=lambda i: (quotas[i] - floors[i], exact[i]), reverse=True)
    for index in by_fraction[:remainder]:
        floors[index] += 1
    return [units / unit for units in floors]


def compute_readiness(spec: ReadinessSpec, inputs: ReadinessInputs) -> Readiness:
    """The readiness of one customer under ``spec`` (see the module's docstring)."""
    total_weight = sum(factor.weight for factor in spec.factors)
    if not spec.factors or total_weight <= 0:
        return Readiness(score=0, factors=(), top=())
    raws = [inputs.raw_value(factor.factor) for factor in spec.factors]
    normalised = [
        None if raw is None else normalise(raw, factor)
        for raw, factor in zip(raws, spec.factors, strict=True)
    ]
    exact = [
        0.0 if share is None else share * factor.weight / total_weight * 100
        for share, factor in zip(normalised, spec.factors, strict=True)
    ]
    score = min(100, max(0, round_half_up(sum(exact))))
    points = apportion(exact, score)
    results = tuple(
        FactorResult(
            factor=factor.factor,
            label=factor.label,
            raw_value=raw,
            normalised_value=None if share is None else round(share, 4),
            weight=factor.weight,
            weight_share=round(factor.weight / total_weight, 4),
            points=point,
        )
        for factor, raw, share, point in zip(spec.factors, raws, normalised, points, strict=True)
    )
    strong = [
        result
        for result in results
        if result.normalised_value is not None
        and result.normalised_value >= spec.strong_share
        and result.points > 0
    ]
    strong.sort(key=lambda result: (-result.points, -result.weight, result.factor))
    return Readiness(score=score, factors=results, top=tuple(strong[: spec.top_factors]))


@dataclass(frozen=True)
class CrossingDecision:
    above: bool
    #: the score crossed the threshold upwards: announce expansion_ready
    announce: bool
    #: the score fell far enough below the threshold that the next crossing announces again
    rearmed: bool


def decide_crossing(*, above: bool, score: int, threshold: int, rearm_margin: int = 0) -> CrossingDecision:
    if not above and score >= threshold:
        return CrossingDecision(above=True, announce=True, rearmed=False)
    if above and score < threshold - rearm_margin:
        return CrossingDecision(above=False, announce=False, rearmed=True)
    return CrossingDecision(above=above, announce=False, rearmed=False)
