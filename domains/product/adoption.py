"""Pure computation of adoption figures (no ORM, no I/O): windows, Pearson correlations from counts, sums,
sums of squares and products, the health-impact band, the improvement rules and adoption rates.

The database adds up the sufficient statistics (``selectors.adoption_report``); this module turns them
into the figures the API shows, in exact integer arithmetic up to one square root.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

#: the segments, in the order the API lists them
SEGMENTS = ("enterprise", "mid_market", "small_business")


def window_start(today: date, window_days: int) -> date:
    """The first day of a window of ``window_days`` days that ends today (today included)."""
    return today - timedelta(days=window_days - 1)


def adopted_in_window(adopted_from: date | None, today: date, window_days: int) -> bool:
    return adopted_from is not None and adopted_from >= window_start(today, window_days)


def adopted_from_daily(daily: Mapping[date, int], threshold: int, since: date | None = None) -> date | None:
    """The latest day d such that the usage from d on (days before ``since`` left out) reaches
    ``threshold``: the reference definition the SQL of ``aggregates.py`` implements."""
    total = 0
    for day in sorted(daily, reverse=True):
        if since is not None and day < since:
            break
        total += daily[day]
        if total >= threshold:
            return day
    return None


def pearson_from_sums(n: int, sx: int, sy: int, sxx: int, syy: int, sxy: int) -> float | None:
    """Pearson's r from the count and the sums of x, y, x², y² and xy; None when it is undefined (fewer
    than two observations, or either variable constant)."""
    if n < 2:
        return None
    covariance = n * sxy - sx * sy
    variance_x = n * sxx - sx * sx
    variance_y = n * syy - sy * sy
    if variance_x <= 0 or variance_y <= 0:
        return None
    r = covariance / math.sqrt(variance_x * variance_y)
    return max(-1.0, min(1.0, r))


@dataclass(frozen=True)
class PopulationSums:
    """The customers of one segment and churn state."""

    customers: int = 0
    health_sum: int = 0
    health_square_sum: int = 0


@dataclass(frozen=True)
class AdopterSums:
    """The adopters among them."""

    adopters: int = 0
    health_sum: int = 0


@dataclass(frozen=True)
class AdoptionFigures:
    customers: int
    adopters: int
    overall_adoption: float | None
    segment_adoption: dict[str, float | None]
    segment_customers: dict[str, int]
    adoption_success_link: float | None
    retention_correlation: float | None
    #: every customer the retention correlation was computed over (churned ones included)
    retention_customers: int
    churned_customers: int


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def adoption_figures(
    population: Mapping[tuple[str, bool], PopulationSums],
    adopters: Mapping[tuple[str, bool], AdopterSums],
    segments: Sequence[str] = SEGMENTS,
) -> AdoptionFigures:
    """The endpoint's figures from the sums per (segment, churned).

    Shares and the health correlation are over the non-churned customers (x = adopted 0/1, y = health
    score). The retention correlation is over every customer, churned ones included (x = adopted, y = 1
    unless churned): retained means any stage but churned.
    """
    empty_population, empty_adopters = PopulationSums(), AdopterSums()

    def live(segment: str) -> tuple[PopulationSums, AdopterSums]:
        key = (segment, False)
        return population.get(key, empty_population), adopters.get(key, empty_adopters)

    n = sum(live(segment)[0].customers for segment in segments)
    adopted = sum(live(segment)[1].adopters for segment in segments)
    health_sum = sum(live(segment)[0].health_sum for segment in segments)
    health_square_sum = sum(live(segment)[0].health_square_sum for segment in segments)
    adopter_health_sum = sum(live(segment)[1].health_sum for segment in segments)
    link = pearson_from_sums(n, adopted, health_sum, adopted, health_square_sum, adopter_health_sum)

    churned = sum(population.get((segment, True), empty_population).customers for segment in segments)
    churned_adopters = sum(adopters.get((segment, True), empty_adopters).adopters for segment in segments)
    everyone = n + churned
    # x = adopted, y = retained: Σx = all adopters, Σy = retained customers, Σxy = retained adopters.
    retention = pearson_from_sums(
        everyone, adopted + churned_adopters, n, adopted + churned_adopters, n, adopted
    )
    return AdoptionFigures(
        customers=n,
        adopters=adopted,
        overall_adoption=_share(adopted, n),
        segment_adoption={
            segment: _share(live(segment)[1].adopters, live(segment)[0].customers) for segment in segments
        },
        segment_customers={segment: live(segment)[0].customers for segment in segments},
        adoption_success_link=link,
        retention_correlation=retention,
        retention_customers=everyone,
        churned_customers=churned,
    )


def health_impact(link: float | None, bands: Sequence[float]) -> str:
    """The band of ``adoption_success_link``: ``high``, ``medium`` or ``low`` at or above each bound of
    ``bands`` (descending, default 0.5, 0.3, 0.1), ``negative`` at or below minus the last bound,
    ``none`` in between, ``unknown`` when the correlation is undefined."""
    if link is None:
        return "unknown"
    for bound, label in zip(sorted(bands, reverse=True), ("high", "medium", "low"), strict=False):
        if link >= bound:
            return label
    if bands and link <= -min(bands):
        return "negative"
    return "none"


@dataclass(frozen=True)
class RulePolicy:
    low_adoption_share: float
    segment_gap: float
    weak_link: float
    falling_drop: float
    min_customers: int


@dataclass(frozen=True)
class Opportunity:
    opportunity: str
    rule: str
    value: float
    threshold: float
    segment: str | None = None


@dataclass(frozen=True)
class PreviousAdoption:
    """The adoption one window earlier, from the nightly snapshots."""

    day: date
    customers: int
    adopters: int

    @property
    def share(self) -> float | None:
        return _share(self.adopters, self.customers)


@dataclass(frozen=True)
class Insights:
    opportunities: list[Opportunity] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return list(dict.fromkeys(opportunity.opportunity for opportunity in self.opportunities))


def improvement_opportunities(
    figures: AdoptionFigures, previous: PreviousAdoption | None, policy: RulePolicy
) -> Insights:
    """The documented rules, in order (each needs at least ``min_customers`` behind its figure):

    - ``low_overall_adoption`` (overall share below ``low_adoption_share``) → ``feature_discovery``;
    - ``low_segment_adoption`` (a segment below ``low_adoption_share``, or ``segment_gap`` below the
      overall share) → ``enhanced_onboarding``;
    - ``weak_success_link`` (adoption_success_link below ``weak_link``) → ``training_content``;
    - ``falling_adoption`` (the overall share ``falling_drop`` below its level one window earlier)
      → ``re_engagement_campaign``.
    """
    found: list[Opportunity] = []
    overall = figures.overall_adoption
    enough = figures.customers >= policy.min_customers
    if enough and overall is not None and overall < policy.low_adoption_share:
        found.append(
            Opportunity("feature_discovery", "low_overall_adoption", overall, policy.low_adoption_share)
        )
    for segment, share in figures.segment_adoption.items():
        if share is None or figures.segment_customers.get(segment, 0) < policy.min_customers:
            continue
        if share < policy.low_adoption_share:
            found.append(
                Opportunity(
                    "enhanced_onboarding", "low_segment_adoption", share, policy.low_adoption_share, segment
                )
            )
        elif overall is not None and share < overall - policy.segment_gap:
            found.append(
                Opportunity(
                    "enhanced_onboarding",
                    "low_segment_adoption",
                    share,
                    round(overall - policy.segment_gap, 6),
                    segment,
                )
            )
    link = figures.adoption_success_link
    if enough and link is not None and link < policy.weak_link:
        found.append(Opportunity("training_content", "weak_success_link", link, policy.weak_link))
    if (
        enough
        and previous is not None
        and previous.customers >= policy.min_customers
        and previous.share is not None
        and overall is not None
        and overall < previous.share - policy.falling_drop
    ):
        found.append(
            Opportunity(
                "re_engagement_campaign",
                "falling_adoption",
                overall,
                round(previous.share - policy.falling_drop, 6),
            )
        )
    return Insights(found)


def adoption_rate(adopted_features: int, active_features: int) -> float | None:
    """A customer's adoption rate: the share of active features it has adopted, each under its own
    window and threshold; None when no feature is active."""
    if active_features <= 0:
        return None
    return round(min(adopted_features, active_features) / active_features, 4)


def rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def sums_by_key(rows: Iterable[tuple[str, bool, int, int, int]]) -> dict[tuple[str, bool], PopulationSums]:
    return {
        (segment, bool(churned)): PopulationSums(int(customers), int(health), int(squares))
        for segment, churned, customers, health, squares in rows
    }
