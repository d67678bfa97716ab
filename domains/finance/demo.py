"""Demo finance data for ``seed_demo``: for each demo customer (``cust_demo00001…``) a history of contracts
(renewals, expansions, contractions, churns and returns over up to four years, in line with its health),
monthly payments over the last 90 days and the next month (late or unpaid for the weakest), three
value reports, a submitted forecast for the next quarter whose aggregates are off, then the overdue
check and a fit of the renewal model. Idempotent: customers that have contracts are left alone."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone

from domains.customers.models import Customer, FinanceStatus, LifecycleStage

from . import forecasting, selectors, services
from .models import Contract, Forecast, Payment, ValueReport
from .periods import quarter_period
from .terms import add_months, annualised_value

DEMO_PREFIX = "cust_demo"
DEMO_SUBMITTER = "demo"
HUNDRED = Decimal("100")
NOTES = (
    "Quarterly business review: reporting time down by a third.",
    "Executive sponsor confirmed the savings in the steering committee.",
    "Rollout to the second business unit finished; adoption still climbing.",
    "Value measured against the baseline agreed at onboarding.",
)


def _round(value: Decimal, step: Decimal = HUNDRED) -> Decimal:
    return ((value / step).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step).quantize(Decimal("0.01"))


def _contract_history(customer: Customer, rng: random.Random, today: date) -> list[Contract]:
    health = customer.health_score
    churned = customer.lifecycle_stage == LifecycleStage.CHURNED
    term = rng.choices((12, 24, 36), weights=(7, 2, 1))[0]
    start = today - timedelta(days=rng.randint(60, 4 * 365))
    arr = max(customer.arr, Decimal("3000")) * Decimal(str(rng.uniform(0.7, 1.0)))
    renew_probability = 0.15 + 0.8 * health / 100
    contracts = []
    while True:
        end = add_months(start, term) - timedelta(days=1)
        value = _round(arr * term / 12)
        contracts.append(
            Contract(
                customer=customer,
                contracted_value=value,
                start_date=start,
                end_date=end,
                arr=annualised_value(value, start, end),
            )
        )
        if end >= today:
            break
        renewed = rng.random() < renew_probability
        if churned:
            # A churned customer leaves at its first non-renewal, or before a contract that would run now.
            if not renewed or add_months(end + timedelta(days=1), term) - timedelta(days=1) >= today:
                break
            start = end + timedelta(days=1)
        else:
            start = end + timedelta(days=1 if renewed else rng.randint(45, 240))
            start = min(start, today - timedelta(days=rng.randint(0, 20)))
        if health >= 70:
            arr *= Decimal(str(rng.uniform(1.0, 1.25)))
        elif health < 45:
            arr *= Decimal(str(rng.uniform(0.8, 1.05)))
        else:
            arr *= Decimal(str(rng.uniform(0.95, 1.12)))
        term = rng.choices((12, 24, 36), weights=(7, 2, 1))[0]
    return contracts


def _payments(customer: Customer, contract: Contract, rng: random.Random, today: date) -> list[Payment]:
    monthly = _round(contract.arr / 12, Decimal("1"))
    overdue = customer.finance_status == FinanceStatus.OVERDUE
    payments = []
    due_dates = [today + timedelta(days=offset) for offset in (-75, -45, -15, 15)]
    for index, due in enumerate(due_dates):
        if due < contract.start_date:
            continue
        paid = None
        if due < today and not (overdue and index == 2):
            if customer.health_score < 40:
                delay = rng.randint(5, 25)
            else:
                delay = rng.randint(1, 5) if rng.random() < 0.1 else rng.randint(-7, 0)
            paid = min(today, due + timedelta(days=delay))
        payments.append(
            Payment(customer=customer, contract=contract, amount=monthly, due_date=due, paid_date=paid)
        )
    return payments


def _value_reports(customer: Customer, contract: Contract, rng: random.Random, now) -> list[ValueReport]:
    ratio = min(1.6, max(0.1, customer.health_score / 70 * rng.uniform(0.8, 1.2)))
    reports = []
    for step, days_ago in zip((0.7, 0.85, 1.0), (80, 50, 20), strict=True):
        reported_at = now - timedelta(days=days_ago)
        if reported_at.date() < contract.start_date:
            continue
        reports.append(
            ValueReport(
                customer=customer,
                realized_value=_round(contract.contracted_value * Decimal(str(ratio * step))),
                reported_at=reported_at,
                note=rng.choice(NOTES),
            )
        )
    return reports


def _demo_forecast(rng: random.Random, today: date) -> Forecast | None:
    """The next quarter's forecast as a CS team might send it: its aggregates rounded up by hand."""
    quarter = (today.month - 1) // 3 + 1
    year, quarter = (today.year + 1, 1) if quarter == 4 else (today.year, quarter + 1)
    period = quarter_period(year, quarter)
    if Forecast.objects.filter(forecast_period=period.key, submitted_by=DEMO_SUBMITTER).exists():
        return None
    renewing = dict(selectors.renewing_customers(period=period))
    customers = Customer.objects.filter(pk__in=list(renewing), customer_id__startswith=DEMO_PREFIX)
    lines = []
    for customer in customers.order_by("customer_id"):
        expanding = customer.health_score >= 75
        lines.append(
            services.ForecastLineInput(
                customer_id=customer.customer_id,
                renewal_probability=round(
                    min(1.0, max(0.0, customer.health_score / 100 + rng.uniform(-0.1, 0.1))), 2
                ),
                expansion_probability=0.5 if expanding else 0.0,
                expansion_value=_round(renewing[customer.customer_id] * Decimal("0.2"))
                if expanding
                else Decimal(0),
                risk_factors=("contract_renewal_timing",) if customer.health_score < 50 else (),
            )
        )
    if not lines:
        return None
    computed = services.forecast_recompute(period=period, lines=lines).computed
    aggregate_metrics = {
        "total_forecasted_revenue": forecasting.cents(computed["total_forecasted_revenue"] * 1.04),
        "confidence_level": 0.88,
        "risk_adjusted_value": forecasting.cents(computed["risk_adjusted_value"] * 1.06),
    }
    return services.forecast_submit(
        period=period, lines=lines, aggregate_metrics=aggregate_metrics, submitted_by=DEMO_SUBMITTER
    )


