"""Every write of the finance domain. Keyword-only and typed; each owns its transaction and publishes its
events in it (the outbox). A payment write re-checks its customer's overdue standing in the same
transaction, publishing ``payment_overdue`` / ``payments_current`` only when the standing changes and
sending the health engine the payment measure; the beat job does the same for payments that fell due.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from csintegration.db import bulk_update_values, locked_by_key, model_update
from csintegration.events import EventMessage, publish_many
from domains.customers import health
from domains.customers.models import PAYMENT_STATUS_VALUES, Customer, FinanceStatus

from . import events, forecasting, renewal_model, selectors
from .conf import conf
from .models import (
    Contract,
    Forecast,
    ForecastLine,
    ModelBasis,
    Payment,
    PaymentStanding,
    RenewalModelFit,
    ValueReport,
)
from .periods import Period

logger = logging.getLogger(__name__)
ZERO = Decimal("0")

CONTRACT_FIELDS = ("contracted_value", "start_date", "end_date")
PAYMENT_FIELDS = ("amount", "due_date", "paid_date", "contract")


def json_money(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


# --- Contracts --------------------------------------------------------------------------------------------


@transaction.atomic
def contract_create(
    *, customer: Customer, contracted_value: Decimal, start_date: date, end_date: date
) -> Contract:
    contract = Contract(
        customer=customer, contracted_value=contracted_value, start_date=start_date, end_date=end_date
    )
    contract.save(force_insert=True)
    return contract


@transaction.atomic
def contract_update(*, contract: Contract, data: dict[str, Any]) -> Contract:
    """Correct a contract's value or dates (an early termination moves its ``end_date``); its ARR follows."""
    locked = locked_by_key(Contract, [contract.pk]).get(contract.pk)
    if locked is None:
        raise Contract.DoesNotExist(contract.pk)
    model_update(instance=locked, data=data, fields=CONTRACT_FIELDS)
    return locked


# --- Payments and the overdue standing -------------------------------------------------------------------


@transaction.atomic
def payment_create(
    *,
    customer: Customer,
    amount: Decimal,
    due_date: date,
    paid_date: date | None = None,
    contract: Contract | None = None,
) -> Payment:
    payment = Payment(
        customer=customer, amount=amount, due_date=due_date, paid_date=paid_date, contract=contract
    )
    payment.save(force_insert=True)
    payment_standing_refresh(customer_ids=[customer.pk], settled_by=payment.payment_id)
    return payment


@transaction.atomic
def payment_update(*, payment: Payment, data: dict[str, Any]) -> Payment:
    """Change a payment (``paid_date`` set: it is paid; cleared: the payment bounced) and re-check the
    customer's standing."""
    locked = locked_by_key(Payment, [payment.pk]).get(payment.pk)
    if locked is None:
        raise Payment.DoesNotExist(payment.pk)
    if model_update(instance=locked, data=data, fields=PAYMENT_FIELDS):
        payment_standing_refresh(customer_ids=[locked.customer_id], settled_by=locked.payment_id)
    return locked


@transaction.atomic
def payment_delete(*, payment: Payment) -> None:
    customer_id = payment.customer_id
    payment.delete()
    payment_standing_refresh(customer_ids=[customer_id])


@dataclass(frozen=True)
class StandingChange:
    customer_id: str
    is_overdue: bool
    event_id: str


def _overdue_message(customer_id: str, summary: selectors.OverdueSummary, as_of: date) -> EventMessage:
    payment = summary.payment
    return EventMessage(
        events.PAYMENT_OVERDUE.name,
        customer_id,
        {
            "payment_id": payment.payment_id,
            "amount": json_money(payment.amount),
            "due_date": payment.due_date.isoformat(),
            "days_overdue": (as_of - payment.due_date).days,
            "overdue_payments": summary.count,
            "overdue_amount": json_money(summary.amount),
        },
    )


def _last_settled_payment(customer_id: str) -> str | None:
    return (
        Payment.objects.filter(customer_id=customer_id)
        .order_by("-updated_at", "-payment_id")
        .values_list("payment_id", flat=True)
        .first()
    )


