"""Every write to customers and their health. Keyword-only, typed; each owns its transaction and publishes
its events in it (the outbox), so a rolled-back change never reaches a subscriber."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import scoring, selectors
from .models import Customer, CustomerSignal, HealthSnapshot, HealthSource, Measure, new_customer_id
from .publishing import Message, publish_all
from .scoring import risk_level_for_score

# Fields a caller may set; everything else (timestamps, id after creation) belongs to the platform.
WRITABLE_FIELDS = (
    "name",
    "segment",
    "arr",
    "success_manager",
    "health_score",
    "health_trend",
    "risk_level",
    "lifecycle_stage",
    "adoption_rate",
    "engagement_score",
    "nps_score",
    "marketing_status",
    "sales_status",
    "product_status",
    "finance_status",
    "operations_status",
)

# Signals that are also success metrics of the customer record: the record shows the latest value.
SIGNAL_FIELDS = {
    Measure.ADOPTION_RATE: "adoption_rate",
    Measure.ENGAGEMENT: "engagement_score",
    Measure.NPS: "nps_score",
}

CUSTOMER_CREATED, CUSTOMER_UPDATED, CUSTOMER_DELETED = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
)
HEALTH_SCORE_CHANGE, CHURN_RISK_DETECTED = "health_score_change", "churn_risk_detected"


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def customer_payload(customer: Customer) -> dict[str, Any]:
    """The customer as events carry it: its writable fields, JSON-ready."""
    return {name: _json_value(getattr(customer, name)) for name in WRITABLE_FIELDS}


def _apply(customer: Customer, data: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Set ``data`` on ``customer``; returns ``{field: (before, after)}`` for what changed."""
    changed: dict[str, tuple[Any, Any]] = {}
    for name in WRITABLE_FIELDS:
        if name in data and getattr(customer, name) != data[name]:
            changed[name] = (getattr(customer, name), data[name])
            setattr(customer, name, data[name])
    # A score given without a risk level puts the customer in the band of that score.
    if "health_score" in data and "risk_level" not in data:
        risk = risk_level_for_score(customer.health_score)
        if risk != customer.risk_level:
            changed["risk_level"] = (customer.risk_level, risk)
            customer.risk_level = risk
    return changed


def _update_message(customer: Customer, changed: dict[str, tuple[Any, Any]]) -> Message:
    return (
        CUSTOMER_UPDATED,
        customer.customer_id,
        {
            "changed_fields": sorted(changed),
            "changes": {
                name: {"previous": _json_value(before), "current": _json_value(after)}
                for name, (before, after) in sorted(changed.items())
            },
        },
        None,
    )


def _manual_snapshot(customer: Customer, *, source: str, previous_score: int | None) -> HealthSnapshot:
    return HealthSnapshot(
        customer=customer,
        score=customer.health_score,
        previous_score=previous_score,
        health_trend=customer.health_trend,
        risk_level=customer.risk_level,
        source=source,
        observed_at=timezone.now(),
    )


@transaction.atomic
def customer_create(*, data: dict[str, Any], customer_id: str | None = None) -> Customer:
    customer = Customer(customer_id=customer_id or new_customer_id())
    _apply(customer, data)
    customer.save(force_insert=True)
    _manual_snapshot(customer, source=HealthSource.INITIAL, previous_score=None).save()
    publish_all([(CUSTOMER_CREATED, customer.customer_id, customer_payload(customer), None)])
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    previous_score = customer.health_score
    changed = _apply(customer, data)
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
        if "health_score" in changed:
            _manual_snapshot(customer, source=HealthSource.MANUAL, previous_score=previous_score).save()
        publish_all([_update_message(customer, changed)])
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    customer_id, name = customer.customer_id, customer.name
    customer.delete()
    publish_all([(CUSTOMER_DELETED, customer_id, {"name": name}, None)])


@dataclass
class BulkRecordResult:
    index: int
    status: str  # created | updated | error
    customer_id: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "customer_id": self.customer_id, "status": self.status}
        if self.errors:
            result["errors"] = self.errors
        return result


