"""The health engine: every change of a customer's health score goes through here.

Each path loads what the engine needs (the scorecards, each customer's signals and recent scores),
lets the pure ``scoring.evaluate_health`` decide (risk from the scorecard's bands, trend, churn rules,
whether to keep and announce the score), then writes the decision in a bounded number of queries:
the customers' health fields, a snapshot per kept score, and ``health_score_change`` /
``churn_risk_detected`` in the same transaction (the outbox).

Paths: signals (``health_signals_record``), a change reported by another system
(``health_change_record``), a score set through the customer API or the admin
(``health_scores_set``), a new customer (``health_initial``) and the scheduled recompute.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from csintegration.db import bulk_insert, bulk_update_values, locked_by_key, new_instance
from csintegration.events import EventMessage, publish_many

from . import events, scoring, selectors
from .conf import conf
from .models import Customer, CustomerSignal, HealthSnapshot, HealthSource, HealthTrend, Measure

if TYPE_CHECKING:
    from csintegration.events.models import Event

# Signals that are also success metrics of the customer record: the record shows the latest value.
SIGNAL_FIELDS = {
    Measure.ADOPTION_RATE: "adoption_rate",
    Measure.ENGAGEMENT: "engagement_score",
    Measure.NPS: "nps_score",
}
#: why a reported change did not become the current score
OLDER_THAN_LATEST = "older_than_latest_score"


def policy() -> scoring.HealthPolicy:
    return scoring.HealthPolicy(
        trend_window_days=conf.HEALTH_TREND_WINDOW_DAYS,
        trend_threshold_points=conf.HEALTH_TREND_THRESHOLD_POINTS,
        churn_window_days=conf.CHURN_DROP_WINDOW_DAYS,
        churn_drop_points=conf.CHURN_DROP_POINTS,
    )


def _lookback_start(now: datetime) -> datetime:
    return now - timedelta(days=max(conf.HEALTH_TREND_WINDOW_DAYS, conf.CHURN_DROP_WINDOW_DAYS))


@dataclass
class HealthOutcome:
    """What one run of the engine did to one customer."""

    customer: Customer
    decision: scoring.HealthDecision
    scorecard: scoring.ScorecardSpec
    snapshot: HealthSnapshot | None = None
    event_id: str | None = None
    churn_event_id: str | None = None
    #: the churn alert's body once written
    churn_payload: dict[str, Any] | None = None
    #: reported by the sender (a health-change event), kept for the churn alert
    reported_triggers: tuple[str, ...] = ()
    suggested_actions: tuple[str, ...] = ()
    #: customer fields this run changed, with their value before
    previous_values: dict[str, Any] = field(default_factory=dict)

    @property
    def previous_score(self) -> int:
        return self.decision.previous_score

    @property
    def score(self) -> int:
        return self.decision.score

    @property
    def risk_level(self) -> str:
        return self.decision.risk_level

    @property
    def previous_risk_level(self) -> str:
        return self.decision.previous_risk_level

    @property
    def health_trend(self) -> str:
        return self.decision.health_trend

    @property
    def churn(self) -> scoring.ChurnAssessment | None:
        return self.decision.churn

    @property
    def score_changed(self) -> bool:
        return self.decision.score_changed

    @property
    def changed_fields(self) -> set[str]:
        return set(self.previous_values)


def _evaluate(
    customer: Customer,
    state: selectors.HealthState,
    *,
    score: int,
    breakdown: Sequence[dict[str, Any]],
    scorecard: scoring.ScorecardSpec,
    source: str,
    observed_at: datetime,
    now: datetime,
    change_reason: str,
    reported_triggers: Sequence[str] = (),
    suggested_actions: Sequence[str] = (),
    always_record: bool = False,
    health_policy: scoring.HealthPolicy | None = None,
) -> HealthOutcome:
    """Decide on a new score for ``customer`` and apply it in memory (nothing is written here)."""
    computed = source in selectors.COMPUTED_SOURCES
    decision = scoring.evaluate_health(
        score=score,
        breakdown=breakdown,
        computed=computed,
        previous_score=customer.health_score,
        previous_risk_level=customer.risk_level,
        previous_trend=customer.health_trend,
        churn_alerted_at=customer.churn_risk_alerted_at,
        history=state.points,
        latest_breakdown=state.latest_breakdown,
        bands=scorecard.bands,
        observed_at=observed_at,
        now=now,
        policy=health_policy or policy(),
        reported_triggers=reported_triggers,
        always_record=always_record,
    )
    outcome = HealthOutcome(
        customer=customer,
        decision=decision,
        scorecard=scorecard,
        reported_triggers=tuple(reported_triggers),
        suggested_actions=tuple(suggested_actions),
    )
    for name, value in (
        ("health_score", decision.score),
        ("health_trend", decision.health_trend),
        ("risk_level", decision.risk_level),
    ):
        if name in decision.changed_fields:
            outcome.previous_values[name] = getattr(customer, name)
            setattr(customer, name, value)
    if decision.churn is not None:
        outcome.previous_values["churn_risk_alerted_at"] = customer.churn_risk_alerted_at
        customer.churn_risk_alerted_at = observed_at
    if decision.record:
        outcome.snapshot = new_instance(
            HealthSnapshot,
            customer=customer,
            score=decision.score,
            previous_score=decision.previous_score,
            health_trend=decision.health_trend,
            risk_level=decision.risk_level,
            source=source,
            scorecard_id=scorecard.scorecard_id,
            scorecard_name=scorecard.name,
            breakdown=list(breakdown) if computed else [],
            changes=list(decision.changes),
            change_reason=change_reason,
            trigger_events=list(decision.trigger_events),
            recommended_actions=list(suggested_actions),
            observed_at=observed_at,
        )
    return outcome


def _write_churn_alerts(outcomes: Sequence[HealthOutcome], states: dict[str, selectors.HealthState]) -> None:
    """The body of each churn alert: the measures that fell since the peak the drop is measured from
    (else since the previous score), or the weakest, and the actions for them."""
    peaks = selectors.snapshot_breakdowns(
        snapshot_ids=[
            o.churn.peak_reference for o in outcomes if o.churn is not None and o.churn.peak_reference
        ]
    )
    for outcome in outcomes:
        if outcome.churn is None or outcome.snapshot is None:
            continue
        state = states[outcome.customer.customer_id]
        alert = scoring.churn_alert(
            outcome.churn,
            reference=peaks.get(outcome.churn.peak_reference) or state.latest_breakdown,
            current=outcome.snapshot.breakdown,
            reported_triggers=outcome.reported_triggers,
            suggested_actions=outcome.suggested_actions,
        )
        outcome.churn_payload = {
            "risk_level": outcome.risk_level,
            "risk_indicators": list(alert.risk_indicators),
            "recommended_actions": list(alert.recommended_actions),
        }
        if not outcome.snapshot.recommended_actions:
            outcome.snapshot.recommended_actions = list(alert.recommended_actions)


class HealthWrites:
    """What a health pass decided and has still to write: the customers whose engine fields changed (and
    which), the events to publish and the snapshots to insert once those have their ids. ``write()`` does
    it in a few queries; a caller writing more of the same customers and events in the same transaction
    (the bulk upsert) takes ``customers``/``fields`` and ``messages`` into its own statements and calls
    ``write(published=…)`` with the events of these messages, so that each table is written once."""

    def __init__(self, outcomes: Sequence[HealthOutcome], now: datetime) -> None:
        self.outcomes = outcomes
        dirty = [o for o in outcomes if o.previous_values]
        self.customers = [o.customer for o in dirty]
        changed = sorted(set().union(*(o.changed_fields for o in dirty)))
        self.fields = [*changed, "updated_at"] if dirty else []
        for customer in self.customers:
            customer.updated_at = now
        self.messages: list[EventMessage] = []
        self._targets: list[tuple[HealthOutcome, str]] = []
        for outcome in outcomes:
            snapshot = outcome.snapshot
            if snapshot is None:
                continue
            customer_id = outcome.customer.customer_id
            if outcome.decision.publish_change:
                payload = {
                    "previous_score": outcome.previous_score,
                    "new_score": outcome.score,
                    "change_reason": snapshot.change_reason,
                    "trigger_events": snapshot.trigger_events,
                }
                self.messages.append(
                    EventMessage(events.HEALTH_SCORE_CHANGE.name, customer_id, payload, snapshot.observed_at)
                )
                self._targets.append((outcome, "event_id"))
            if outcome.churn is not None:
                self.messages.append(
                    EventMessage(
                        events.CHURN_RISK_DETECTED.name,
                        customer_id,
                        outcome.churn_payload or {},
                        snapshot.observed_at,
                    )
                )
                self._targets.append((outcome, "churn_event_id"))

    def write(self, *, customers: bool = True, published: Sequence[Event] | None = None) -> None:
        """Update the customers (unless the caller did), publish the events (unless the caller did:
        ``published`` are their events, in the order of ``messages``), then insert the snapshots."""
        if customers and self.customers:
            bulk_update_values(Customer, self.customers, self.fields)
        if published is None:
            published = publish_many(self.messages)
        for (outcome, attribute), event in zip(self._targets, published, strict=True):
            setattr(outcome, attribute, event.event_id)
            setattr(outcome.snapshot, attribute, event.event_id)
        bulk_insert(HealthSnapshot, [o.snapshot for o in self.outcomes if o.snapshot is not None])


def _decide_writes(
    outcomes: Sequence[HealthOutcome], states: dict[str, selectors.HealthState], now: datetime
) -> HealthWrites:
    """What ``_evaluate`` decided for many customers, churn alerts written into their outcomes, ready to
    write."""
    _write_churn_alerts(outcomes, states)
    return HealthWrites(outcomes, now)


def _finish(
    outcomes: Sequence[HealthOutcome], states: dict[str, selectors.HealthState], now: datetime
) -> None:
    """Write what ``_evaluate`` decided for many customers: a few queries whatever their number."""
    _decide_writes(outcomes, states, now).write()


def _compute_and_finish(
    customers: Sequence[Customer],
    states: dict[str, selectors.HealthState],
    *,
    specs: Sequence[scoring.ScorecardSpec],
    source: str,
    change_reason: str,
    observed_at: dict[str, datetime] | None,
    now: datetime,
) -> list[HealthOutcome]:
    outcomes = []
    engine_policy = policy()
    for customer in customers:
        state = states[customer.customer_id]
        scorecard = selectors.scorecard_for(customer, specs)
        computation = scoring.compute_health(scorecard, state.measure_values(customer))
        if computation is None:
            continue  # none of the scorecard's measures is known: the stored score stands
        outcomes.append(
            _evaluate(
                customer,
                state,
                score=computation.score,
                breakdown=computation.breakdown,
                scorecard=scorecard,
                source=source,
                observed_at=(observed_at or {}).get(customer.customer_id, now),
                now=now,
                change_reason=change_reason,
                health_policy=engine_policy,
            )
        )
    _finish(outcomes, states, now)
    return outcomes


def _locked_customers(customer_ids: Iterable[str]) -> dict[str, Customer]:
    return locked_by_key(Customer, customer_ids)


# --- A new customer, and scores set by hand ------------------------------------------------------------


def health_initial(*, customers: Sequence[Customer]) -> list[HealthSnapshot]:
    """Give new customers (in memory, not yet saved) the risk level of their score under their
    scorecard's bands and a stable trend; returns their first snapshots, to save once they are."""
    specs = selectors.scorecard_specs()
    now = timezone.now()
    snapshots = []
    for customer in customers:
        scorecard = selectors.scorecard_for(customer, specs)
        customer.risk_level = scoring.risk_level_for_score(customer.health_score, scorecard.bands)
        customer.health_trend = HealthTrend.STABLE
        snapshots.append(
            new_instance(
                HealthSnapshot,
                customer=customer,
                score=customer.health_score,
                health_trend=customer.health_trend,
                risk_level=customer.risk_level,
                source=HealthSource.INITIAL,
                scorecard_id=scorecard.scorecard_id,
                scorecard_name=scorecard.name,
                change_reason="customer_created",
                observed_at=now,
            )
        )
    return snapshots


