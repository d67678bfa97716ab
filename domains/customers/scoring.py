"""Pure health computation (no ORM, no I/O): scorecards, normalisation, risk bands, trend and churn rules.

A score is the weighted mean of the normalised measures a customer has, on a 0 to 100 scale. Measures
with no value are left out and the weights of the others are rescaled, so a customer is never punished
for a signal nobody sends. Each measure's contribution is in points, and the contributions add up to
the score exactly.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RANGE = "range"
TARGET = "target"
HIGHER_IS_BETTER = "higher_is_better"
LOWER_IS_BETTER = "lower_is_better"

# Lower bound of each risk band, from the healthiest down: a score of 75 or more is low risk.
DEFAULT_RISK_BANDS: tuple[tuple[int, str], ...] = ((75, "low"), (50, "medium"), (25, "high"), (0, "critical"))
HIGH_RISK_LEVELS = frozenset({"high", "critical"})

IMPROVING, STABLE, DECLINING = "improving", "stable", "declining"

#: what a CSM should do about a measure that fell
MEASURE_ACTIONS: dict[str, str] = {
    "adoption_rate": "review_feature_adoption",
    "login_frequency": "schedule_check_in",
    "support_tickets": "escalate_support_review",
    "nps": "executive_outreach",
    "payment_status": "finance_follow_up",
    "engagement": "assess_training_needs",
}


@dataclass(frozen=True)
class MeasureSpec:
    measure: str
    weight: float
    normalisation: str = RANGE
    direction: str = HIGHER_IS_BETTER
    min_value: float | None = None
    max_value: float | None = None
    target_value: float | None = None


@dataclass(frozen=True)
class ScorecardSpec:
    name: str
    measures: tuple[MeasureSpec, ...]
    bands: tuple[tuple[int, str], ...] = DEFAULT_RISK_BANDS
    scorecard_id: int | None = None
    segment: str = ""
    lifecycle_stage: str = ""
    is_default: bool = False

    def direction_of(self, measure: str) -> str:
        for spec in self.measures:
            if spec.measure == measure:
                return spec.direction
        return HIGHER_IS_BETTER


@dataclass(frozen=True)
class HealthComputation:
    score: int
    risk_level: str
    #: one dict per measure of the scorecard (see :func:`compute_health`)
    breakdown: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ChurnAssessment:
    risk_level: str
    crossed_into_high_risk: bool
    #: points lost since the peak of the window (None when there was no drop rule breach)
    drop_points: int | None
    peak_score: int | None
    #: the history point the drop is measured from (its third element), if any
    peak_reference: Any = None


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def normalise(value: float, spec: MeasureSpec) -> float:
    """Map a raw value to 0..1 where 1 is healthiest.

    ``range``: linear between ``min_value`` and ``max_value``, clamped. ``target``: full marks at the
    target or better; otherwise the ratio to the target (``value / target`` when higher is better,
    ``target / value`` when lower is better).
    """
    if spec.normalisation == RANGE:
        if spec.min_value is None or spec.max_value is None or spec.max_value <= spec.min_value:
            raise ValueError(f"{spec.measure}: a range needs min_value < max_value")
        share = _clamp((value - spec.min_value) / (spec.max_value - spec.min_value))
        return share if spec.direction == HIGHER_IS_BETTER else 1.0 - share
    if spec.normalisation == TARGET:
        target = spec.target_value
        if target is None or target <= 0:
            raise ValueError(f"{spec.measure}: a target normalisation needs a target above 0")
        if spec.direction == HIGHER_IS_BETTER:
            return _clamp(value / target)
        return 1.0 if value <= target else _clamp(target / value)
    raise ValueError(f"{spec.measure}: unknown normalisation {spec.normalisation!r}")


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _apportion(exact: Sequence[float], total: int, unit: int = 100) -> list[float]:
    """Round ``exact`` shares to 1/unit so they add up to ``total`` exactly (largest remainder)."""
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


def risk_level_for_score(score: int, bands: Sequence[tuple[int, str]] = DEFAULT_RISK_BANDS) -> str:
    for lower_bound, level in sorted(bands, reverse=True):
        if score >= lower_bound:
            return level
    return sorted(bands)[0][1]


def compute_health(scorecard: ScorecardSpec, values: Mapping[str, float | None]) -> HealthComputation | None:
    """The score of ``values`` under ``scorecard``, or None when the customer has none of its measures.

    Each breakdown entry: ``measure``, ``direction``, ``raw_value``, ``normalised_value`` (0..1),
    ``weight`` (as configured), ``weight_share`` (of the measures present) and ``contribution``
    (points; the contributions add up to the score).
    """
    present = [
        (spec, float(values[spec.measure]))
        for spec in scorecard.measures
        if values.get(spec.measure) is not None
    ]
    total_weight = sum(spec.weight for spec, _ in present)
    if not present or total_weight <= 0:
        return None
    normalised = {spec.measure: normalise(value, spec) for spec, value in present}
    exact = [normalised[spec.measure] * spec.weight / total_weight * 100 for spec, _ in present]
    score = min(100, max(0, round_half_up(sum(exact))))
    contributions = dict(zip((spec.measure for spec, _ in present), _apportion(exact, score), strict=True))

    breakdown = []
    for spec in scorecard.measures:
        raw = values.get(spec.measure)
        has_value = raw is not None
        breakdown.append(
            {
                "measure": spec.measure,
                "direction": spec.direction,
                "raw_value": float(raw) if has_value else None,
                "normalised_value": round(normalised[spec.measure], 4) if has_value else None,
                "weight": spec.weight,
                "weight_share": round(spec.weight / total_weight, 4) if has_value else 0.0,
                "contribution": contributions[spec.measure] if has_value else 0.0,
            }
        )
    return HealthComputation(
        score=score, risk_level=risk_level_for_score(score, scorecard.bands), breakdown=tuple(breakdown)
    )


def breakdown_changes(
    previous: Sequence[Mapping[str, Any]] | None, current: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per measure, what moved between two breakdowns (empty when there is nothing to compare with)."""
    if not previous or not current:
        return []
    before = {entry["measure"]: entry for entry in previous}
    after = {entry["measure"]: entry for entry in current}
    changes = []
    for measure in [*after, *(name for name in before if name not in after)]:
        old, new = before.get(measure, {}), after.get(measure, {})
        old_raw, new_raw = old.get("raw_value"), new.get("raw_value")
        old_points, new_points = old.get("contribution", 0.0), new.get("contribution", 0.0)
        changes.append(
            {
                "measure": measure,
                "previous_raw_value": old_raw,
                "raw_value": new_raw,
                "raw_delta": round(new_raw - old_raw, 6)
                if old_raw is not None and new_raw is not None
                else None,
                "previous_contribution": old_points,
                "contribution": new_points,
                "contribution_delta": round(new_points - old_points, 2),
            }
        )
    return changes