@transaction.atomic
def customer_bulk_upsert(
    *, creates: Iterable[tuple[str, dict[str, Any]]], updates: Iterable[tuple[Customer, dict[str, Any]]]
) -> tuple[list[Customer], list[Customer]]:
    """Insert and update validated records in a constant number of queries per batch, with one event each."""
    now = timezone.now()
    new_customers = []
    for customer_id, data in creates:
        customer = Customer(customer_id=customer_id)
        _apply(customer, data)
        new_customers.append(customer)
    Customer.objects.bulk_create(new_customers, batch_size=500)
    snapshots = [_manual_snapshot(c, source=HealthSource.INITIAL, previous_score=None) for c in new_customers]
    messages: list[Message] = [
        (CUSTOMER_CREATED, c.customer_id, customer_payload(c), None) for c in new_customers
    ]

    changed_customers, changed_fields = [], set()
    for customer, data in updates:
        previous_score = customer.health_score
        changed = _apply(customer, data)
        if changed:
            customer.updated_at = now
            changed_customers.append(customer)
            changed_fields.update(changed)
            messages.append(_update_message(customer, changed))
            if "health_score" in changed:
                snapshots.append(
                    _manual_snapshot(customer, source=HealthSource.MANUAL, previous_score=previous_score)
                )
    if changed_customers:
        Customer.objects.bulk_update(
            changed_customers, [*sorted(changed_fields), "updated_at"], batch_size=500
        )
    HealthSnapshot.objects.bulk_create(snapshots, batch_size=500)
    publish_all(messages)
    return new_customers, changed_customers


# --- The health engine ---------------------------------------------------------------------------------


def _lookback_start(now: datetime) -> datetime:
    days = max(settings.HEALTH_TREND_WINDOW_DAYS, settings.CHURN_DROP_WINDOW_DAYS)
    return now - timedelta(days=days)


@dataclass
class HealthOutcome:
    """What one run of the engine did to one customer."""

    customer: Customer
    previous_score: int
    score: int
    health_trend: str
    risk_level: str
    scorecard: scoring.ScorecardSpec
    previous_risk_level: str = ""
    snapshot: HealthSnapshot | None = None
    event_id: str | None = None
    churn_event_id: str | None = None
    #: set when churn risk was detected: (assessment, measures that fell most)
    churn: scoring.ChurnAssessment | None = None
    churn_payload: dict[str, Any] | None = None
    publish_change: bool = False
    changed_fields: set[str] = field(default_factory=set)

    @property
    def score_changed(self) -> bool:
        return self.score != self.previous_score


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
) -> HealthOutcome:
    """Apply a new score to ``customer`` (in memory): risk, trend, churn rules and the snapshot to keep."""
    previous_score, previous_risk, previous_trend = (
        customer.health_score,
        customer.risk_level,
        customer.health_trend,
    )
    risk = scoring.risk_level_for_score(score, scorecard.bands)
    reference_now = max(now, observed_at)
    trend = scoring.health_trend(
        [(moment, value) for moment, value, _ in state.points] + [(observed_at, score)],
        now=reference_now,
        window_days=settings.HEALTH_TREND_WINDOW_DAYS,
        threshold_points=settings.HEALTH_TREND_THRESHOLD_POINTS,
    )
    churn = scoring.assess_churn_risk(
        previous_risk=previous_risk,
        new_risk=risk,
        new_score=score,
        history=state.points,
        now=reference_now,
        window_days=settings.CHURN_DROP_WINDOW_DAYS,
        drop_points=settings.CHURN_DROP_POINTS,
        alerted_at=customer.churn_risk_alerted_at,
    )
    outcome = HealthOutcome(
        customer=customer,
        previous_score=previous_score,
        score=score,
        health_trend=trend,
        risk_level=risk,
        scorecard=scorecard,
        previous_risk_level=previous_risk,
        churn=churn,
    )
    for name, before, after in (
        ("health_score", previous_score, score),
        ("health_trend", previous_trend, trend),
        ("risk_level", previous_risk, risk),
    ):
        if before != after:
            setattr(customer, name, after)
            outcome.changed_fields.add(name)
    if churn is not None:
        customer.churn_risk_alerted_at = observed_at
        outcome.changed_fields.add("churn_risk_alerted_at")

    computed = source in selectors.COMPUTED_SOURCES
    record = (
        always_record
        or outcome.score_changed
        or risk != previous_risk
        or churn is not None
        or (computed and scoring.breakdown_differs(state.latest_breakdown, breakdown))
    )
    if not record:
        return outcome
    changes = scoring.breakdown_changes(state.latest_breakdown, breakdown) if computed else []
    directions = {entry["measure"]: entry["direction"] for entry in breakdown}
    triggers = list(reported_triggers) or scoring.change_triggers(changes, directions)
    outcome.publish_change = always_record or outcome.score_changed
    outcome.snapshot = HealthSnapshot(
        customer=customer,
        score=score,
        previous_score=previous_score,
        health_trend=trend,
        risk_level=risk,
        source=source,
        scorecard_id=scorecard.scorecard_id,
        scorecard_name=scorecard.name,
        breakdown=list(breakdown) if computed else [],
        changes=changes,
        change_reason=change_reason,
        trigger_events=triggers,
        recommended_actions=list(suggested_actions),
        observed_at=observed_at,
    )
    if churn is not None:
        outcome.churn_payload = {
            "reported_triggers": list(reported_triggers),
            "suggested": list(suggested_actions),
        }
    return outcome


