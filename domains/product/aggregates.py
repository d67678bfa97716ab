"""The adoption aggregates, kept current by differences: the writes behind ``GET /adoption/{feature_id}``.

Invariant (restored in full by ``aggregates_rebuild``):

- ``AdoptionPopulation[segment, churned]`` holds the count, health sum and health-square sum of the
  counted profiles with that segment and churn state;
- ``AdoptionCell[feature, segment, churned, day]`` holds the count and health sum of the counted
  profiles with that segment and churn state whose ``FeatureAdoption.adopted_from`` for the feature is
  that day.

Every change goes through here and applies its difference in the same transaction: a usage write
moves a customer from the cell of its old ``adopted_from`` to the new one; a profile sync (the
customer's health, segment or stage changed) moves its contributions. Rows are locked in one order
(customers, profiles, adoption rows, cells, population, each sorted by key) so writers cannot deadlock.

Customer changes reach the profiles three ways: the usage writes sync the customers they touch, the beat
job ``product.sync_adoption_profiles`` syncs every customer whose ``updated_at`` moved since its last
run (every PRODUCT_PROFILE_SYNC_INTERVAL_SECONDS), and ``customer.deleted`` removes a customer's
contribution in the deleting transaction. The nightly rebuild recomputes everything from the
customers and the adoption rows, rolls off adoption older than the longest window, and records any
drift it corrected.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from csintegration.db import bulk_update_values, lock_rows, locked_by_key
from domains.customers.models import Customer, LifecycleStage

from .adoption import window_start
from .conf import conf
from .models import (
    AdoptionCell,
    AdoptionPopulation,
    AdoptionProfile,
    AdoptionSyncState,
    Feature,
    FeatureAdoption,
    FeatureUsage,
)

logger = logging.getLogger(__name__)

SYNC_LOCK_KEY = "product:adoption-profiles-sync"
UPSERT_BATCH = 1000
#: rows per statement when they travel as arrays (PostgreSQL)
ARRAY_BATCH = 10_000
#: the chunk of customers a threshold recompute handles per transaction
RECOMPUTE_CHUNK = 20_000


def today_utc() -> date:
    return timezone.now().astimezone(UTC).date()


def oldest_counted_day(today: date) -> date:
    """Adoption that starts before this day counts in no window (``PRODUCT_MAX_WINDOW_DAYS``)."""
    return window_start(today, conf.PRODUCT_MAX_WINDOW_DAYS)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _quote(model._meta.db_table)


def _column(model, name: str) -> str:
    return _quote(model._meta.get_field(name).column)


def _as_date(value: Any) -> date | None:
    """Dates from raw SQL: PostgreSQL gives ``date``, SQLite its ISO text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _lock_tables(models: Sequence[type]) -> None:
    """Keep other writers of these tables out until the transaction ends (PostgreSQL; SQLite runs one
    writer at a time anyway). Readers are not blocked."""
    if connection.vendor == "postgresql":
        tables = ", ".join(_table(model) for model in models)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")


# --- Adding differences --------------------------------------------------------------------------------

CellKey = tuple[str, str, bool, date]  # feature_id, segment, churned, adopted_from
PopulationKey = tuple[str, bool]  # segment, churned


