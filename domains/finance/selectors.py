"""Reads of the finance domain that the API, the admin, the customer panel and the services share:
ARR in force, overdue payments, renewal outcomes and the features of the renewal model, retention
movements, renewal values of a period, and each customer's value realisation."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DateField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from csintegration.events.models import Event
from domains.customers.events import CHURN_RISK_DETECTED
from domains.customers.models import Customer, HealthSnapshot, Measure

from .conf import conf
from .models import Contract, Forecast, Payment, PaymentStanding, RenewalModelFit, ValueReport
from .periods import Period
from .realization import Alert, ScorePoint
from .renewal_model import RenewalFeatures, late_payment_share
from .retention import Movements
from .terms import CENT

ZERO = Decimal("0")
#: ids per ``IN (…)`` list: well under every backend's limit on query parameters
ID_CHUNK = 1000


def today() -> date:
    return timezone.localdate()


def _chunks(items: Sequence, size: int = ID_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _money(value) -> Decimal:
    return (value or ZERO).quantize(CENT)


def _money_field() -> DecimalField:
    return DecimalField(max_digits=18, decimal_places=2)


def _grace(days: int) -> timedelta:
    return timedelta(days=days)


# --- Lists and single rows -------------------------------------------------------------------------------


def contract_list() -> QuerySet[Contract]:
    return Contract.objects.all()


def contract_get(*, contract_id: str) -> Contract:
    return get_object_or_404(Contract, contract_id=contract_id)


def payment_list() -> QuerySet[Payment]:
    return Payment.objects.all()


def payment_get(*, payment_id: str) -> Payment:
    return get_object_or_404(Payment, payment_id=payment_id)


def value_report_list() -> QuerySet[ValueReport]:
    return ValueReport.objects.all()


def value_report_get(*, value_report_id: str) -> ValueReport:
    return get_object_or_404(ValueReport, value_report_id=value_report_id)


def customer_get(*, customer_id: str) -> Customer:
    return get_object_or_404(Customer, customer_id=customer_id)


def existing_customer_ids(*, customer_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(customer_ids))):
        found.update(Customer.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    return found


# --- Contracts in force -------------------------------------------------------------------------------


def in_force_on(day: date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}start_date__lte": day, f"{prefix}end_date__gte": day})


# --- Payments and the overdue state ----------------------------------------------------------------------


def overdue_payment_q(*, as_of: date | None = None) -> Q:
    """Unpaid and more than the grace days past the due date."""
    as_of = as_of or today()
    return Q(paid_date__isnull=True, due_date__lt=as_of - _grace(conf.FINANCE_OVERDUE_GRACE_DAYS))


def payment_status_q(status: str, *, as_of: date | None = None) -> Q:
    overdue = overdue_payment_q(as_of=as_of)
    if status == "paid":
        return Q(paid_date__isnull=False)
    if status == "overdue":
        return overdue
    return Q(paid_date__isnull=True) & ~overdue


@dataclass(frozen=True)
class OverdueSummary:
    #: the oldest overdue payment
    payment: Payment
    count: int
    amount: Decimal


def overdue_summaries(*, customer_ids: Sequence[str], as_of: date | None = None) -> dict[str, OverdueSummary]:
    """For each of ``customer_ids`` that has an overdue payment: the oldest one, how many, how much."""
    summaries: dict[str, OverdueSummary] = {}
    rows: dict[str, list[Payment]] = {}
    for chunk in _chunks(list(customer_ids)):
        for payment in Payment.objects.filter(overdue_payment_q(as_of=as_of), customer_id__in=chunk).order_by(
            "customer_id", "due_date", "payment_id"
        ):
            rows.setdefault(payment.customer_id, []).append(payment)
    for customer_id, payments in rows.items():
        summaries[customer_id] = OverdueSummary(
            payment=payments[0], count=len(payments), amount=sum((p.amount for p in payments), ZERO)
        )
    return summaries


def standing_mismatches(*, as_of: date | None = None) -> Iterator[str]:
    """Customers whose stored standing disagrees with their payments: overdue payments but not marked
    overdue, or marked overdue without one. Two indexed queries; ids streamed in key order."""
    overdue_now = (
        Payment.objects.filter(overdue_payment_q(as_of=as_of))
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by("customer_id")
    )
    marked = set(
        PaymentStanding.objects.filter(is_overdue=True).values_list("customer_id", flat=True).iterator()
    )
    seen: set[str] = set()
    for customer_id in overdue_now.iterator():
        seen.add(customer_id)
        if customer_id not in marked:
            yield customer_id
    yield from sorted(marked - seen)


# --- Renewal outcomes and the renewal model's features ----------------------------------------------------


def _successor_exists() -> Exists:
    """Another contract of the customer runs past this one's end and starts at most the renewal grace
    after it (an early renewal, a renewal, or a longer contract already in force)."""
    latest_start = ExpressionWrapper(
        OuterRef("end_date") + _grace(conf.FINANCE_RENEWAL_GRACE_DAYS), output_field=DateField()
    )
    return Exists(
        Contract.objects.filter(
            customer_id=OuterRef("customer_id"),
            end_date__gt=OuterRef("end_date"),
            start_date__lte=latest_start,
        )
    )


def renewal_outcomes(*, as_of: date | None = None) -> QuerySet[Contract]:
    """Contracts with a known renewal outcome, annotated ``renewed``: those that ended and were followed
    by another (renewed), and those that ended more than the renewal grace ago without one (churned). A
    contract that ended within the grace and has no successor yet is still pending."""
    as_of = as_of or today()
    churn_known_before = as_of - _grace(conf.FINANCE_RENEWAL_GRACE_DAYS)
    return (
        Contract.objects.filter(end_date__lt=as_of)
        .annotate(renewed=_successor_exists())
        .filter(Q(renewed=True) | Q(end_date__lt=churn_known_before))
    )


def renewal_outcome_count(*, as_of: date | None = None) -> int:
    return renewal_outcomes(as_of=as_of).count()


@dataclass(frozen=True)
class TrainingRow:
    contract_id: str
    customer_id: str
    end_date: date
    renewed: bool
    features: RenewalFeatures


def _adoption_in(breakdown) -> float | None:
    for entry in breakdown or ():
        if entry.get("measure") == Measure.ADOPTION_RATE and entry.get("raw_value") is not None:
            return float(entry["raw_value"])
    return None


def renewal_training_rows(*, as_of: date | None = None, limit: int | None = None) -> list[TrainingRow]:
    """The most recent renewal outcomes with the features the customer had when its contract ended:
    the health score and trend of its latest score on or before that day (with the adoption rate of
    that score's breakdown), and the share of its payments due in the look-back before it that were
    paid late. A customer with no score that old is described by its current record. Five queries
    plus one per thousand customers for scores and payments."""
    as_of = as_of or today()
    limit = limit or conf.FINANCE_RENEWAL_MAX_OUTCOMES
    snapshot_then = (
        HealthSnapshot.objects.filter(
            customer_id=OuterRef("customer_id"), applied=True, observed_at__date__lte=OuterRef("end_date")
        )
        .order_by("-observed_at", "-id")
        .values("id")[:1]
    )
    outcomes = list(
        renewal_outcomes(as_of=as_of)
        .annotate(snapshot_id=Subquery(snapshot_then))
        .order_by("-end_date", "-contract_id")
        .values_list("contract_id", "customer_id", "end_date", "renewed", "snapshot_id")[:limit]
    )
    if not outcomes:
        return []
    snapshot_ids = [row[4] for row in outcomes if row[4] is not None]
    snapshots: dict[int, tuple[int, str, float | None]] = {}
    for chunk in _chunks(snapshot_ids):
        for snapshot_id, score, trend, breakdown in HealthSnapshot.objects.filter(id__in=chunk).values_list(
            "id", "score", "health_trend", "breakdown"
        ):
            snapshots[snapshot_id] = (score, trend, _adoption_in(breakdown))
    customer_ids = sorted({row[1] for row in outcomes})
    current: dict[str, tuple[int, str, float | None]] = {}
    payments: dict[str, list[tuple[date, date | None]]] = {}
    earliest_due = min(row[2] for row in outcomes) - timedelta(days=conf.FINANCE_PAYMENT_HISTORY_DAYS)
    for chunk in _chunks(customer_ids):
        for customer_id, score, trend, adoption in Customer.objects.filter(pk__in=chunk).values_list(
            "customer_id", "health_score", "health_trend", "adoption_rate"
        ):
            current[customer_id] = (score, trend, adoption)
        for customer_id, due_date, paid_date in Payment.objects.filter(
            customer_id__in=chunk, due_date__gte=earliest_due
        ).values_list("customer_id", "due_date", "paid_date"):
            payments.setdefault(customer_id, []).append((due_date, paid_date))
    rows = []
    for contract_id, customer_id, end_date, renewed, snapshot_id in outcomes:
        score, trend, adoption = snapshots.get(snapshot_id) or current[customer_id]
        if adoption is None:
            adoption = current[customer_id][2]
        late = late_payment_share(
            payments.get(customer_id, ()),
            as_of=end_date,
            history_days=conf.FINANCE_PAYMENT_HISTORY_DAYS,
            grace_days=conf.FINANCE_OVERDUE_GRACE_DAYS,
        )
        rows.append(
            TrainingRow(
                contract_id,
                customer_id,
                end_date,
                bool(renewed),
                RenewalFeatures(score, trend, adoption, late),
            )
        )
    return rows


def late_payment_shares(
    *, customers: QuerySet | Sequence[str], as_of: date | None = None
) -> dict[str, float]:
    """The payment-history feature of many customers in one grouped query (the same definition as
    ``renewal_model.late_payment_share``): due within the look-back and past the grace by ``as_of``."""
    as_of = as_of or today()
    grace = _grace(conf.FINANCE_OVERDUE_GRACE_DAYS)
    paid_in_time_by = ExpressionWrapper(F("due_date") + grace, output_field=DateField())
    rows = (
        Payment.objects.filter(
            customer_id__in=customers,
            due_date__gte=as_of - timedelta(days=conf.FINANCE_PAYMENT_HISTORY_DAYS),
            due_date__lt=as_of - grace,
        )
        .annotate(paid_in_time_by=paid_in_time_by)
        .values("customer_id")
        .annotate(
            considered=Count("pk"),
            late=Count("pk", filter=Q(paid_date__isnull=True) | Q(paid_date__gt=F("paid_in_time_by"))),
        )
        .values_list("customer_id", "considered", "late")
    )
    return {customer_id: late / considered for customer_id, considered, late in rows.iterator() if considered}


def current_renewal_features(*, customers: QuerySet | Sequence[str]) -> dict[str, RenewalFeatures]:
    """Today's features of each customer: its health score, trend and adoption rate as stored, and its
    payment history. Two queries, whatever the number of customers."""
    late = late_payment_shares(customers=customers)
    return {
        customer_id: RenewalFeatures(score, trend, adoption, late.get(customer_id, 0.0))
        for customer_id, score, trend, adoption in Customer.objects.filter(pk__in=customers)
        .values_list("customer_id", "health_score", "health_trend", "adoption_rate")
        .iterator()
    }


def renewal_model_latest() -> RenewalModelFit | None:
    return RenewalModelFit.objects.order_by("-fitted_at", "-id").first()


# --- Retention --------------------------------------------------------------------------------------------


def retention_movements(*, start: date, end: date) -> Movements:
    """Each customer's ARR in force on ``start`` and on ``end``, classified (retention.py), summed in
    the database: one query, whatever the number of customers."""
    zero = Value(ZERO, output_field=_money_field())
    per_customer = (
        Contract.objects.filter(start_date__lte=end)
        .values("customer_id")
        .annotate(
            s=Coalesce(Sum("arr", filter=in_force_on(start)), zero),
            e=Coalesce(Sum("arr", filter=in_force_on(end)), zero),
            before=Count("pk", filter=Q(start_date__lt=start)),
        )
    )
    had, kept = Q(s__gt=0), Q(e__gt=0)
    came_back = ~had & kept & Q(before__gt=0)
    totals = per_customer.aggregate(
        starting_arr=Sum("s"),
        ending_arr=Sum("e"),
        churned_arr=Sum("s", filter=had & ~kept),
        contraction_arr=Sum(F("s") - F("e"), filter=had & kept & Q(e__lt=F("s"))),
        expansion_arr=Sum(F("e") - F("s"), filter=had & Q(e__gt=F("s"))),
        reactivation_arr=Sum("e", filter=came_back),
        new_arr=Sum("e", filter=~had & kept & Q(before=0)),
        starting_customers=Count("customer_id", filter=had),
        retained_customers=Count("customer_id", filter=had & kept),
        churned_customers=Count("customer_id", filter=had & ~kept),
        reactivated_customers=Count("customer_id", filter=came_back),
        new_customers=Count("customer_id", filter=~had & kept & Q(before=0)),
    )
    money = {name: _money(value) for name, value in totals.items() if name.endswith("_arr")}
    counts = {name: value or 0 for name, value in totals.items() if name.endswith("_customers")}
    return Movements(**money, **counts)


def retention_end(period: Period, *, as_of: date | None = None) -> date:
    """The day a period's retention is measured at: its last day, or today while it is under way."""
    return min(period.end, as_of or today())


# --- Renewals of a period ---------------------------------------------------------------------------------


def ending_in(period: Period) -> Q:
    return Q(end_date__gte=period.start, end_date__lte=period.end)


def renewal_values(*, customer_ids: Sequence[str], period: Period) -> dict[str, Decimal]:
    """The contracted value of each customer's contracts that end within the period."""
    values: dict[str, Decimal] = {}
    for chunk in _chunks(list(customer_ids)):
        rows = (
            Contract.objects.filter(ending_in(period), customer_id__in=chunk)
            .values("customer_id")
            .annotate(value=Sum("contracted_value"))
            .values_list("customer_id", "value")
        )
        values.update((customer_id, _money(value)) for customer_id, value in rows)
    return values


def renewals_in_period(*, period: Period) -> tuple[Decimal, int]:
    """The contracted value ending within the period, over every customer, and how many customers."""
    totals = Contract.objects.filter(ending_in(period)).aggregate(
        value=Sum("contracted_value"), customers=Count("customer_id", distinct=True)
    )
    return _money(totals["value"]), totals["customers"] or 0


def renewing_customers(*, period: Period) -> QuerySet:
    """(customer_id, renewal value) of every customer with a contract ending within the period."""
    return (
        Contract.objects.filter(ending_in(period))
        .values("customer_id")
        .annotate(value=Sum("contracted_value"))
        .values_list("customer_id", "value")
        .order_by("customer_id")
    )


@dataclass(frozen=True)
class PeriodOutcome:
    customer_id: str
    value: Decimal
    #: True renewed, False churned, None not known yet
    renewed: bool | None


def period_outcomes(*, period: Period, as_of: date | None = None) -> dict[str, PeriodOutcome]:
    """What became of each customer's contracts ending within the period: renewed when any of them was
    followed by another; churned when none was and every one ended more than the renewal grace ago."""
    as_of = as_of or today()
    known_before = as_of - _grace(conf.FINANCE_RENEWAL_GRACE_DAYS)
    rows = (
        Contract.objects.filter(ending_in(period))
        .annotate(renewed=_successor_exists())
        .values_list("customer_id", "contracted_value", "renewed", "end_date")
    )
    grouped: dict[str, list] = {}
    for customer_id, value, renewed, end_date in rows.iterator():
        grouped.setdefault(customer_id, []).append((value, renewed, end_date))
    outcomes = {}
    for customer_id, contracts in grouped.items():
        value = sum((row[0] for row in contracts), ZERO)
        if any(row[1] for row in contracts):
            renewed = True
        elif all(row[2] < known_before for row in contracts):
            renewed = False
        else:
            renewed = None
        outcomes[customer_id] = PeriodOutcome(customer_id, _money(value), renewed)
    return outcomes


def forecast_latest(*, period: Period) -> Forecast | None:
    return Forecast.objects.filter(forecast_period=period.key).order_by("-created_at", "-forecast_id").first()


def forecast_lines(*, forecast: Forecast) -> QuerySet:
    return forecast.lines.order_by("position")


# --- One customer's value ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFinance:
    """What the finance app stores of one customer, loaded in a handful of queries."""

    customer: Customer
    #: (start, end, contracted value, arr) of every contract
    contracts: list[tuple[date, date, Decimal, Decimal]]
    #: (reported at, realised value), oldest first
    reports: list[tuple[datetime, Decimal]]
    #: (due date, paid date) of the payments due in the look-back
    payments: list[tuple[date, date | None]]
    has_overdue_payment: bool


def customer_finance(*, customer: Customer, as_of: date | None = None) -> CustomerFinance:
    as_of = as_of or today()
    contracts = list(
        Contract.objects.filter(customer=customer).values_list(
            "start_date", "end_date", "contracted_value", "arr"
        )
    )
    reports = list(
        ValueReport.objects.filter(customer=customer)
        .order_by("reported_at", "created_at")
        .values_list("reported_at", "realized_value")
    )
    payments = list(
        Payment.objects.filter(
            customer=customer, due_date__gte=as_of - timedelta(days=conf.FINANCE_PAYMENT_HISTORY_DAYS)
        ).values_list("due_date", "paid_date")
    )
    overdue = Payment.objects.filter(overdue_payment_q(as_of=as_of), customer=customer).exists()
    return CustomerFinance(customer, contracts, reports, payments, overdue)


def churn_alerts_and_scores(*, customer: Customer, since: datetime):
    """The customer's ``churn_risk_detected`` alerts since ``since`` (each with the score that raised
    it) and its applied scores from the first of them on; three queries."""
    alert_rows = list(
        Event.objects.filter(
            event_type=CHURN_RISK_DETECTED.name, customer_id=customer.customer_id, occurred_at__gte=since
        )
        .order_by("occurred_at")
        .values_list("event_id", "occurred_at")
    )
    if not alert_rows:
        return [], []
    points = [
        ScorePoint(observed_at, score, risk_level)
        for observed_at, score, risk_level in HealthSnapshot.objects.filter(
            customer=customer, applied=True, observed_at__gte=alert_rows[0][1] - timedelta(days=1)
        )
        .order_by("observed_at", "id")
        .values_list("observed_at", "score", "risk_level")
    ]
    linked = dict(
        HealthSnapshot.objects.filter(
            customer=customer, churn_event_id__in=[event_id for event_id, _ in alert_rows]
        ).values_list("churn_event_id", "score")
    )
    alerts = []
    for event_id, occurred_at in alert_rows:
        score = linked.get(event_id)
        if score is None:  # an alert without its snapshot: the last score at or before it
            before = [point.score for point in points if point.observed_at <= occurred_at]
            score = before[-1] if before else None
        if score is not None:
            alerts.append(Alert(event_id, occurred_at, score))
    return alerts, points


def churn_alerts_and_scores_by_customer(
    *, since: datetime
) -> dict[str, tuple[list[Alert], list[ScorePoint]]]:
    """``churn_alerts_and_scores`` for every customer alerted since ``since``, in three queries: the
    alerts, the scores that raised them, and each alerted customer's applied scores from its first alert."""
    alert_rows = list(
        Event.objects.filter(event_type=CHURN_RISK_DETECTED.name, occurred_at__gte=since)
        .exclude(customer_id=None)
        .order_by("customer_id", "occurred_at")
        .values_list("customer_id", "event_id", "occurred_at")
    )
    if not alert_rows:
        return {}
    first_alert: dict[str, datetime] = {}
    for customer_id, _, occurred_at in alert_rows:
        first_alert.setdefault(customer_id, occurred_at)
    linked = dict(
        HealthSnapshot.objects.filter(
            churn_event_id__in=[event_id for _, event_id, _ in alert_rows]
        ).values_list("churn_event_id", "score")
    )
    points: dict[str, list[ScorePoint]] = {customer_id: [] for customer_id in first_alert}
    for customer_id, observed_at, score, risk_level in (
        HealthSnapshot.objects.filter(
            customer_id__in=list(first_alert),
            applied=True,
            observed_at__gte=min(first_alert.values()) - timedelta(days=1),
        )
        .order_by("customer_id", "observed_at", "id")
        .values_list("customer_id", "observed_at", "score", "risk_level")
    ):
        if observed_at >= first_alert[customer_id] - timedelta(days=1):
            points[customer_id].append(ScorePoint(observed_at, score, risk_level))
    result: dict[str, tuple[list[Alert], list[ScorePoint]]] = {}
    for customer_id, event_id, occurred_at in alert_rows:
        alerts, customer_points = result.setdefault(customer_id, ([], points[customer_id]))
        score = linked.get(event_id)
        if score is None:  # an alert without its snapshot: the last score at or before it
            before = [point.score for point in customer_points if point.observed_at <= occurred_at]
            score = before[-1] if before else None
        if score is not None:
            alerts.append(Alert(event_id, occurred_at, score))
    return result