@transaction.atomic
def payment_standing_refresh(
    *, customer_ids: Sequence[str], settled_by: str | None = None, as_of: date | None = None
) -> list[StandingChange]:
    """Compare each customer's payments with its stored standing; where it changed, store the new one,
    publish ``payment_overdue`` or ``payments_current`` and send the health engine the payment measure.
    Idempotent: a second run finds nothing changed. Standings are locked in key order."""
    as_of = as_of or selectors.today()
    ids = sorted(selectors.existing_customer_ids(customer_ids=customer_ids))
    if not ids:
        return []
    PaymentStanding.objects.bulk_create(
        [PaymentStanding(customer_id=customer_id) for customer_id in ids], ignore_conflicts=True
    )
    standings = locked_by_key(PaymentStanding, ids)
    summaries = selectors.overdue_summaries(customer_ids=ids, as_of=as_of)
    now = timezone.now()
    changed: list[PaymentStanding] = []
    messages: list[EventMessage] = []
    signals: list[health.SignalInput] = []
    for customer_id in ids:
        standing, summary = standings[customer_id], summaries.get(customer_id)
        if summary is not None and not standing.is_overdue:
            messages.append(_overdue_message(customer_id, summary, as_of))
            standing.is_overdue, standing.overdue_since = True, summary.payment.due_date
            standing.payment_id = summary.payment.payment_id
            status = FinanceStatus.OVERDUE
        elif summary is None and standing.is_overdue:
            settled = settled_by or _last_settled_payment(customer_id)
            since = standing.overdue_since.isoformat() if standing.overdue_since else None
            messages.append(
                EventMessage(
                    events.PAYMENTS_CURRENT.name, customer_id, {"payment_id": settled, "overdue_since": since}
                )
            )
            standing.is_overdue, standing.overdue_since, standing.payment_id = False, None, settled
            status = FinanceStatus.CURRENT
        else:
            continue
        standing.changed_at = now
        changed.append(standing)
        signals.append(
            health.SignalInput(customer_id, {"payment_status": PAYMENT_STATUS_VALUES[status]}, now)
        )
    if not changed:
        return []
    published = publish_many(messages)
    for standing, event in zip(changed, published, strict=True):
        standing.event_id = event.event_id
    bulk_update_values(
        PaymentStanding, changed, ["is_overdue", "overdue_since", "payment_id", "changed_at", "event_id"]
    )
    # The scorecard's payment measure, in the same transaction: health moves with the standing.
    health.health_signals_record(items=signals)
    return [StandingChange(s.customer_id, s.is_overdue, s.event_id) for s in changed]


@dataclass
class StandingCheckStats:
    checked: int = 0
    became_overdue: int = 0
    became_current: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def payment_standings_check(*, chunk_size: int = 500, as_of: date | None = None) -> StandingCheckStats:
    """The beat job: every customer whose standing disagrees with its payments (a payment fell due
    overnight, or a correction made outside the services) is refreshed, a chunk per transaction."""
    stats = StandingCheckStats()
    candidates = list(selectors.standing_mismatches(as_of=as_of))
    for start in range(0, len(candidates), chunk_size):
        chunk = candidates[start : start + chunk_size]
        stats.checked += len(chunk)
        for change in payment_standing_refresh(customer_ids=chunk, as_of=as_of):
            if change.is_overdue:
                stats.became_overdue += 1
            else:
                stats.became_current += 1
    return stats


# --- Value reports ---------------------------------------------------------------------------------------


@transaction.atomic
def value_report_create(
    *, customer: Customer, realized_value: Decimal, reported_at: datetime | None = None, note: str = ""
) -> ValueReport:
    report = ValueReport(
        customer=customer, realized_value=realized_value, reported_at=reported_at or timezone.now(), note=note
    )
    report.save(force_insert=True)
    return report


# --- Forecasts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastLineInput:
    customer_id: str
    renewal_probability: float
    expansion_probability: float
    expansion_value: Decimal
    risk_factors: tuple[str, ...] = ()


def forecast_tolerance() -> forecasting.Tolerance:
    return forecasting.Tolerance(
        relative=conf.FINANCE_FORECAST_RELATIVE_TOLERANCE,
        absolute=conf.FINANCE_FORECAST_ABSOLUTE_TOLERANCE,
        confidence=conf.FINANCE_FORECAST_CONFIDENCE_TOLERANCE,
    )


@dataclass(frozen=True)
class ForecastRecomputation:
    lines: list[forecasting.LineComputation]
    aggregates: forecasting.Aggregates
    #: the aggregates, JSON-ready, and what the forecast leaves out
    computed: dict[str, Any]


def forecast_recompute(*, period: Period, lines: Sequence[ForecastLineInput]) -> ForecastRecomputation:
    """Each line with the renewal value of its customer's stored contracts, and the aggregates, plus what
    the forecast leaves out: the contracts ending in the period of customers it has no line for."""
    renewal = selectors.renewal_values(customer_ids=[line.customer_id for line in lines], period=period)
    computations = [
        forecasting.LineComputation(
            customer_id=line.customer_id,
            renewal_value=renewal.get(line.customer_id, ZERO),
            renewal_probability=line.renewal_probability,
            expansion_value=forecasting.cents(line.expansion_value),
            expansion_probability=line.expansion_probability,
        )
        for line in lines
    ]
    aggregates = forecasting.aggregate(computations)
    all_value, all_customers = selectors.renewals_in_period(period=period)
    covered = sum(1 for line in computations if line.renewal_value > 0)
    computed = {
        **aggregates.as_dict(),
        "unforecast_renewal_value": float(all_value - aggregates.renewal_value),
        "unforecast_customers": all_customers - covered,
    }
    return ForecastRecomputation(computations, aggregates, computed)