def _bulk_update(customers: Sequence[Customer], fields: Sequence[str], batch_size: int = 1000) -> None:
    """``bulk_update`` for many rows. On PostgreSQL one ``UPDATE … FROM (VALUES …)`` per batch, which
    costs a fraction of the ``CASE WHEN`` statement Django builds (and of its time to build it)."""
    if connection.vendor != "postgresql":
        Customer.objects.bulk_update(customers, fields, batch_size=batch_size)
        return
    meta = Customer._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    table = connection.ops.quote_name(meta.db_table)
    casts = ", ".join(f"CAST(%s AS {column.db_type(connection)})" for column in [pk, *columns])
    assignments = ", ".join(
        f"{connection.ops.quote_name(column.column)} = v.{connection.ops.quote_name(column.column)}"
        for column in columns
    )
    names = ", ".join(connection.ops.quote_name(column.column) for column in [pk, *columns])
    with connection.cursor() as cursor:
        for start in range(0, len(customers), batch_size):
            batch = customers[start : start + batch_size]
            params = [
                column.get_db_prep_save(getattr(customer, column.attname), connection)
                for customer in batch
                for column in [pk, *columns]
            ]
            rows = ", ".join(f"({casts})" for _ in batch)
            key = connection.ops.quote_name(pk.column)
            # Only quoted model names and placeholders are interpolated; every value is a parameter.
            sql = " ".join(
                (
                    f"UPDATE {table} SET {assignments}",  # noqa: S608 (quoted names only)
                    f"FROM (VALUES {rows}) AS v({names})",
                    f"WHERE {table}.{key} = v.{key}",
                )
            )
            cursor.execute(sql, params)


def _finish(
    outcomes: Sequence[HealthOutcome], states: dict[str, selectors.HealthState], now: datetime
) -> None:
    """Write what ``_evaluate`` decided for many customers: a few queries whatever their number."""
    # Churn: name the measures that fell most since the peak the drop is measured from (else since the
    # previous score), or the weakest when none fell, and the actions for them.
    peaks = selectors.snapshot_breakdowns(
        snapshot_ids=[
            o.churn.peak_reference for o in outcomes if o.churn is not None and o.churn.peak_reference
        ]
    )
    for outcome in outcomes:
        if outcome.churn is None or outcome.snapshot is None:
            continue
        state = states[outcome.customer.customer_id]
        current = outcome.snapshot.breakdown
        reference = peaks.get(outcome.churn.peak_reference) or state.latest_breakdown
        fell = scoring.falling_measures(reference, current)
        weak = [] if fell else scoring.weakest_measures(current)
        directions = {entry["measure"]: entry["direction"] for entry in current}
        extra = outcome.churn_payload or {}
        indicators = scoring.churn_indicators(
            outcome.churn, fell, directions, extra.get("reported_triggers", ()), weak
        )
        actions = scoring.churn_actions(outcome.risk_level, fell or weak, extra.get("suggested", ()))
        outcome.churn_payload = {
            "risk_level": outcome.risk_level,
            "risk_indicators": indicators,
            "recommended_actions": actions,
        }
        if not outcome.snapshot.recommended_actions:
            outcome.snapshot.recommended_actions = actions

    dirty = [o for o in outcomes if o.changed_fields]
    if dirty:
        fields = sorted(set().union(*(o.changed_fields for o in dirty)))
        for outcome in dirty:
            outcome.customer.updated_at = now
        _bulk_update([o.customer for o in dirty], [*fields, "updated_at"])

    messages: list[Message] = []
    targets: list[tuple[HealthOutcome, str]] = []
    for outcome in outcomes:
        snapshot = outcome.snapshot
        if snapshot is None:
            continue
        if outcome.publish_change:
            payload = {
                "previous_score": outcome.previous_score,
                "new_score": outcome.score,
                "change_reason": snapshot.change_reason,
                "trigger_events": snapshot.trigger_events,
            }
            messages.append(
                (HEALTH_SCORE_CHANGE, outcome.customer.customer_id, payload, snapshot.observed_at)
            )
            targets.append((outcome, "event_id"))
        if outcome.churn is not None:
            messages.append(
                (
                    CHURN_RISK_DETECTED,
                    outcome.customer.customer_id,
                    outcome.churn_payload,
                    snapshot.observed_at,
                )
            )
            targets.append((outcome, "churn_event_id"))
    for (outcome, attribute), event_id in zip(targets, publish_all(messages), strict=True):
        setattr(outcome, attribute, event_id)
        setattr(outcome.snapshot, attribute, event_id)
    HealthSnapshot.objects.bulk_create(
        [o.snapshot for o in outcomes if o.snapshot is not None], batch_size=500
    )


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
            )
        )
    _finish(outcomes, states, now)
    return outcomes


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