def health_scores_decide(
    *,
    scores: Sequence[tuple[Customer, int]],
    change_reason: str = "manual_update",
    source: str = HealthSource.MANUAL,
) -> HealthWrites:
    """Decide the scores of customers (locked by the caller) as the customer API or the admin gives them:
    risk from the scorecard's bands, trend, churn rules, a snapshot and ``health_score_change`` for each
    score that moved. Nothing is written yet: the caller writes the ``HealthWrites`` (with its own rows of
    the same customers, as the bulk upsert does, or alone: ``health_scores_set``)."""
    now = timezone.now()
    if not scores:
        return HealthWrites([], now)
    customers = [customer for customer, _ in scores]
    # A score given, not computed from the measures: the signals are not read.
    states = selectors.health_states(customers=customers, since=_lookback_start(now), signals=False)
    specs = selectors.scorecard_specs()
    engine_policy = policy()
    outcomes = [
        _evaluate(
            customer,
            states[customer.customer_id],
            score=score,
            breakdown=[],
            scorecard=selectors.scorecard_for(customer, specs),
            source=source,
            observed_at=now,
            now=now,
            change_reason=change_reason,
            health_policy=engine_policy,
        )
        for customer, score in scores
        if score != customer.health_score
    ]
    return _decide_writes(outcomes, states, now)


