"""Reads of the product domain shared by the API, the admin and the jobs: features, usage, the adoption
report (from the maintained aggregates, a fixed number of queries whatever the number of customers),
its reference computation from the raw usage, and feedback."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import Q, QuerySet, Subquery, Sum, Value
from django.shortcuts import get_object_or_404

from domains.customers.models import Customer, LifecycleStage

from . import adoption
from .aggregates import today_utc
from .conf import conf
from .models import (
    AdoptionCell,
    AdoptionPopulation,
    AdoptionSnapshot,
    AdoptionSyncState,
    Feature,
    FeatureAdoption,
    FeatureUsage,
    Feedback,
)

# --- Features and usage --------------------------------------------------------------------------------


def feature_list() -> QuerySet[Feature]:
    return Feature.objects.all()


def feature_get(*, feature_id: str) -> Feature:
    return get_object_or_404(Feature, feature_id=feature_id)


def active_features() -> list[Feature]:
    return list(Feature.objects.filter(is_active=True).order_by("feature_id"))


def usage_list() -> QuerySet[FeatureUsage]:
    return FeatureUsage.objects.all()


# --- The adoption report -----------------------------------------------------------------------------

Sums = tuple[
    dict[tuple[str, bool], adoption.PopulationSums],
    dict[tuple[str, bool], adoption.AdopterSums],
]


def adoption_sums_query(*, feature: Feature, window_days: int, today: date, segment: str | None = None):
    """The one query behind ``adoption_sums``: the population rows and the feature's cells in the window,
    grouped by (segment, churned), as a ``UNION ALL`` of rows ``(kind, segment, churned, count, health,
    squares)``."""
    population_rows = AdoptionPopulation.objects.order_by()
    cells = AdoptionCell.objects.filter(
        feature=feature, adopted_from__gte=adoption.window_start(today, window_days)
    ).order_by()
    if segment:
        population_rows, cells = population_rows.filter(segment=segment), cells.filter(segment=segment)
    return (
        population_rows.annotate(kind=Value("population"))
        .values_list("kind", "segment", "churned", "customers", "health_sum", "health_square_sum")
        .union(
            cells.values("segment", "churned")
            .annotate(kind=Value("adopters"), count=Sum("adopters"), health=Sum("health_sum"), none=Value(0))
            .values_list("kind", "segment", "churned", "count", "health", "none"),
            all=True,
        )
    )


def adoption_sums(*, feature: Feature, window_days: int, today: date, segment: str | None = None) -> Sums:
    """The population and the feature's adopters by (segment, churned), from the maintained aggregates:
    one query over at most a few hundred rows, whatever the number of customers."""
    both = adoption_sums_query(feature=feature, window_days=window_days, today=today, segment=segment)
    population: dict[tuple[str, bool], adoption.PopulationSums] = {}
    adopters: dict[tuple[str, bool], adoption.AdopterSums] = {}
    for kind, row_segment, churned, count, health, squares in both:
        key = (row_segment, bool(churned))
        if kind == "population":
            population[key] = adoption.PopulationSums(int(count), int(health), int(squares))
        else:
            adopters[key] = adoption.AdopterSums(int(count or 0), int(health or 0))
    return population, adopters


def adoption_sums_from_usage(
    *,
    feature: Feature,
    window_days: int,
    today: date,
    segment: str | None = None,
    until: date | None = None,
    threshold: int | None = None,
) -> Sums:
    """The same sums computed straight from the daily usage and the customers (one query, linear in
    their size): the reference the maintained aggregates are checked against, and the history the demo
    back-fills. ``until`` bounds the usage counted (default: none, as the aggregates)."""
    usage, customers = FeatureUsage._meta.db_table, Customer._meta.db_table
    quote = connection.ops.quote_name
    u = {
        name: quote(FeatureUsage._meta.get_field(name).column)
        for name in ("customer", "feature", "date", "count")
    }
    c = {
        name: quote(Customer._meta.get_field(name).column)
        for name in ("customer_id", "segment", "lifecycle_stage", "health_score")
    }
    bounds, params = f"{u['date']} >= %s", [adoption.window_start(today, window_days)]
    if until is not None:
        bounds, params = f"{bounds} AND {u['date']} <= %s", [*params, until]
    where, where_params = "", []
    if segment:
        where, where_params = f"WHERE c.{c['segment']} = %s", [segment]
    # Only quoted model names and placeholders are interpolated; every value is a parameter.
    sql = f"""
        WITH adopters AS (
            SELECT {u["customer"]} AS customer_id FROM {quote(usage)}
            WHERE {u["feature"]} = %s AND {bounds}
            GROUP BY {u["customer"]} HAVING SUM({u["count"]}) >= %s
        )
        SELECT c.{c["segment"]}, c.{c["lifecycle_stage"]} = %s, COUNT(*), SUM(c.{c["health_score"]}),
               SUM(c.{c["health_score"]} * c.{c["health_score"]}), COUNT(a.customer_id),
               SUM(CASE WHEN a.customer_id IS NULL THEN 0 ELSE c.{c["health_score"]} END)
        FROM {quote(customers)} c LEFT JOIN adopters a ON a.customer_id = c.{c["customer_id"]}
        {where}
        GROUP BY 1, 2
    """  # noqa: S608  (by position: a parameter repeated in GROUP BY is another one to the server)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                feature.feature_id,
                *params,
                threshold or feature.adoption_threshold,
                LifecycleStage.CHURNED,
                *where_params,
            ],
        )
        rows = cursor.fetchall()
    population: dict[tuple[str, bool], adoption.PopulationSums] = {}
    adopters: dict[tuple[str, bool], adoption.AdopterSums] = {}
    for row_segment, churned, count, health, squares, adopted, adopted_health in rows:
        key = (row_segment, bool(churned))
        population[key] = adoption.PopulationSums(int(count), int(health or 0), int(squares or 0))
        adopters[key] = adoption.AdopterSums(int(adopted), int(adopted_health or 0))
    return population, adopters


def previous_adoption(
    *, feature: Feature, today: date, window_days: int, segment: str | None = None
) -> adoption.PreviousAdoption | None:
    """The nightly snapshot one window back (the latest taken on or before that day, under the same
    window), summed over the segments asked for: one query."""
    latest_day = (
        AdoptionSnapshot.objects.filter(
            feature=feature, window_days=window_days, day__lte=today - timedelta(days=window_days)
        )
        .order_by("-day")
        .values("day")[:1]
    )
    snapshots = AdoptionSnapshot.objects.filter(feature=feature, day=Subquery(latest_day)).order_by()
    if segment:
        snapshots = snapshots.filter(segment=segment)
    rows = list(
        snapshots.values("day")
        .annotate(customers=Sum("customers"), adopters=Sum("adopters"))
        .values_list("day", "customers", "adopters")
    )
    if not rows:
        return None
    day, customers, adopters = rows[0]
    return adoption.PreviousAdoption(day, int(customers or 0), int(adopters or 0))


def rule_policy() -> adoption.RulePolicy:
    return adoption.RulePolicy(
        low_adoption_share=conf.PRODUCT_LOW_ADOPTION_SHARE,
        segment_gap=conf.PRODUCT_SEGMENT_GAP,
        weak_link=conf.PRODUCT_WEAK_LINK,
        falling_drop=conf.PRODUCT_FALLING_ADOPTION_DROP,
        min_customers=conf.PRODUCT_RULES_MIN_CUSTOMERS,
    )


@dataclass(frozen=True)
class AdoptionReport:
    feature: Feature
    as_of: date
    window_days: int
    segment: str | None
    figures: adoption.AdoptionFigures
    health_impact: str
    insights: adoption.Insights
    previous: adoption.PreviousAdoption | None
    customers_synced_until: object


def adoption_report(
    *, feature: Feature, window_days: int | None = None, segment: str | None = None, today: date | None = None
) -> AdoptionReport:
    """The adoption of ``feature`` as ``GET /adoption/{feature_id}`` shows it: three queries (the sums,
    the snapshot one window back, the sync state), whatever the number of customers."""
    today = today or today_utc()
    window = window_days or feature.window_days
    population, adopters = adoption_sums(feature=feature, window_days=window, today=today, segment=segment)
    segments = (segment,) if segment else adoption.SEGMENTS
    figures = adoption.adoption_figures(population, adopters, segments)
    previous = previous_adoption(feature=feature, today=today, window_days=window, segment=segment)
    synced = AdoptionSyncState.objects.filter(key="profiles").values_list("synced_until", flat=True).first()
    return AdoptionReport(
        feature=feature,
        as_of=today,
        window_days=window,
        segment=segment,
        figures=figures,
        health_impact=adoption.health_impact(figures.adoption_success_link, conf.PRODUCT_HEALTH_IMPACT_BANDS),
        insights=adoption.improvement_opportunities(figures, previous, rule_policy()),
        previous=previous,
        customers_synced_until=synced,
    )


def features_overview(
    *, features: Sequence[Feature], today: date | None = None
) -> dict[str, adoption.AdoptionFigures]:
    """Each feature's figures under its own window, for the admin's list: two queries in all."""
    today = today or today_utc()
    if not features:
        return {}
    population = adoption.sums_by_key(
        AdoptionPopulation.objects.values_list(
            "segment", "churned", "customers", "health_sum", "health_square_sum"
        )
    )
    in_window = Q()
    for feature in features:
        in_window |= Q(
            feature_id=feature.feature_id, adopted_from__gte=adoption.window_start(today, feature.window_days)
        )
    adopters: dict[str, dict[tuple[str, bool], adoption.AdopterSums]] = defaultdict(dict)
    rows = (
        AdoptionCell.objects.filter(in_window)
        .values("feature_id", "segment", "churned")
        .annotate(count=Sum("adopters"), health=Sum("health_sum"))
        .values_list("feature_id", "segment", "churned", "count", "health")
    )
    for feature_id, segment, churned, count, health in rows:
        adopters[feature_id][(segment, bool(churned))] = adoption.AdopterSums(
            int(count or 0), int(health or 0)
        )
    return {
        feature.feature_id: adoption.adoption_figures(population, adopters.get(feature.feature_id, {}))
        for feature in features
    }


@dataclass(frozen=True)
class CustomerFeatureAdoption:
    feature: Feature
    adopted: bool
    adopted_from: date | None
    last_used_on: date | None
    usage_in_window: int


def customer_adoption(*, customer_id: str, today: date | None = None) -> list[CustomerFeatureAdoption]:
    """Where one customer stands with every feature (active ones first): three queries."""
    today = today or today_utc()
    features = list(Feature.objects.order_by("-is_active", "name"))
    if not features:
        return []
    rows = {row.feature_id: row for row in FeatureAdoption.objects.filter(customer_id=customer_id)}
    since = adoption.window_start(today, max(feature.window_days for feature in features))
    daily: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for feature_id, day, count in FeatureUsage.objects.filter(
        customer_id=customer_id, date__gte=since
    ).values_list("feature_id", "date", "count"):
        daily[feature_id].append((day, count))
    result = []
    for feature in features:
        row = rows.get(feature.feature_id)
        start = adoption.window_start(today, feature.window_days)
        adopted_from = row.adopted_from if row else None
        result.append(
            CustomerFeatureAdoption(
                feature=feature,
                adopted=adoption.adopted_in_window(adopted_from, today, feature.window_days),
                adopted_from=adopted_from,
                last_used_on=row.last_used_on if row else None,
                usage_in_window=sum(count for day, count in daily[feature.feature_id] if day >= start),
            )
        )
    return result


def adoption_history(*, feature: Feature, days: int = 90) -> list[AdoptionSnapshot]:
    return list(
        AdoptionSnapshot.objects.filter(
            feature=feature, day__gte=today_utc() - timedelta(days=days)
        ).order_by("-day", "segment")
    )


# --- Feedback ------------------------------------------------------------------------------------------


def feedback_list() -> QuerySet[Feedback]:
    return Feedback.objects.select_related("customer")


def feedback_get(*, feedback_id: str) -> Feedback:
    return get_object_or_404(Feedback.objects.select_related("customer"), feedback_id=feedback_id)


def feedback_for_customer(*, customer_id: str, limit: int = 20) -> list[Feedback]:
    return list(Feedback.objects.filter(customer_id=customer_id).order_by("-created_at")[:limit])