def insert_rows(
    model,
    fields: Sequence[str],
    rows: Sequence[tuple],
    *,
    conflict: Sequence[str] = (),
    on_conflict: str = "error",
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (tuples of ``fields``) in one statement per batch, in the rows' order: on PostgreSQL
    from arrays (``unnest``, a handful of parameters whatever the number of rows), elsewhere from
    ``VALUES``. ``on_conflict`` on the ``conflict`` key: ``nothing``, ``replace`` (the ``update`` fields take
    the new values) or ``add`` (the ``update`` fields add the new values to theirs)."""
    if not rows:
        return
    table = _table(model)
    columns = [model._meta.get_field(name) for name in fields]
    names = ", ".join(_quote(column.column) for column in columns)
    clause = ""
    if on_conflict != "error":
        keys = ", ".join(_column(model, name) for name in conflict)
        if on_conflict == "nothing":
            clause = f" ON CONFLICT ({keys}) DO NOTHING"
        else:
            sets = []
            for name in update:
                column = _column(model, name)
                value = (
                    f"{table}.{column} + excluded.{column}" if on_conflict == "add" else f"excluded.{column}"
                )
                sets.append(f"{column} = {value}")
            clause = f" ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    with connection.cursor() as cursor:
        # Only quoted model names, column types and placeholders are interpolated; every value is a
        # parameter.
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in columns)
            sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}){clause}"  # noqa: S608
            for start in range(0, len(rows), ARRAY_BATCH):
                batch = rows[start : start + ARRAY_BATCH]
                cursor.execute(sql, [[row[index] for row in batch] for index in range(len(columns))])
            return
        placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), UPSERT_BATCH):
            batch = rows[start : start + UPSERT_BATCH]
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([placeholder] * len(batch))}{clause}"  # noqa: S608
            cursor.execute(sql, [value for row in batch for value in row])


def _upsert_add(model, keys: Sequence[str], values: Sequence[str], rows: Sequence[tuple]) -> None:
    """Add ``values`` to the rows of ``keys`` (creating them), in key order (the order rows are locked in)."""
    ordered = sorted(rows, key=lambda row: row[: len(keys)])
    insert_rows(model, (*keys, *values), ordered, conflict=keys, on_conflict="add", update=values)


def cells_add(deltas: dict[CellKey, list[int]]) -> None:
    rows = [(*key, adopters, health) for key, (adopters, health) in deltas.items() if adopters or health]
    _upsert_add(
        AdoptionCell, ("feature", "segment", "churned", "adopted_from"), ("adopters", "health_sum"), rows
    )


def population_add(deltas: dict[PopulationKey, list[int]]) -> None:
    rows = [(*key, *values) for key, values in deltas.items() if any(values)]
    _upsert_add(
        AdoptionPopulation, ("segment", "churned"), ("customers", "health_sum", "health_square_sum"), rows
    )


# --- Profiles ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFacts:
    """What the aggregates count a customer by."""

    segment: str
    churned: bool
    health_score: int


def facts_of(customer: Customer) -> CustomerFacts:
    return CustomerFacts(
        customer.segment, customer.lifecycle_stage == LifecycleStage.CHURNED, int(customer.health_score)
    )


def customer_facts(customer_ids: Iterable[str]) -> dict[str, CustomerFacts]:
    rows = Customer.objects.filter(pk__in=list(customer_ids)).values_list(
        "customer_id", "segment", "lifecycle_stage", "health_score"
    )
    return {
        customer_id: CustomerFacts(segment, stage == LifecycleStage.CHURNED, int(score))
        for customer_id, segment, stage, score in rows
    }


def _profile_facts(profile: AdoptionProfile) -> CustomerFacts | None:
    if not profile.counted:
        return None
    return CustomerFacts(profile.segment, profile.churned, int(profile.health_score))


@dataclass
class SyncOutcome:
    #: customer id → the facts it is counted with now (absent: no longer counted)
    counted: dict[str, CustomerFacts] = field(default_factory=dict)
    changed: int = 0
    removed: int = 0


def profiles_sync(
    *, customer_ids: Iterable[str], facts: dict[str, CustomerFacts] | None = None, now: datetime | None = None
) -> SyncOutcome:
    """Bring the profiles of ``customer_ids`` in line with their customers and carry the differences into
    the aggregates; a customer that no longer exists is taken out (with its adoption rows).

    Runs in the caller's transaction (or its own). ``facts`` may be given by a caller that holds the
    customers' rows locked; otherwise they are read after the profiles are locked, so that a concurrent
    sync of the same customer cannot apply an older value after a newer one. A fixed number of queries.
    """
    ids = sorted(set(customer_ids))
    outcome = SyncOutcome()
    if not ids:
        return outcome
    now = now or timezone.now()
    with transaction.atomic():
        known = facts if facts is not None else customer_facts(ids)
        # Rows first (uncounted), so that every sync then locks existing rows in key order.
        AdoptionProfile.objects.bulk_create(
            [AdoptionProfile(customer_id=customer_id) for customer_id in ids if customer_id in known],
            ignore_conflicts=True,
            batch_size=UPSERT_BATCH,
        )
        profiles = locked_by_key(AdoptionProfile, ids)
        if facts is None:
            known = customer_facts(ids)  # read again now that the profiles are ours

        population: dict[PopulationKey, list[int]] = defaultdict(lambda: [0, 0, 0])
        moves: dict[str, tuple[CustomerFacts | None, CustomerFacts | None]] = {}
        for customer_id in ids:
            profile = profiles.get(customer_id)
            after = known.get(customer_id)
            if profile is None and after is not None:
                continue  # created between the two reads: the next sync counts it
            before = _profile_facts(profile) if profile is not None else None
            if after is not None:
                outcome.counted[customer_id] = after
            if before == after:
                continue
            moves[customer_id] = (before, after)
            for facts_, sign in ((before, -1), (after, 1)):
                if facts_ is not None:
                    totals = population[(facts_.segment, facts_.churned)]
                    totals[0] += sign
                    totals[1] += sign * facts_.health_score
                    totals[2] += sign * facts_.health_score**2

        if moves:
            cells: dict[CellKey, list[int]] = defaultdict(lambda: [0, 0])
            adoption_rows = FeatureAdoption.objects.filter(
                customer_id__in=list(moves), adopted_from__isnull=False
            ).values_list("customer_id", "feature_id", "adopted_from")
            for customer_id, feature_id, adopted_from in adoption_rows:
                before, after = moves[customer_id]
                for facts_, sign in ((before, -1), (after, 1)):
                    if facts_ is not None:
                        totals = cells[(feature_id, facts_.segment, facts_.churned, adopted_from)]
                        totals[0] += sign
                        totals[1] += sign * facts_.health_score
            cells_add(cells)
            population_add(population)

            updated, gone = [], []
            for customer_id, (_, after) in moves.items():
                profile = profiles.get(customer_id)
                if after is None:
                    gone.append(customer_id)
                    continue
                profile.counted = True
                profile.segment, profile.churned, profile.health_score = (
                    after.segment,
                    after.churned,
                    after.health_score,
                )
                profile.synced_at = now
                updated.append(profile)
            bulk_update_values(
                AdoptionProfile, updated, ["counted", "segment", "churned", "health_score", "synced_at"]
            )
            if gone:
                FeatureAdoption.objects.filter(customer_id__in=gone).delete()
                AdoptionProfile.objects.filter(customer_id__in=gone).delete()
            outcome.changed, outcome.removed = len(updated), len(gone)
        # A customer that is gone but was never counted leaves nothing behind either.
        orphans = [
            customer_id for customer_id in ids if customer_id not in known and customer_id not in moves
        ]
        if orphans:
            FeatureAdoption.objects.filter(customer_id__in=orphans).delete()
            AdoptionProfile.objects.filter(customer_id__in=orphans).delete()
    return outcome


def profiles_remove_deleted(event) -> None:
    """``customer.deleted`` subscriber (inline): take the customer out of the adoption figures."""
    if event.customer_id:
        profiles_sync(customer_ids=[event.customer_id])


@dataclass
class CatchUpStats:
    customers: int = 0
    changed: int = 0
    removed: int = 0
    chunks: int = 0
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def profiles_catch_up(*, chunk_size: int | None = None, now: datetime | None = None) -> CatchUpStats:
    """Sync the profile of every customer changed since the last run (less an overlap for transactions
    that committed late), a chunk per transaction; the first run syncs everyone. One run at a time."""
    stats = CatchUpStats()
    token = f"{timezone.now().timestamp()}"
    if not cache.add(SYNC_LOCK_KEY, token, timeout=3600):
        stats.skipped = True
        return stats
    try:
        size = chunk_size or conf.PRODUCT_SYNC_CHUNK_SIZE
        started = now or timezone.now()
        state, _ = AdoptionSyncState.objects.get_or_create(key="profiles")
        changed = Customer.objects.all()
        if state.synced_until is not None:
            since = state.synced_until - timedelta(seconds=conf.PRODUCT_PROFILE_SYNC_OVERLAP_SECONDS)
            changed = changed.filter(updated_at__gte=since)
        last: tuple[datetime, str] | None = None
        while True:
            page = changed.order_by("updated_at", "customer_id")
            if last is not None:
                page = page.filter(Q(updated_at__gt=last[0]) | Q(updated_at=last[0], customer_id__gt=last[1]))
            rows = list(page.values_list("updated_at", "customer_id")[:size])
            if not rows:
                break
            outcome = profiles_sync(customer_ids=[customer_id for _, customer_id in rows], now=started)
            stats.customers += len(rows)
            stats.changed += outcome.changed
            stats.removed += outcome.removed
            stats.chunks += 1
            last = rows[-1]
        AdoptionSyncState.objects.filter(pk=state.pk).update(synced_until=started)
    finally:
        if cache.get(SYNC_LOCK_KEY) == token:
            cache.delete(SYNC_LOCK_KEY)
    return stats


# --- Adoption rows from usage ----------------------------------------------------------------------


def _in_clause(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def adoption_from_usage(
    *, pairs: Iterable[tuple[str, str]], today: date
) -> dict[tuple[str, str], tuple[date | None, date | None]]:
    """``(adopted_from, last_used_on)`` of each (customer, feature) pair, from its daily usage since
    ``oldest_counted_day`` and its feature's threshold: one window query per 1000 customers."""
    wanted = set(pairs)
    results: dict[tuple[str, str], tuple[date | None, date | None]] = dict.fromkeys(wanted, (None, None))
    if not wanted:
        return results
    usage, feature = _table(FeatureUsage), _table(Feature)
    customer_column, feature_column = _column(FeatureUsage, "customer"), _column(FeatureUsage, "feature")
    day, count = _column(FeatureUsage, "date"), _column(FeatureUsage, "count")
    threshold, feature_key = _column(Feature, "adoption_threshold"), _column(Feature, "feature_id")
    customers = sorted({customer_id for customer_id, _ in wanted})
    features = sorted({feature_id for _, feature_id in wanted})
    since = oldest_counted_day(today)
    with connection.cursor() as cursor:
        for start in range(0, len(customers), UPSERT_BATCH):
            chunk = customers[start : start + UPSERT_BATCH]
            # Only quoted model names and placeholders are interpolated; every value is a parameter.
            sql = f"""
                SELECT t.customer_id, t.feature_id,
                       MAX(CASE WHEN t.trailing >= f.{threshold} THEN t.day END),
                       MAX(CASE WHEN t.used > 0 THEN t.day END)
                FROM (
                    SELECT u.{customer_column} AS customer_id, u.{feature_column} AS feature_id,
                           u.{day} AS day, u.{count} AS used,
                           SUM(u.{count}) OVER (
                               PARTITION BY u.{customer_column}, u.{feature_column} ORDER BY u.{day} DESC
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                           ) AS trailing
                    FROM {usage} u
                    WHERE u.{day} >= %s AND u.{customer_column} IN ({_in_clause(chunk)})
                      AND u.{feature_column} IN ({_in_clause(features)})
                ) t JOIN {feature} f ON f.{feature_key} = t.feature_id
                GROUP BY t.customer_id, t.feature_id
            """  # noqa: S608
            cursor.execute(sql, [since, *chunk, *features])
            for customer_id, feature_id, adopted_from, last_used in cursor.fetchall():
                if (customer_id, feature_id) in wanted:
                    results[(customer_id, feature_id)] = (_as_date(adopted_from), _as_date(last_used))
    return results


@dataclass(frozen=True)
class AdoptionChange:
    customer_id: str
    feature_id: str
    before: date | None
    after: date | None


@dataclass
class AdoptionApplied:
    changes: list[AdoptionChange] = field(default_factory=list)
    #: every pair's adopted_from after the write
    adopted_from: dict[tuple[str, str], date | None] = field(default_factory=dict)


def adoption_apply(
    *, pairs: Iterable[tuple[str, str]], counted: dict[str, CustomerFacts], today: date
) -> AdoptionApplied:
    """Recompute the adoption rows of ``pairs`` from their usage (rows created and locked here) and move
    each counted customer's contribution between cells. In the caller's transaction, after
    ``profiles_sync`` locked the profiles and gave ``counted``."""
    wanted = sorted(set(pairs))
    applied = AdoptionApplied()
    if not wanted:
        return applied
    now = timezone.now()
    insert_rows(
        FeatureAdoption,
        ("customer_id", "feature", "updated_at"),
        [(customer_id, feature_id, now) for customer_id, feature_id in wanted],
        conflict=("customer_id", "feature"),
        on_conflict="nothing",
    )
    customers = sorted({customer_id for customer_id, _ in wanted})
    features = sorted({feature_id for _, feature_id in wanted})
    rows = lock_rows(
        FeatureAdoption.objects.filter(customer_id__in=customers, feature_id__in=features).order_by(
            "customer_id", "feature_id"
        )
    )
    wanted_set = set(wanted)
    current = {(row.customer_id, row.feature_id): row for row in rows}
    current = {key: row for key, row in current.items() if key in wanted_set}
    computed = adoption_from_usage(pairs=wanted, today=today)

    dirty: list[FeatureAdoption] = []
    cells: dict[CellKey, list[int]] = defaultdict(lambda: [0, 0])
    for key in wanted:
        row = current[key]
        adopted_from, last_used = computed[key]
        applied.adopted_from[key] = adopted_from
        if row.adopted_from == adopted_from and row.last_used_on == last_used:
            continue
        if row.adopted_from != adopted_from:
            applied.changes.append(
                AdoptionChange(row.customer_id, row.feature_id, row.adopted_from, adopted_from)
            )
            facts = counted.get(row.customer_id)
            if facts is not None:
                for day, sign in ((row.adopted_from, -1), (adopted_from, 1)):
                    if day is not None:
                        totals = cells[(row.feature_id, facts.segment, facts.churned, day)]
                        totals[0] += sign
                        totals[1] += sign * facts.health_score
        row.adopted_from, row.last_used_on, row.updated_at = adopted_from, last_used, now
        dirty.append(row)
    cells_add(cells)
    bulk_update_values(FeatureAdoption, dirty, ["adopted_from", "last_used_on", "updated_at"])
    return applied


# --- Adoption rates --------------------------------------------------------------------------------


def adopted_feature_counts(
    *, customer_ids: Sequence[str], features: Sequence[Feature], today: date
) -> dict[str, int]:
    """How many of ``features`` each customer has adopted, each under its own window: one query."""
    if not customer_ids or not features:
        return {}
    in_window = Q()
    for feature in features:
        in_window |= Q(
            feature_id=feature.feature_id, adopted_from__gte=window_start(today, feature.window_days)
        )
    rows = (
        FeatureAdoption.objects.filter(in_window, customer_id__in=list(customer_ids))
        .values("customer_id")
        .annotate(adopted=Count("id"))
        .values_list("customer_id", "adopted")
    )
    return {customer_id: int(adopted) for customer_id, adopted in rows}


# --- Rebuild, roll-off and recompute ---------------------------------------------------------------


@dataclass
class RebuildStats:
    profiles: int = 0
    removed_profiles: int = 0
    rolled_off: int = 0
    cells: int = 0
    #: per feature (and "population"): the countable totals before and after, where they differed
    drift: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _countable_totals(today: date, feature_id: str | None) -> dict[str, list[int]]:
    """Adopters and health sums per feature over the cells some window can count, and the population."""
    cells = AdoptionCell.objects.filter(adopted_from__gte=oldest_counted_day(today))
    if feature_id is not None:
        cells = cells.filter(feature_id=feature_id)
    totals = {
        feature: [int(adopters or 0), int(health or 0)]
        for feature, adopters, health in cells.values("feature_id")
        .annotate(adopters=Sum("adopters"), health=Sum("health_sum"))
        .values_list("feature_id", "adopters", "health")
    }
    if feature_id is None:
        population = AdoptionPopulation.objects.aggregate(
            customers=Sum("customers"), health=Sum("health_sum"), squares=Sum("health_square_sum")
        )
        totals["population"] = [int(population[name] or 0) for name in ("customers", "health", "squares")]
    return totals


def _drift(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict[str, dict[str, list[int]]]:
    drift = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        size = len(old or new)
        old, new = old or [0] * size, new or [0] * size
        if old != new:
            drift[key] = {"before": old, "after": new}
    return drift


class _Sql:
    """Quoted table and column names of the models the rebuild writes with set-based SQL."""

    def __init__(self) -> None:
        self.customers = _table(Customer)
        self.profile, self.adoption = _table(AdoptionProfile), _table(FeatureAdoption)
        self.cell, self.population = _table(AdoptionCell), _table(AdoptionPopulation)
        self.c = self._columns(Customer, "customer_id", "segment", "lifecycle_stage", "health_score")
        self.p = self._columns(
            AdoptionProfile, "customer_id", "counted", "segment", "churned", "health_score", "synced_at"
        )
        self.a = self._columns(FeatureAdoption, "customer_id", "feature", "adopted_from")
        self.k = self._columns(
            AdoptionCell, "feature", "segment", "churned", "adopted_from", "adopters", "health_sum"
        )
        self.q = self._columns(
            AdoptionPopulation, "segment", "churned", "customers", "health_sum", "health_square_sum"
        )

    @staticmethod
    def _columns(model, *names: str) -> dict[str, str]:
        return {name: _column(model, name) for name in names}


# Only quoted model names and placeholders are interpolated into the statements below; every value
# is a parameter.


def _profiles_from_customers(cursor, sql: _Sql, now: datetime) -> tuple[int, int]:
    p, c = sql.p, sql.c
    cursor.execute(
        f"""
        INSERT INTO {sql.profile} ({p["customer_id"]}, {p["counted"]}, {p["segment"]}, {p["churned"]},
                                   {p["health_score"]}, {p["synced_at"]})
        SELECT {c["customer_id"]}, %s, {c["segment"]}, {c["lifecycle_stage"]} = %s, {c["health_score"]}, %s
        FROM {sql.customers} WHERE 1 = 1
        ON CONFLICT ({p["customer_id"]}) DO UPDATE SET
            {p["counted"]} = excluded.{p["counted"]}, {p["segment"]} = excluded.{p["segment"]},
            {p["churned"]} = excluded.{p["churned"]}, {p["health_score"]} = excluded.{p["health_score"]},
            {p["synced_at"]} = excluded.{p["synced_at"]}
        """,  # noqa: S608
        [True, LifecycleStage.CHURNED, now],
    )
    synced = cursor.rowcount
    missing = f"NOT EXISTS (SELECT 1 FROM {sql.customers} x WHERE x.{c['customer_id']} = {{}})"  # noqa: S608
    adoption_key = f"{sql.adoption}.{sql.a['customer_id']}"
    cursor.execute(f"DELETE FROM {sql.adoption} WHERE {missing.format(adoption_key)}")  # noqa: S608
    profile_key = f"{sql.profile}.{p['customer_id']}"
    cursor.execute(f"DELETE FROM {sql.profile} WHERE {missing.format(profile_key)}")  # noqa: S608
    return synced, cursor.rowcount


def _cells_from_adoption(cursor, sql: _Sql, feature_id: str | None) -> int:
    a, p, k = sql.a, sql.p, sql.k
    only, params = "", []
    if feature_id is not None:
        only, params = f" AND s.{a['feature']} = %s", [feature_id]
        cursor.execute(f"DELETE FROM {sql.cell} WHERE {k['feature']} = %s", params)  # noqa: S608
    else:
        cursor.execute(f"DELETE FROM {sql.cell}")  # noqa: S608
    cursor.execute(
        f"""
        INSERT INTO {sql.cell} ({k["feature"]}, {k["segment"]}, {k["churned"]}, {k["adopted_from"]},
                                {k["adopters"]}, {k["health_sum"]})
        SELECT s.{a["feature"]}, pr.{p["segment"]}, pr.{p["churned"]}, s.{a["adopted_from"]},
               COUNT(*), SUM(pr.{p["health_score"]})
        FROM {sql.adoption} s JOIN {sql.profile} pr ON pr.{p["customer_id"]} = s.{a["customer_id"]}
        WHERE s.{a["adopted_from"]} IS NOT NULL AND pr.{p["counted"]} = %s{only}
        GROUP BY s.{a["feature"]}, pr.{p["segment"]}, pr.{p["churned"]}, s.{a["adopted_from"]}
        """,  # noqa: S608
        [True, *params],
    )
    return cursor.rowcount


def _population_from_profiles(cursor, sql: _Sql) -> None:
    p, q = sql.p, sql.q
    cursor.execute(f"DELETE FROM {sql.population}")  # noqa: S608
    cursor.execute(
        f"""
        INSERT INTO {sql.population} ({q["segment"]}, {q["churned"]}, {q["customers"]}, {q["health_sum"]},
                                      {q["health_square_sum"]})
        SELECT {p["segment"]}, {p["churned"]}, COUNT(*), SUM({p["health_score"]}),
               SUM({p["health_score"]} * {p["health_score"]})
        FROM {sql.profile} WHERE {p["counted"]} = %s
        GROUP BY {p["segment"]}, {p["churned"]}
        """,  # noqa: S608
        [True],
    )


def aggregates_rebuild(*, today: date | None = None, feature_id: str | None = None) -> RebuildStats:
    """Recompute profiles, cells and population from the customers and the adoption rows, in one
    transaction that keeps other writers of these tables waiting (readers are not), and roll off
    adoption that starts before the longest window (it counts in no window). Returns what it corrected.

    With ``feature_id``, only that feature's adoption rows are rolled off and its cells rebuilt from the
    profiles as they stand (after a threshold recompute).
    """
    today = today or today_utc()
    stats, sql, now = RebuildStats(), _Sql(), timezone.now()
    with transaction.atomic():
        _lock_tables([AdoptionProfile, FeatureAdoption, AdoptionCell, AdoptionPopulation])
        before = _countable_totals(today, feature_id) if feature_id is None else {}
        with connection.cursor() as cursor:
            if feature_id is None:
                stats.profiles, stats.removed_profiles = _profiles_from_customers(cursor, sql, now)
            roll_off = FeatureAdoption.objects.filter(adopted_from__lt=oldest_counted_day(today))
            if feature_id is not None:
                roll_off = roll_off.filter(feature_id=feature_id)
            stats.rolled_off = roll_off.update(adopted_from=None)
            stats.cells = _cells_from_adoption(cursor, sql, feature_id)
            if feature_id is None:
                _population_from_profiles(cursor, sql)
        if feature_id is None:  # a feature's recompute changes its cells by design: not drift
            stats.drift = _drift(before, _countable_totals(today, feature_id))
        if feature_id is None:
            AdoptionSyncState.objects.update_or_create(
                key="profiles", defaults={"last_drift": stats.drift, "rebuilt_at": now}
            )
    if stats.drift:
        logger.warning("The adoption rebuild corrected drift: %s", stats.drift)
    return stats


def feature_adoption_recompute(
    *, feature_id: str, today: date | None = None, chunk_size: int | None = None
) -> int:
    """Recompute every adoption row of one feature from its usage (after its threshold changed), a chunk
    of customers per transaction, then rebuild its cells. Returns the rows recomputed."""
    today = today or today_utc()
    size = chunk_size or RECOMPUTE_CHUNK
    feature = Feature.objects.get(pk=feature_id)
    threshold_value = feature.adoption_threshold
    usage, adoption = _table(FeatureUsage), _table(FeatureAdoption)
    u = {name: _column(FeatureUsage, name) for name in ("customer", "feature", "date", "count")}
    a = {
        name: _column(FeatureAdoption, name)
        for name in ("customer_id", "feature", "adopted_from", "last_used_on", "updated_at")
    }
    since, now = oldest_counted_day(today), timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        # Every pair with recent usage has its row (usage writes create them; a bulk load may not have).
        cursor.execute(
            f"""
            INSERT INTO {adoption} ({a["customer_id"]}, {a["feature"]}, {a["updated_at"]})
            SELECT DISTINCT {u["customer"]}, {u["feature"]}, %s FROM {usage}
            WHERE {u["feature"]} = %s AND {u["date"]} >= %s
            ON CONFLICT ({a["customer_id"]}, {a["feature"]}) DO NOTHING
            """,  # noqa: S608
            [now, feature_id, since],
        )
    # Chunks of customers by key (the customers' primary key orders them): every statement below reads
    # a key range through the (customer_id, feature) and (customer_id, feature_id, date) unique indexes,
    # and the first one locks the chunk's rows in key order, as usage writes do.
    recomputed, last = 0, ""
    while True:
        following = Customer.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)
        if not following.exists():
            break
        boundary = list(following[size - 1 : size])
        high = boundary[0] if boundary else following.order_by("-pk").first()
        low = last
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {adoption} SET {a["adopted_from"]} = NULL, {a["last_used_on"]} = NULL,
                                      {a["updated_at"]} = %s
                WHERE {a["feature"]} = %s AND {a["customer_id"]} > %s AND {a["customer_id"]} <= %s
                """,  # noqa: S608
                [now, feature_id, low, high],
            )
            recomputed += cursor.rowcount
            cursor.execute(
                f"""
                UPDATE {adoption} SET {a["adopted_from"]} = r.adopted_from, {a["last_used_on"]} = r.last_used
                FROM (
                    SELECT t.customer_id,
                           MAX(CASE WHEN t.trailing >= %s THEN t.day END) AS adopted_from,
                           MAX(CASE WHEN t.used > 0 THEN t.day END) AS last_used
                    FROM (
                        SELECT {u["customer"]} AS customer_id, {u["date"]} AS day, {u["count"]} AS used,
                               SUM({u["count"]}) OVER (
                                   PARTITION BY {u["customer"]} ORDER BY {u["date"]} DESC
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                               ) AS trailing
                        FROM {usage}
                        WHERE {u["feature"]} = %s AND {u["date"]} >= %s
                          AND {u["customer"]} > %s AND {u["customer"]} <= %s
                    ) t GROUP BY t.customer_id
                ) r
                WHERE {adoption}.{a["feature"]} = %s AND {adoption}.{a["customer_id"]} = r.customer_id
                """,  # noqa: S608
                [threshold_value, feature_id, since, low, high, feature_id],
            )
        last = high
    aggregates_rebuild(today=today, feature_id=feature_id)
    Feature.objects.filter(pk=feature_id, adoption_threshold=threshold_value).update(
        summary_threshold=threshold_value
    )
    return recomputed


def usage_prune(*, today: date | None = None, batch_size: int = 50_000) -> int:
    """Delete daily usage older than PRODUCT_USAGE_RETENTION_DAYS (never younger than the longest
    window), in batches; returns the rows deleted."""
    today = today or today_utc()
    keep_days = max(conf.PRODUCT_USAGE_RETENTION_DAYS, conf.PRODUCT_MAX_WINDOW_DAYS)
    cutoff = window_start(today, keep_days)
    deleted = 0
    while True:
        ids = list(FeatureUsage.objects.filter(date__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += FeatureUsage.objects.filter(pk__in=ids).delete()[0]