def health_scores_set(
    *,
    scores: Sequence[tuple[Customer, int]],
    change_reason: str = "manual_update",
    source: str = HealthSource.MANUAL,
) -> list[HealthOutcome]:
    """``health_scores_decide`` and its writes: the customers' engine fields, the snapshots and events."""
    writes = health_scores_decide(scores=scores, change_reason=change_reason, source=source)
    writes.write()
    return list(writes.outcomes)


# --- Signals ---------------------------------------------------------------------------------------------


@dataclass
class SignalInput:
    customer_id: str
    signals: dict[str, float]
    observed_at: datetime | None = None


@dataclass
class SignalsOutcome:
    customer_id: str
    health: HealthOutcome | None
    #: signals older than the stored value of the same name, which were therefore not applied
    stale: list[str] = field(default_factory=list)


@transaction.atomic
def health_signals_record(*, items: Sequence[SignalInput]) -> dict[str, SignalsOutcome]:
    """Keep the latest value of each signal and recompute the health of each customer at once.

    Items of customers that do not exist are left out of the answer. An item older than the stored
    value of a signal does not overwrite it.
    """
    now = timezone.now()
    customers = _locked_customers(item.customer_id for item in items)
    ordered = [
        customers[cid] for cid in dict.fromkeys(item.customer_id for item in items) if cid in customers
    ]
    states = selectors.health_states(customers=ordered, since=_lookback_start(now))

    results = {customer.customer_id: SignalsOutcome(customer.customer_id, None) for customer in ordered}
    observed: dict[str, datetime] = {}
    new_rows: dict[tuple[str, str], CustomerSignal] = {}
    changed_rows: dict[int, CustomerSignal] = {}
    metric_changes: dict[str, set[str]] = {}
    for item in items:
        customer = customers.get(item.customer_id)
        if customer is None:
            continue
        state, moment = states[customer.customer_id], item.observed_at or now
        observed[customer.customer_id] = max(observed.get(customer.customer_id, moment), moment)
        for name, value in item.signals.items():
            row = state.signal_rows.get(name)
            if row is not None and row.observed_at > moment:
                results[customer.customer_id].stale.append(name)
                continue
            if row is None:
                row = CustomerSignal(customer=customer, name=name, value=value, observed_at=moment)
                state.signal_rows[name] = new_rows[(customer.customer_id, name)] = row
            else:
                row.value, row.observed_at, row.updated_at = value, moment, now
                if row.pk is not None:
                    changed_rows[row.pk] = row
            if name in SIGNAL_FIELDS:
                column = SIGNAL_FIELDS[name]
                setattr(customer, column, round(value) if column == "nps_score" else value)
                metric_changes.setdefault(customer.customer_id, set()).add(column)
    CustomerSignal.objects.bulk_create(new_rows.values(), batch_size=500)
    CustomerSignal.objects.bulk_update(
        changed_rows.values(), ["value", "observed_at", "updated_at"], batch_size=500
    )
    if metric_changes:
        for customer_id in metric_changes:
            customers[customer_id].updated_at = now
        Customer.objects.bulk_update(
            [customers[customer_id] for customer_id in metric_changes],
            [*sorted(set().union(*metric_changes.values())), "updated_at"],
            batch_size=500,
        )

    outcomes = _compute_and_finish(
        ordered,
        states,
        specs=selectors.scorecard_specs(),
        source=HealthSource.SIGNALS,
        change_reason="signals_updated",
        observed_at=observed,
        now=now,
    )
    for outcome in outcomes:
        results[outcome.customer.customer_id].health = outcome
    return results


