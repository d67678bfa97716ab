"""Reads of customers and their health, shared by the API, the admin and the health engine."""

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery, TextField
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404

from csintegration.db import table_stamp, table_stamp_sql

from . import scoring
from .models import (
    PAYMENT_STATUS_VALUES,
    Customer,
    CustomerSignal,
    HealthSnapshot,
    HealthSource,
    Measure,
    Scorecard,
    ScorecardBand,
    ScorecardMeasure,
)


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_get(*, customer_id: str) -> Customer:
    return get_object_or_404(Customer, customer_id=customer_id)


#: the sources whose snapshots carry a breakdown computed by a scorecard
COMPUTED_SOURCES = (HealthSource.SIGNALS, HealthSource.RECOMPUTE)


def customers_by_id(*, customer_ids: list[str]) -> dict[str, Customer]:
    return Customer.objects.in_bulk(customer_ids)


# --- Scorecards -----------------------------------------------------------------------------------------


def scorecard_spec(scorecard: Scorecard) -> scoring.ScorecardSpec:
    """The pure form of a stored scorecard (its measures and bands must be prefetched or loadable)."""
    return scoring.ScorecardSpec(
        name=scorecard.name,
        scorecard_id=scorecard.pk,
        segment=scorecard.segment,
        lifecycle_stage=scorecard.lifecycle_stage,
        is_default=scorecard.is_default,
        measures=tuple(
            scoring.MeasureSpec(
                measure=measure.measure,
                weight=measure.weight,
                normalisation=measure.normalisation,
                direction=measure.direction,
                min_value=measure.min_value,
                max_value=measure.max_value,
                target_value=measure.target_value,
            )
            for measure in scorecard.measures.all()
        ),
        bands=tuple((band.min_score, band.risk_level) for band in scorecard.bands.all())
        or scoring.DEFAULT_RISK_BANDS,
    )


_specs_lock = threading.Lock()
_specs_cache: tuple[tuple, list[scoring.ScorecardSpec]] | None = None


def scorecards_version() -> tuple:
    """Changes whenever a scorecard, one of its measures or bands is saved or deleted (they touch their
    scorecard's ``updated_at``): one small aggregate query."""
    return table_stamp(Scorecard)


def scorecard_specs(*, version: tuple | None = None) -> list[scoring.ScorecardSpec]:
    """Every active scorecard in its pure form: kept per process, re-read (three queries) only when
    ``scorecards_version`` moved, so every process sees an edit at its next use. ``version``: the
    ``scorecards_version()`` the caller read already in this transaction (``score_history`` reads it)."""
    global _specs_cache
    if version is None:
        version = scorecards_version()
    cached = _specs_cache
    if cached is not None and cached[0] == version:
        return cached[1]
    scorecards = Scorecard.objects.filter(is_active=True).prefetch_related(
        Prefetch("measures", queryset=ScorecardMeasure.objects.order_by("-weight", "measure")),
        Prefetch("bands", queryset=ScorecardBand.objects.order_by("-min_score")),
    )
    specs = [scorecard_spec(scorecard) for scorecard in scorecards]
    with _specs_lock:
        _specs_cache = (version, specs)
    return specs


def scorecard_for(customer: Customer, specs: Sequence[scoring.ScorecardSpec]) -> scoring.ScorecardSpec:
    return scoring.choose_scorecard(
        specs,
        segment=customer.segment,
        lifecycle_stage=customer.lifecycle_stage,
        fallback=scoring.BUILT_IN_SCORECARD,
    )


# --- What the engine knows of each customer ------------------------------------------------------------


#: the customer fields the health engine reads and writes (the recompute loads only these)
ENGINE_FIELDS = (
    "customer_id",
    "segment",
    "lifecycle_stage",
    "health_score",
    "risk_level",
    "health_trend",
    "churn_risk_alerted_at",
    "adoption_rate",
    "engagement_score",
    "nps_score",
    "finance_status",
    "updated_at",
)


class SignalValue(NamedTuple):
    """A signal's latest value, where the engine only reads it (the recompute)."""

    value: float


@dataclass
class HealthState:
    """One customer's signals and recent scores, as the health engine needs them."""

    #: earlier scores within the look-back: (observed_at, score, snapshot id or None for the baseline)
    points: list[tuple[datetime, int, int | None]] = field(default_factory=list)
    latest_breakdown: list[dict[str, Any]] | None = None
    #: the stored rows (``SignalValue`` when loaded with ``rows=False``)
    signal_rows: dict[str, CustomerSignal | SignalValue] = field(default_factory=dict)

    def measure_values(self, customer: Customer) -> dict[str, float | None]:
        """The latest value of each measure: a signal if one was sent, else the customer's own field."""
        payment = PAYMENT_STATUS_VALUES.get(customer.finance_status)
        values: dict[str, float | None] = {
            Measure.ADOPTION_RATE: customer.adoption_rate,
            Measure.ENGAGEMENT: customer.engagement_score,
            Measure.NPS: customer.nps_score,
            Measure.PAYMENT_STATUS: payment,
        }
        values.update({name: row.value for name, row in self.signal_rows.items()})
        return values


