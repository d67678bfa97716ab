"""The finance reports at scale: retention of a quarter, the platform's forecast of a quarter, one
customer's value realisation, the renewal model's refit and the overdue check, each beside a baseline
measured in the same run on the same data.

Run against a dedicated PostgreSQL database (it adds customers with contracts and payments, and removes
them at the end unless --keep):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_finance VAR_DIR=/tmp/bench-var \\
        .venv/bin/python bench/finance_reports.py --sizes 10000,100000

Baselines: the ARR in force today summed over every contract (one aggregate scan: what any ARR figure
costs) for retention and the forecast; reading the customer's row for the value realisation; reading
the training rows for the refit; the mismatch query alone for the overdue check. Each figure is the
median of --repeat runs. Fan-outs go to an in-memory broker so the broker is not what is measured.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402

from csintegration.events.models import Event  # noqa: E402
from domains.customers.models import Customer, HealthTrend, Segment  # noqa: E402
from domains.finance import reports, selectors, services  # noqa: E402
from domains.finance.models import Contract, Payment, RenewalModelFit  # noqa: E402
from domains.finance.periods import quarter_period  # noqa: E402
from domains.finance.terms import add_months, annualised_value  # noqa: E402

PREFIX = "cust_fbench"
TRENDS = list(HealthTrend)
SEGMENTS = list(Segment)


def populate(start: int, stop: int, rng: random.Random) -> None:
    """Customers ``start``…``stop - 1``: a contract a year or two back, renewed (up or down) or not, and
    quarterly payments over the last year, some late, a few unpaid."""
    today = selectors.today()
    batch = 5000
    for first in range(start, stop, batch):
        customers, contracts, payments = [], [], []
        for index in range(first, min(first + batch, stop)):
            customer_id = f"{PREFIX}{index:07d}"
            health = rng.randint(0, 100)
            customer = Customer(
                customer_id=customer_id,
                name=f"Bench {index}",
                segment=SEGMENTS[index % len(SEGMENTS)],
                health_score=health,
                health_trend=TRENDS[index % 3],
                adoption_rate=round(rng.random(), 2),
            )
            customers.append(customer)
            value = Decimal(rng.randrange(5_000, 200_000, 500))
            begin = today - timedelta(days=rng.randint(200, 700))
            end = add_months(begin, 12) - timedelta(days=1)
            contracts.append(
                Contract(customer=customer, contracted_value=value, start_date=begin, end_date=end)
            )
            if end < today and rng.random() < 0.3 + 0.6 * health / 100:
                renewal = end + timedelta(days=1)
                factor = Decimal(str(round(rng.uniform(0.8, 1.3), 2)))
                contracts.append(
                    Contract(
                        customer=customer,
                        contracted_value=(value * factor).quantize(Decimal("1")),
                        start_date=renewal,
                        end_date=add_months(renewal, 12) - timedelta(days=1),
                    )
                )
            for quarter in range(4):
                due = today - timedelta(days=30 + 90 * quarter)
                paid = None if rng.random() < 0.03 else due + timedelta(days=rng.choice((-3, 0, 2, 15)))
                payments.append(
                    Payment(
                        customer=customer,
                        amount=value / 4,
                        due_date=due,
                        paid_date=min(paid, today) if paid else None,
                    )
                )
        for contract in contracts:
            contract.arr = annualised_value(contract.contracted_value, contract.start_date, contract.end_date)
        with transaction.atomic():
            Customer.objects.bulk_create(customers, batch_size=1000)
            Contract.objects.bulk_create(contracts, batch_size=2000)
            Payment.objects.bulk_create(payments, batch_size=4000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def median_seconds(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def row(label: str, seconds: float, baseline: float, note: str = "") -> None:
    print(
        f"  {label:<38} {seconds * 1000:10.1f} ms   baseline {baseline * 1000:9.1f} ms   "
        f"{seconds / baseline:6.1f} x   {note}"
    )


def measure(size: int, repeat: int) -> None:
    today = selectors.today()
    contracts = Contract.objects.filter(customer__customer_id__startswith=PREFIX).count()
    payments = Payment.objects.filter(customer__customer_id__startswith=PREFIX).count()
    print(f"{size} customers, {contracts} contracts, {payments} payments")

    def arr_in_force():
        return Contract.objects.filter(selectors.in_force_on(today)).aggregate(arr=Sum("arr"))

    baseline = median_seconds(arr_in_force, repeat)
    last = add_months(today, -3)
    closed = quarter_period(last.year, (last.month - 1) // 3 + 1)
    row(
        f"retention of {closed.key}",
        median_seconds(lambda: reports.retention_report(period=closed, include_reactivation=True), repeat),
        baseline,
        "one grouped query",
    )
    upcoming = add_months(today, 3)
    next_quarter = quarter_period(upcoming.year, (upcoming.month - 1) // 3 + 1)
    fit = services.renewal_model_current()
    renewing = selectors.renewing_customers(period=next_quarter).count()
    row(
        f"platform forecast of {next_quarter.key}",
        median_seconds(lambda: reports.platform_forecast(period=next_quarter, fit=fit), repeat),
        baseline,
        f"{renewing} customers renewing",
    )
    customer = Customer.objects.get(pk=f"{PREFIX}{size // 2:07d}")
    one = median_seconds(lambda: Customer.objects.get(pk=customer.pk), repeat * 20)
    row(
        "value realisation of one customer",
        median_seconds(lambda: reports.customer_value(customer=customer, fit=fit), repeat * 20),
        one,
        "baseline: reading its row",
    )
    load = median_seconds(selectors.renewal_training_rows, 1)
    refit = median_seconds(services.renewal_model_refit, 1)
    latest = RenewalModelFit.objects.first()
    row(
        "renewal model refit",
        refit,
        load,
        f"baseline: loading the rows; {latest.outcomes} outcomes, {latest.basis}, Brier {latest.brier_score}",
    )
    # The overdue check after a day: the payments due today fall due.
    Payment.objects.filter(customer__customer_id__startswith=PREFIX, paid_date__isnull=True).update(
        due_date=today - timedelta(days=31)
    )
    mismatches = median_seconds(lambda: list(selectors.standing_mismatches()), 1)
    started = time.perf_counter()
    stats = services.payment_standings_check()
    check = time.perf_counter() - started
    row(
        "overdue check",
        check,
        mismatches,
        f"baseline: finding the mismatches; {stats.became_overdue} became overdue "
        f"({check / max(stats.became_overdue, 1) * 1000:.2f} ms each)",
    )


def clean_up() -> None:
    with transaction.atomic():
        Event.objects.filter(customer_id__startswith=PREFIX).delete()
        Customer.objects.filter(customer_id__startswith=PREFIX).delete()
        RenewalModelFit.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated customer counts, ascending")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Leave the bench customers in the database")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("Run this against PostgreSQL (DATABASE_URL=postgres://…).", file=sys.stderr)
        sys.exit(2)
    sizes = [int(size) for size in args.sizes.split(",")]
    rng = random.Random(2026)
    clean_up()
    print(f"{os.cpu_count()} CPUs; medians of {args.repeat} runs (value realisation: {args.repeat * 20})")
    try:
        populated = 0
        for size in sizes:
            started = time.perf_counter()
            populate(populated, size, rng)
            populated = size
            print(f"populated in {time.perf_counter() - started:.1f} s")
            measure(size, args.repeat)
    finally:
        if not args.keep:
            clean_up()


if __name__ == "__main__":
    main()