# --- A change reported by another system ---------------------------------------------------------------


@dataclass
class HealthChangeResult:
    customer: Customer
    reported_previous_score: int
    #: the score the customer had before (the stored one)
    stored_previous_score: int
    snapshot: HealthSnapshot
    outcome: HealthOutcome | None
    #: False when the change is older than the customer's latest score (kept in the history only)
    applied: bool = True
    not_applied_reason: str | None = None

    @property
    def previous_score_matched(self) -> bool:
        return self.reported_previous_score == self.stored_previous_score


@transaction.atomic
def health_change_record(
    *,
    customer_id: str,
    previous_score: int,
    new_score: int,
    change_reason: str,
    trigger_events: Sequence[str] = (),
    recommended_actions: Sequence[str] = (),
    observed_at: datetime | None = None,
) -> HealthChangeResult:
    """Record a health change reported by another system: the score it gives becomes the customer's, with
    risk and trend recomputed, a snapshot kept and ``health_score_change`` published.

    A change observed before the customer's latest score is kept in the history at its time but
    changes nothing current and announces nothing (``applied`` is False).
    Raises ``Customer.DoesNotExist`` for an unknown customer.
    """
    now = timezone.now()
    customer = _locked_customers([customer_id]).get(customer_id)
    if customer is None:
        raise Customer.DoesNotExist(customer_id)
    moment = observed_at or now
    history = selectors.score_history(customer=customer, since=_lookback_start(now))
    state, latest_at = history.state, history.latest_at
    if latest_at is not None and moment < latest_at:
        return _record_late_change(
            customer,
            previous_score=previous_score,
            new_score=new_score,
            change_reason=change_reason,
            trigger_events=trigger_events,
            recommended_actions=recommended_actions,
            observed_at=moment,
        )
    states = {customer_id: state}
    specs = selectors.scorecard_specs(version=history.scorecards_version)
    scorecard = selectors.scorecard_for(customer, specs)
    stored = customer.health_score
    outcome = _evaluate(
        customer,
        states[customer_id],
        score=new_score,
        breakdown=[],
        scorecard=scorecard,
        source=HealthSource.HEALTH_CHANGE_EVENT,
        observed_at=moment,
        now=now,
        change_reason=change_reason,
        reported_triggers=trigger_events,
        suggested_actions=recommended_actions,
        always_record=True,
    )
    _finish([outcome], states, now)
    return HealthChangeResult(
        customer=customer,
        reported_previous_score=previous_score,
        stored_previous_score=stored,
        snapshot=outcome.snapshot,
        outcome=outcome,
    )