def health_states(
    *,
    customers: Sequence[Customer],
    since: datetime,
    key_range: tuple[str, str] | None = None,
    rows: bool = True,
    signals: bool = True,
) -> dict[str, HealthState]:
    """Signals, scores since ``since`` and the latest breakdown of ``customers``, in three queries.

    ``key_range`` (first and last customer id, inclusive) selects by range instead of a list of ids when
    ``customers`` are every customer of that range (a recompute chunk): the statements stay small
    whatever the chunk's size. With ``rows=False`` signals are read as values only; with
    ``signals=False`` not at all (a score given rather than computed needs none), in two queries.
    """
    ids = [customer.customer_id for customer in customers]
    states = {customer_id: HealthState() for customer_id in ids}
    if not ids:
        return states
    if key_range is not None:
        scope = {"customer_id__gte": key_range[0], "customer_id__lte": key_range[1]}
    else:
        scope = {"customer_id__in": ids}
    # No order: the model's (customer, name) would join the customers to sort by their own ordering.
    stored_signals = CustomerSignal.objects.filter(**scope).order_by()
    if signals and rows:
        for signal in stored_signals:
            if signal.customer_id in states:
                states[signal.customer_id].signal_rows[signal.name] = signal
    elif signals:
        for customer_id, name, value in stored_signals.values_list("customer_id", "name", "value"):
            if customer_id in states:
                states[customer_id].signal_rows[name] = SignalValue(value)
    window = (
        HealthSnapshot.objects.filter(**scope, observed_at__gte=since)
        .order_by("observed_at", "id")
        .values_list("customer_id", "observed_at", "score", "id")
    )
    for customer_id, observed_at, score, snapshot_id in window:
        if customer_id in states:
            states[customer_id].points.append((observed_at, score, snapshot_id))
    # The latest applied snapshot's breakdown of each customer, one descent of the applied index each (a
    # grouped max would read every snapshot of the range), as text decoded by orjson (a third of what
    # JSONField's json.loads costs).
    latest_breakdown = (
        HealthSnapshot.objects.filter(customer_id=OuterRef("customer_id"), applied=True)
        .order_by("-id")
        .values("breakdown")[:1]
    )
    latest = (
        Customer.objects.filter(**scope)
        .order_by()
        .annotate(latest_breakdown=Cast(Subquery(latest_breakdown), TextField()))
        .values_list("customer_id", "latest_breakdown")
    )
    for customer_id, breakdown in latest:
        if breakdown is not None and customer_id in states:
            states[customer_id].latest_breakdown = orjson.loads(breakdown)
    for customer in customers:
        state = states[customer.customer_id]
        if state.latest_breakdown is None and not state.points:
            # Never scored by the engine: the stored score is where the history starts.
            state.points.append((customer.updated_at, customer.health_score, None))
    return states


class ScoreHistory(NamedTuple):
    state: HealthState
    #: the time of the latest applied snapshot (None before the first)
    latest_at: datetime | None
    #: ``scorecards_version()``, read in the same statement
    scorecards_version: tuple


def score_history(*, customer: Customer, since: datetime) -> ScoreHistory:
    """``health_states(customers=[customer], since=since, signals=False)``, the time of
    ``latest_snapshot(customer=customer)`` and ``scorecards_version()``, what a score reported for one
    customer needs, in one statement on PostgreSQL (subqueries, each the query of those functions) instead
    of four."""
    if connection.vendor != "postgresql":
        latest = latest_snapshot(customer=customer)
        state = health_states(customers=[customer], since=since, signals=False)[customer.customer_id]
        return ScoreHistory(state, latest.observed_at if latest is not None else None, scorecards_version())
    quote = connection.ops.quote_name
    table = quote(HealthSnapshot._meta.db_table)
    # Only quoted model tables are interpolated; every value is a parameter.
    sql = f"""
        SELECT
            (SELECT json_agg(json_build_array(w.observed_at, w.score, w.id)
                             ORDER BY w.observed_at, w.id)::text
               FROM {table} w WHERE w.customer_id = %(customer)s AND w.observed_at >= %(since)s),
            (SELECT b.breakdown::text FROM {table} b WHERE b.id = (
                SELECT max(m.id) FROM {table} m WHERE m.customer_id = %(customer)s AND m.applied)),
            (SELECT l.observed_at FROM {table} l WHERE l.customer_id = %(customer)s AND l.applied
               ORDER BY l.observed_at DESC, l.id DESC LIMIT 1),
            {table_stamp_sql(Scorecard)}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"customer": customer.customer_id, "since": since})
        window, breakdown, latest_at, scorecard_count, scorecard_latest = cursor.fetchone()
    state = HealthState()
    for observed_at, score, snapshot_id in orjson.loads(window) if window else ():
        state.points.append((datetime.fromisoformat(observed_at), score, snapshot_id))
    state.latest_breakdown = orjson.loads(breakdown) if breakdown is not None else None
    if state.latest_breakdown is None and not state.points:
        state.points.append((customer.updated_at, customer.health_score, None))
    return ScoreHistory(state, latest_at, (scorecard_count, scorecard_latest))


def latest_snapshot(*, customer: Customer) -> HealthSnapshot | None:
    """The customer's current score as kept in the history (the latest applied one)."""
    return (
        HealthSnapshot.objects.filter(customer=customer, applied=True)
        .order_by("-observed_at", "-id")
        .only("id", "observed_at", "score")
        .first()
    )