def _locked_customers(customer_ids: Iterable[str]) -> dict[str, Customer]:
    # Ordered by key so concurrent batches lock rows in the same order and cannot deadlock.
    customers = Customer.objects.select_for_update().filter(customer_id__in=set(customer_ids)).order_by("pk")
    return {customer.customer_id: customer for customer in customers}


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


@dataclass
class HealthChangeResult:
    customer: Customer
    outcome: HealthOutcome
    reported_previous_score: int

    @property
    def previous_score_matched(self) -> bool:
        return self.reported_previous_score == self.outcome.previous_score


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

    Raises ``Customer.DoesNotExist`` for an unknown customer.
    """
    now = timezone.now()
    customer = _locked_customers([customer_id]).get(customer_id)
    if customer is None:
        raise Customer.DoesNotExist(customer_id)
    states = selectors.health_states(customers=[customer], since=_lookback_start(now))
    scorecard = selectors.scorecard_for(customer, selectors.scorecard_specs())
    outcome = _evaluate(
        customer,
        states[customer_id],
        score=new_score,
        breakdown=[],
        scorecard=scorecard,
        source=HealthSource.HEALTH_CHANGE_EVENT,
        observed_at=observed_at or now,
        now=now,
        change_reason=change_reason,
        reported_triggers=trigger_events,
        suggested_actions=recommended_actions,
        always_record=True,
    )
    _finish([outcome], states, now)
    return HealthChangeResult(customer=customer, outcome=outcome, reported_previous_score=previous_score)


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


def health_recompute_customers(
    *, customers: Sequence[Customer], specs: Sequence[scoring.ScorecardSpec] | None = None
) -> list[HealthOutcome]:
    """Recompute the health of ``customers`` (already locked or fresh) from their signals."""
    now = timezone.now()
    states = selectors.health_states(customers=customers, since=_lookback_start(now))
    return _compute_and_finish(
        customers,
        states,
        specs=specs if specs is not None else selectors.scorecard_specs(),
        source=HealthSource.RECOMPUTE,
        change_reason="scheduled_recompute",
        observed_at=None,
        now=now,
    )


def health_recompute_all(*, chunk_size: int | None = None) -> RecomputeStats:
    """Recompute every customer, a chunk at a time (one transaction per chunk, rows locked by key order).

    Each chunk costs a fixed number of queries: the customers, their signals, their recent scores and
    latest breakdowns, then bulk writes. ``health_score_change`` is published only where the score moved.
    """
    size = chunk_size or settings.HEALTH_RECOMPUTE_CHUNK_SIZE
    specs = selectors.scorecard_specs()
    stats, last_key = RecomputeStats(), ""
    while True:
        with transaction.atomic():
            chunk = list(Customer.objects.select_for_update().filter(pk__gt=last_key).order_by("pk")[:size])
            if not chunk:
                break
            outcomes = health_recompute_customers(customers=chunk, specs=specs)
        last_key = chunk[-1].pk
        stats.chunks += 1
        stats.customers += len(chunk)
        stats.scored += len(outcomes)
        stats.changed += sum(1 for outcome in outcomes if outcome.score_changed)
        stats.snapshots += sum(1 for outcome in outcomes if outcome.snapshot is not None)
        stats.events += sum(bool(outcome.event_id) + bool(outcome.churn_event_id) for outcome in outcomes)
    return stats