def _record_late_change(
    customer: Customer,
    *,
    previous_score: int,
    new_score: int,
    change_reason: str,
    trigger_events: Sequence[str],
    recommended_actions: Sequence[str],
    observed_at: datetime,
) -> HealthChangeResult:
    before = selectors.snapshot_before(customer=customer, moment=observed_at)
    scorecard = selectors.scorecard_for(customer, selectors.scorecard_specs())
    snapshot = HealthSnapshot.objects.create(
        customer=customer,
        score=new_score,
        previous_score=before.score if before is not None else None,
        health_trend=before.health_trend if before is not None else customer.health_trend,
        risk_level=scoring.risk_level_for_score(new_score, scorecard.bands),
        source=HealthSource.HEALTH_CHANGE_EVENT,
        scorecard_id=scorecard.scorecard_id,
        scorecard_name=scorecard.name,
        change_reason=change_reason,
        trigger_events=list(trigger_events),
        recommended_actions=list(recommended_actions),
        observed_at=observed_at,
        applied=False,
    )
    return HealthChangeResult(
        customer=customer,
        reported_previous_score=previous_score,
        stored_previous_score=customer.health_score,
        snapshot=snapshot,
        outcome=None,
        applied=False,
        not_applied_reason=OLDER_THAN_LATEST,
    )


# --- The scheduled recompute -----------------------------------------------------------------------------


@dataclass
class RecomputeStats:
    customers: int = 0
    scored: int = 0
    changed: int = 0
    snapshots: int = 0
    events: int = 0
    chunks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, other: RecomputeStats) -> None:
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


def health_recompute_customers(
    *,
    customers: Sequence[Customer],
    specs: Sequence[scoring.ScorecardSpec] | None = None,
    key_range: tuple[str, str] | None = None,
) -> list[HealthOutcome]:
    """Recompute the health of ``customers`` (already locked or fresh) from their signals; ``key_range``
    when they are every customer between two ids (see ``selectors.health_states``)."""
    now = timezone.now()
    states = selectors.health_states(
        customers=customers, since=_lookback_start(now), key_range=key_range, rows=False
    )
    return _compute_and_finish(
        customers,
        states,
        specs=specs if specs is not None else selectors.scorecard_specs(),
        source=HealthSource.RECOMPUTE,
        change_reason="scheduled_recompute",
        observed_at=None,
        now=now,
    )