def snapshot_before(*, customer: Customer, moment: datetime) -> HealthSnapshot | None:
    return (
        HealthSnapshot.objects.filter(customer=customer, observed_at__lte=moment)
        .order_by("-observed_at", "-id")
        .first()
    )


def snapshot_breakdowns(*, snapshot_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    if not snapshot_ids:
        return {}
    return dict(HealthSnapshot.objects.filter(id__in=list(snapshot_ids)).values_list("id", "breakdown"))


# --- The health of one customer, as the API shows it ---------------------------------------------------


def health_snapshots(*, customer: Customer, limit: int) -> list[HealthSnapshot]:
    return list(customer.health_snapshots.select_related("scorecard").order_by("-observed_at", "-id")[:limit])


def _scorecard_summary(
    snapshot: HealthSnapshot | None, applicable: scoring.ScorecardSpec
) -> dict[str, Any] | None:
    if snapshot is not None:
        if snapshot.scorecard is not None:
            card = snapshot.scorecard
            return {
                "id": card.pk,
                "name": card.name,
                "is_default": card.is_default,
                "segment": card.segment or None,
                "lifecycle_stage": card.lifecycle_stage or None,
            }
        return {
            "id": None,
            "name": snapshot.scorecard_name,
            "is_default": False,
            "segment": None,
            "lifecycle_stage": None,
        }
    return {
        "id": applicable.scorecard_id,
        "name": applicable.name,
        "is_default": applicable.is_default,
        "segment": applicable.segment or None,
        "lifecycle_stage": applicable.lifecycle_stage or None,
    }


def snapshot_entry(snapshot: HealthSnapshot) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.pk,
        "score": snapshot.score,
        "previous_score": snapshot.previous_score,
        "score_delta": None if snapshot.previous_score is None else snapshot.score - snapshot.previous_score,
        "health_trend": snapshot.health_trend,
        "risk_level": snapshot.risk_level,
        "source": snapshot.source,
        "applied": snapshot.applied,
        "scorecard": snapshot.scorecard_name or None,
        "change_reason": snapshot.change_reason or None,
        "trigger_events": snapshot.trigger_events,
        "changes": snapshot.changes,
        "event_id": snapshot.event_id or None,
        "churn_event_id": snapshot.churn_event_id or None,
        "observed_at": snapshot.observed_at,
    }


def customer_health(*, customer: Customer, history_limit: int) -> dict[str, Any]:
    """Current score, trend and risk; the latest breakdown and what changed; the signals; recent history.

    The breakdown is the one of the latest computed score (a score reported by a health-change event
    or set by hand has none of its own).
    """
    snapshots = health_snapshots(customer=customer, limit=max(history_limit, 1))
    latest = next((snapshot for snapshot in snapshots if snapshot.applied), None)
    computed = (
        latest
        if latest is not None and latest.source in COMPUTED_SOURCES
        else customer.health_snapshots.filter(source__in=COMPUTED_SOURCES)
        .select_related("scorecard")
        .order_by("-observed_at", "-id")
        .first()
    )
    applicable = scorecard_for(customer, scorecard_specs())
    signals = {
        signal.name: {"value": signal.value, "observed_at": signal.observed_at}
        for signal in customer.signals.order_by("name")
    }
    return {
        "customer_id": customer.customer_id,
        "health_score": customer.health_score,
        "health_trend": customer.health_trend,
        "risk_level": customer.risk_level,
        "source": latest.source if latest else None,
        "scored_at": latest.observed_at if latest else None,
        "scorecard": _scorecard_summary(computed, applicable),
        "breakdown": computed.breakdown if computed else [],
        "breakdown_score": computed.score if computed else None,
        "changes": computed.changes if computed else [],
        "signals": signals,
        "history": [snapshot_entry(snapshot) for snapshot in snapshots[:history_limit]],
    }