def breakdown_differs(
    previous: Sequence[Mapping[str, Any]] | None, current: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether any measure's raw value or contribution moved (or there is nothing to compare with)."""
    if not previous:
        return True
    key = lambda entries: {(e["measure"], e.get("raw_value"), e.get("contribution")) for e in entries}  # noqa: E731
    return key(previous) != key(current)


def change_triggers(changes: Sequence[Mapping[str, Any]], directions: Mapping[str, str]) -> list[str]:
    """What set a computed change off: ``login_frequency_drop``, ``support_tickets_increase``, … for the
    measures that lost points (largest loss first), then ``…_improvement`` for those that gained."""
    losses = sorted(
        (c for c in changes if c["contribution_delta"] < 0), key=lambda c: c["contribution_delta"]
    )
    gains = sorted(
        (c for c in changes if c["contribution_delta"] > 0), key=lambda c: -c["contribution_delta"]
    )
    triggers = [
        measure_indicator(c["measure"], directions.get(c["measure"], HIGHER_IS_BETTER)) for c in losses
    ]
    return triggers + [f"{c['measure']}_improvement" for c in gains]


def health_trend(
    points: Iterable[tuple[datetime, float]], *, now: datetime, window_days: int, threshold_points: float
) -> str:
    """Improving, stable or declining, from the least-squares line through the scores of the window.

    The line's rise over the span of the points (the change it implies) is compared with
    ``threshold_points``: two scores 15 points apart read as a 15-point move however close in time.
    """
    since = now - timedelta(days=window_days)
    series = sorted((moment, float(score)) for moment, score in points if since <= moment <= now)
    if len(series) < 2:
        return STABLE
    origin = series[0][0]
    xs = [(moment - origin).total_seconds() / 86400 for moment, _ in series]
    ys = [score for _, score in series]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    variance = sum((x - mean_x) ** 2 for x in xs)
    if variance == 0:
        return STABLE
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / variance
    implied_change = slope * (xs[-1] - xs[0])
    if implied_change >= threshold_points:
        return IMPROVING
    if implied_change <= -threshold_points:
        return DECLINING
    return STABLE


def assess_churn_risk(
    *,
    previous_risk: str,
    new_risk: str,
    new_score: int,
    history: Iterable[tuple[datetime, int, Any]],
    now: datetime,
    window_days: int,
    drop_points: int,
    alerted_at: datetime | None,
) -> ChurnAssessment | None:
    """Churn risk when the risk crosses into high or critical, or the score fell ``drop_points`` or more
    below the highest score of the last ``window_days``.

    A drop is measured only from scores since the last alert (``alerted_at``, inclusive), so one fall
    raises one alert; staying high or critical raises none. ``history`` holds earlier scores as
    ``(observed_at, score, reference)``.
    """
    crossed = new_risk in HIGH_RISK_LEVELS and previous_risk not in HIGH_RISK_LEVELS
    since = now - timedelta(days=window_days)
    if alerted_at is not None:
        since = max(since, alerted_at)
    candidates = [(score, moment, ref) for moment, score, ref in history if moment >= since]
    peak = max(candidates, key=lambda item: (item[0], item[1]), default=None)
    dropped = peak is not None and peak[0] - new_score >= drop_points
    if not crossed and not dropped:
        return None
    return ChurnAssessment(
        risk_level=new_risk,
        crossed_into_high_risk=crossed,
        drop_points=peak[0] - new_score if dropped else None,
        peak_score=peak[0] if dropped else None,
        peak_reference=peak[2] if dropped else None,
    )


def falling_measures(
    reference: Sequence[Mapping[str, Any]] | None, current: Sequence[Mapping[str, Any]], limit: int = 3
) -> list[str]:
    """The measures whose weighted normalised value fell most since ``reference``, worst first."""
    if not reference or not current:
        return []
    before = {entry["measure"]: entry for entry in reference}
    losses = []
    for entry in current:
        old = before.get(entry["measure"])
        if old is None or old.get("normalised_value") is None or entry.get("normalised_value") is None:
            continue
        loss = (old["normalised_value"] - entry["normalised_value"]) * entry["weight"]
        if loss > 0:
            losses.append((loss, entry["measure"]))
    return [measure for _, measure in sorted(losses, key=lambda item: (-item[0], item[1]))[:limit]]


def weakest_measures(current: Sequence[Mapping[str, Any]], limit: int = 3) -> list[str]:
    """The measures that cost the most points now (share of the weights times what they miss of full
    marks), worst first: what to work on when nothing in particular fell (e.g. after a scorecard edit)."""
    gaps = [
        (entry["weight_share"] * (1 - entry["normalised_value"]), entry["measure"])
        for entry in current
        if entry.get("normalised_value") is not None and entry["normalised_value"] < 1
    ]
    return [measure for gap, measure in sorted(gaps, key=lambda item: (-item[0], item[1])) if gap > 0][:limit]


def weakness_indicator(measure: str, direction: str) -> str:
    """``payment_status_low`` for a good thing that is low; ``support_tickets_high`` for a bad one."""
    return f"{measure}_high" if direction == LOWER_IS_BETTER else f"{measure}_low"


def measure_indicator(measure: str, direction: str) -> str:
    """``login_frequency_drop`` for a good thing that fell; ``support_tickets_increase`` for a bad one
    that rose."""
    return f"{measure}_increase" if direction == LOWER_IS_BETTER else f"{measure}_drop"


def churn_indicators(
    assessment: ChurnAssessment,
    measures: Sequence[str],
    directions: Mapping[str, str],
    reported: Sequence[str] = (),
    weak: Sequence[str] = (),
) -> list[str]:
    """What the alert reports: the signs the sender gave, the measures that fell (or, when none fell,
    the weakest ones), then the rules that fired."""
    indicators = [
        measure_indicator(measure, directions.get(measure, HIGHER_IS_BETTER)) for measure in measures
    ]
    indicators += [weakness_indicator(measure, directions.get(measure, HIGHER_IS_BETTER)) for measure in weak]
    if assessment.drop_points is not None:
        indicators.append("health_score_drop")
    if assessment.crossed_into_high_risk:
        indicators.append(f"risk_level_{assessment.risk_level}")
    return list(dict.fromkeys([*reported, *indicators]))


def churn_actions(risk_level: str, measures: Sequence[str], suggested: Sequence[str] = ()) -> list[str]:
    """Actions for the measures that fell (then those the sender suggested); a check-in at the least,
    and executive outreach when the risk is critical."""
    actions = [MEASURE_ACTIONS[measure] for measure in measures if measure in MEASURE_ACTIONS]
    actions = list(dict.fromkeys([*actions, *suggested]))
    if not actions:
        actions.append("schedule_check_in")
    if risk_level == "critical" and "executive_outreach" not in actions:
        actions.append("executive_outreach")
    return actions


def choose_scorecard(
    scorecards: Sequence[ScorecardSpec], *, segment: str, lifecycle_stage: str, fallback: ScorecardSpec
) -> ScorecardSpec:
    """The most specific active scorecard for a segment and stage: both match, then stage, then segment,
    then the default."""
    best, best_rank = None, -1
    for card in scorecards:
        if card.is_default:
            continue
        if card.segment and card.segment != segment:
            continue
        if card.lifecycle_stage and card.lifecycle_stage != lifecycle_stage:
            continue
        rank = (2 if card.lifecycle_stage else 0) + (1 if card.segment else 0)
        if rank > best_rank:
            best, best_rank = card, rank
    if best is not None:
        return best
    return next((card for card in scorecards if card.is_default), fallback)


#: used only when no default scorecard is stored (the data migration creates one with these numbers)
BUILT_IN_SCORECARD = ScorecardSpec(
    name="Built-in",
    is_default=True,
    measures=(
        MeasureSpec("adoption_rate", 25, RANGE, HIGHER_IS_BETTER, 0, 1),
        MeasureSpec("login_frequency", 20, TARGET, HIGHER_IS_BETTER, target_value=20),
        MeasureSpec("engagement", 15, RANGE, HIGHER_IS_BETTER, 0, 10),
        MeasureSpec("nps", 15, RANGE, HIGHER_IS_BETTER, -100, 100),
        MeasureSpec("payment_status", 15, RANGE, HIGHER_IS_BETTER, 0, 1),
        MeasureSpec("support_tickets", 10, TARGET, LOWER_IS_BETTER, target_value=2),
    ),
)


# --- The decision on a new score -----------------------------------------------------------------------


@dataclass(frozen=True)
class HealthPolicy:
    """The engine's tunables (``domains/customers/conf.py``)."""

    trend_window_days: int
    trend_threshold_points: float
    churn_window_days: int
    churn_drop_points: int


@dataclass(frozen=True)
class HealthDecision:
    """What a new score does to a customer: the values to store, whether to keep a snapshot and announce
    the change, and the churn assessment when churn risk is detected."""

    score: int
    previous_score: int
    risk_level: str
    previous_risk_level: str
    health_trend: str
    #: of health_score, health_trend and risk_level, those that move
    changed_fields: frozenset[str]
    #: keep a snapshot of this score in the history
    record: bool
    #: publish health_score_change
    publish_change: bool
    #: per measure, what moved since the latest breakdown (computed scores only)
    changes: tuple[dict[str, Any], ...]
    trigger_events: tuple[str, ...]
    churn: ChurnAssessment | None

    @property
    def score_changed(self) -> bool:
        return self.score != self.previous_score


def evaluate_health(
    *,
    score: int,
    breakdown: Sequence[Mapping[str, Any]],
    computed: bool,
    previous_score: int,
    previous_risk_level: str,
    previous_trend: str,
    churn_alerted_at: datetime | None,
    history: Sequence[tuple[datetime, int, Any]],
    latest_breakdown: Sequence[Mapping[str, Any]] | None,
    bands: Sequence[tuple[int, str]],
    observed_at: datetime,
    now: datetime,
    policy: HealthPolicy,
    reported_triggers: Sequence[str] = (),
    always_record: bool = False,
) -> HealthDecision:
    """Decide what a new ``score`` means: risk from the scorecard's ``bands``, the trend through the
    ``history`` and this score, the churn rules, and whether the score is kept and announced.

    A score is kept when it, its risk or (for a computed score) its breakdown moved, or churn risk was
    detected; it is announced (``health_score_change``) when it moved, or always with
    ``always_record`` (a reported change).
    """
    risk = risk_level_for_score(score, bands)
    reference_now = max(now, observed_at)
    trend = health_trend(
        [(moment, value) for moment, value, _ in history] + [(observed_at, score)],
        now=reference_now,
        window_days=policy.trend_window_days,
        threshold_points=policy.trend_threshold_points,
    )
    churn = assess_churn_risk(
        previous_risk=previous_risk_level,
        new_risk=risk,
        new_score=score,
        history=history,
        now=reference_now,
        window_days=policy.churn_window_days,
        drop_points=policy.churn_drop_points,
        alerted_at=churn_alerted_at,
    )
    changed = frozenset(
        name
        for name, before, after in (
            ("health_score", previous_score, score),
            ("health_trend", previous_trend, trend),
            ("risk_level", previous_risk_level, risk),
        )
        if before != after
    )
    record = (
        always_record
        or score != previous_score
        or risk != previous_risk_level
        or churn is not None
        or (computed and breakdown_differs(latest_breakdown, breakdown))
    )
    changes: list[dict[str, Any]] = []
    triggers: list[str] = []
    if record:
        changes = breakdown_changes(latest_breakdown, breakdown) if computed else []
        directions = {entry["measure"]: entry["direction"] for entry in breakdown}
        triggers = list(reported_triggers) or change_triggers(changes, directions)
    return HealthDecision(
        score=score,
        previous_score=previous_score,
        risk_level=risk,
        previous_risk_level=previous_risk_level,
        health_trend=trend,
        changed_fields=changed,
        record=record,
        publish_change=record and (always_record or score != previous_score),
        changes=tuple(changes),
        trigger_events=tuple(triggers),
        churn=churn,
    )


@dataclass(frozen=True)
class ChurnAlert:
    risk_indicators: tuple[str, ...]
    recommended_actions: tuple[str, ...]


def churn_alert(
    assessment: ChurnAssessment,
    *,
    reference: Sequence[Mapping[str, Any]] | None,
    current: Sequence[Mapping[str, Any]],
    reported_triggers: Sequence[str] = (),
    suggested_actions: Sequence[str] = (),
) -> ChurnAlert:
    """What a churn alert says: the measures that fell most since ``reference`` (the peak the drop is
    measured from, else the score before), or the weakest when none fell, and the actions for them."""
    fell = falling_measures(reference, current)
    weak = [] if fell else weakest_measures(current)
    directions = {entry["measure"]: entry["direction"] for entry in current}
    indicators = churn_indicators(assessment, fell, directions, reported_triggers, weak)
    actions = churn_actions(assessment.risk_level, fell or weak, suggested_actions)
    return ChurnAlert(risk_indicators=tuple(indicators), recommended_actions=tuple(actions))