#: a range of customer ids, from (inclusive) and to (exclusive); None where it is open
KeyRange = tuple[str | None, str | None]


def _chunk_ranges(size: int) -> list[KeyRange]:
    """Key ranges of ``size`` customers each, in key order, from one scan of the primary key; the first and
    the last are open, so a customer added during the run is in one of them."""
    quote = connection.ops.quote_name
    table, key = quote(Customer._meta.db_table), quote(Customer._meta.pk.column)
    # Only quoted model names are interpolated; the size is a parameter.
    sql = (
        f"SELECT k.{key} FROM (SELECT {key}, row_number() OVER (ORDER BY {key}) AS n FROM {table}) k "  # noqa: S608
        f"WHERE (k.n - 1) %% %s = 0 ORDER BY k.{key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [size])
        starts = [row[0] for row in cursor.fetchall()]
    if not starts:
        return []
    bounds: list[str | None] = [None, *starts[1:], None]
    return list(itertools.pairwise(bounds))


def _recompute_range(key_range: KeyRange, specs: Sequence[scoring.ScorecardSpec]) -> RecomputeStats:
    """One chunk, in one transaction: its customers locked in key order, recomputed, written."""
    low, high = key_range
    stats = RecomputeStats()
    with transaction.atomic():
        chunk_query = Customer.objects.select_for_update().order_by("pk").only(*selectors.ENGINE_FIELDS)
        if low is not None:
            chunk_query = chunk_query.filter(pk__gte=low)
        if high is not None:
            chunk_query = chunk_query.filter(pk__lt=high)
        chunk = list(chunk_query)
        if not chunk:
            return stats
        outcomes = health_recompute_customers(
            customers=chunk, specs=specs, key_range=(chunk[0].pk, chunk[-1].pk)
        )
    stats.chunks = 1
    stats.customers = len(chunk)
    stats.scored = len(outcomes)
    stats.changed = sum(1 for outcome in outcomes if outcome.score_changed)
    stats.snapshots = sum(1 for outcome in outcomes if outcome.snapshot is not None)
    stats.events = sum(bool(outcome.event_id) + bool(outcome.churn_event_id) for outcome in outcomes)
    return stats


def health_recompute_all(*, chunk_size: int | None = None, workers: int | None = None) -> RecomputeStats:
    """Recompute every customer, a chunk at a time (one transaction per chunk, rows locked by key order).

    Each chunk costs a fixed number of queries: the customers, their signals, their recent scores and
    latest breakdowns, then bulk writes. ``health_score_change`` is published only where the score moved.

    On PostgreSQL, outside a transaction (the nightly task), ``workers`` threads
    (``HEALTH_RECOMPUTE_WORKERS``) take the chunks in turn, each on its own connection: the chunks are
    disjoint key ranges, so they never wait on each other's locks, and while one thread waits on the
    database another computes. Inside a transaction the chunks run one after the other in it (another
    connection would not see what the transaction wrote).
    """
    size = chunk_size or conf.HEALTH_RECOMPUTE_CHUNK_SIZE
    workers = workers or conf.HEALTH_RECOMPUTE_WORKERS
    specs = selectors.scorecard_specs()
    ranges = _chunk_ranges(size)
    stats = RecomputeStats()
    if workers <= 1 or len(ranges) <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for key_range in ranges:
            stats.add(_recompute_range(key_range, specs))
        return stats

    pending: queue.SimpleQueue[KeyRange] = queue.SimpleQueue()
    for key_range in ranges:
        pending.put(key_range)
    lock = threading.Lock()
    failures: list[BaseException] = []
    stop = threading.Event()  # a chunk failed, or the calling thread was interrupted (a time limit)

    def work() -> None:
        try:
            while not stop.is_set():
                try:
                    key_range = pending.get_nowait()
                except queue.Empty:
                    return
                chunk_stats = _recompute_range(key_range, specs)
                with lock:
                    stats.add(chunk_stats)
        except BaseException as exc:  # re-raised in the calling thread; the other threads stop
            failures.append(exc)
            stop.set()
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=work, name=f"health-recompute-{index}", daemon=True)
        for index in range(min(workers, len(ranges)))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()  # each thread ends after its chunk in hand, were the caller interrupted while waiting
    if failures:
        raise failures[0]
    return stats