@transaction.atomic
def forecast_submit(
    *,
    period: Period,
    lines: Sequence[ForecastLineInput],
    aggregate_metrics: dict[str, Any],
    submitted_by: str = "",
) -> Forecast:
    """Store a forecast with its lines and the server's recomputation; publish ``forecast_submitted``."""
    recomputation = forecast_recompute(period=period, lines=lines)
    computations, computed = recomputation.lines, recomputation.computed
    submitted = {key: float(value) for key, value in aggregate_metrics.items() if value is not None}
    discrepancies = forecasting.find_discrepancies(submitted, recomputation.aggregates, forecast_tolerance())
    forecast = Forecast.objects.create(
        forecast_period=period.key,
        period_start=period.start,
        period_end=period.end,
        submitted=submitted,
        computed=computed,
        discrepancies=discrepancies,
        submitted_by=submitted_by,
    )
    ForecastLine.objects.bulk_create(
        [
            ForecastLine(
                forecast=forecast,
                position=position,
                customer_id=line.customer_id,
                renewal_probability=line.renewal_probability,
                expansion_probability=line.expansion_probability,
                expansion_value=computation.expansion_value,
                risk_factors=list(line.risk_factors),
                renewal_value=computation.renewal_value,
                risk_adjusted_value=computation.risk_adjusted_value,
            )
            for position, (line, computation) in enumerate(zip(lines, computations, strict=True))
        ],
        batch_size=1000,
    )
    publish_many(
        [
            EventMessage(
                events.FORECAST_SUBMITTED.name,
                None,
                {
                    "forecast_id": forecast.forecast_id,
                    "forecast_period": forecast.forecast_period,
                    "submitted": submitted,
                    "computed": computed,
                    "discrepancies": discrepancies,
                },
            )
        ]
    )
    return forecast


# --- The renewal model ----------------------------------------------------------------------------------


def renewal_prior() -> tuple[float, ...]:
    prior = tuple(float(value) for value in conf.FINANCE_RENEWAL_PRIOR)
    if len(prior) != len(renewal_model.COEFFICIENT_NAMES):
        raise ImproperlyConfigured(
            f"FINANCE_RENEWAL_PRIOR needs {len(renewal_model.COEFFICIENT_NAMES)} numbers: "
            + ", ".join(renewal_model.COEFFICIENT_NAMES)
        )
    return prior


def renewal_model_refit(*, as_of: date | None = None) -> RenewalModelFit:
    """Fit the renewal model on the platform's own outcomes, or fall back to the prior with fewer than
    FINANCE_RENEWAL_MIN_OUTCOMES (or too few of either kind to learn from). The Brier score is measured on
    outcomes the fit did not see: the held-out share for a fit, every outcome for the prior."""
    rows = selectors.renewal_training_rows(as_of=as_of)
    percent = conf.FINANCE_RENEWAL_HOLDOUT_PERCENT
    training = [row for row in rows if not renewal_model.is_holdout(row.contract_id, percent)]
    holdout = [row for row in rows if renewal_model.is_holdout(row.contract_id, percent)]
    renewed_in_training = sum(row.renewed for row in training)
    fit = None
    enough = (
        len(rows) >= conf.FINANCE_RENEWAL_MIN_OUTCOMES
        and holdout
        and min(renewed_in_training, len(training) - renewed_in_training)
        >= renewal_model.MIN_OUTCOMES_PER_CLASS
    )
    if enough:
        try:
            fit = renewal_model.fit_logistic(
                [row.features.vector() for row in training],
                [int(row.renewed) for row in training],
                ridge=conf.FINANCE_RENEWAL_RIDGE,
            )
        except renewal_model.SingularSystem:
            logger.warning("The renewal model could not be fitted (singular system); using the prior.")
    if fit is not None:
        coefficients, evaluated, basis = fit.coefficients, holdout, ModelBasis.FITTED
        base_rate = renewed_in_training / len(training)
        baseline = renewal_model.brier_score(
            [base_rate] * len(holdout), [int(row.renewed) for row in holdout]
        )
    else:
        coefficients, evaluated, basis, baseline = renewal_prior(), rows, ModelBasis.PRIOR, None
    brier = renewal_model.brier_score(
        [renewal_model.predict(coefficients, row.features) for row in evaluated],
        [int(row.renewed) for row in evaluated],
    )
    return RenewalModelFit.objects.create(
        basis=basis,
        coefficients=[round(value, 6) for value in coefficients],
        outcomes=len(rows),
        renewed_outcomes=sum(row.renewed for row in rows),
        training_outcomes=len(training) if fit is not None else 0,
        holdout_outcomes=len(evaluated),
        brier_score=None if brier is None else round(brier, 6),
        baseline_brier_score=None if baseline is None else round(baseline, 6),
        iterations=fit.iterations if fit is not None else 0,
    )


def renewal_model_current() -> RenewalModelFit:
    """The latest fit; the first use fits one (afterwards the nightly job and the admin refit it)."""
    return selectors.renewal_model_latest() or renewal_model_refit()