def seed_demo_finance(**options) -> str:
    today, now = selectors.today(), timezone.now()
    with_contracts = set(
        Contract.objects.filter(customer__customer_id__startswith=DEMO_PREFIX).values_list(
            "customer_id", flat=True
        )
    )
    customers = [
        customer
        for customer in Customer.objects.filter(customer_id__startswith=DEMO_PREFIX).order_by("customer_id")
        if customer.customer_id not in with_contracts
    ]
    contracts: list[Contract] = []
    payments: list[Payment] = []
    value_reports: list[ValueReport] = []
    for customer in customers:
        rng = random.Random(f"finance-{customer.customer_id}")  # the same demo data every time
        history = _contract_history(customer, rng, today)
        contracts += history
        current = next((contract for contract in history if contract.in_force_on(today)), None)
        if current is not None:
            payments += _payments(customer, current, rng, today)
            value_reports += _value_reports(customer, current, rng, now)
    with transaction.atomic():
        Contract.objects.bulk_create(contracts, batch_size=1000)
        Payment.objects.bulk_create(payments, batch_size=1000)
        ValueReport.objects.bulk_create(value_reports, batch_size=1000)
    forecast = _demo_forecast(random.Random("finance-forecast"), today)
    standings = services.payment_standings_check()
    fit = selectors.renewal_model_latest()
    if customers or fit is None:
        fit = services.renewal_model_refit()
    return (
        f"{len(contracts)} contracts, {len(payments)} payments and {len(value_reports)} value reports for "
        f"{len(customers)} customers; {standings.became_overdue} overdue; "
        f"{'a forecast of ' + forecast.forecast_period if forecast else 'no new forecast'}; renewal model "
        f"{fit.basis} on {fit.outcomes} outcomes"
    )
