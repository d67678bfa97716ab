"""The nightly health recompute over many customers: seconds in all and per customer.

Run against a dedicated PostgreSQL database (it adds customers, changes the default scorecard for one
run and restores it, and removes what it added at the end):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench VAR_DIR=/tmp/bench-var \\
        .venv/bin/python bench/health_recompute.py --customers 100000

Three runs are timed: the first scoring of every customer (every breakdown is new, most scores move),
a steady night (nothing moved: no snapshot, no event), and the night after a scorecard edit (a share of
the scores move). Fan-outs go to an in-memory broker so the broker's speed is not what is measured.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from csintegration.events.models import Event  # noqa: E402
from csintegration.runtime import tune_garbage_collector  # noqa: E402
from domains.customers import health  # noqa: E402
from domains.customers.conf import conf  # noqa: E402
from domains.customers.models import Customer, CustomerSignal, ScorecardMeasure, Segment  # noqa: E402

PREFIX = "cust_bench"
SEGMENTS = list(Segment)


def populate(count: int) -> None:
    batch = 5000
    for start in range(0, count, batch):
        customers, signals = [], []
        for index in range(start, min(start + batch, count)):
            customer_id = f"{PREFIX}{index:07d}"
            customers.append(
                Customer(
                    customer_id=customer_id,
                    name=f"Bench {index}",
                    segment=SEGMENTS[index % len(SEGMENTS)],
                    adoption_rate=(index % 11) / 10,
                    engagement_score=(index % 21) / 2,
                    nps_score=(index * 7) % 201 - 100,
                )
            )
            signals += [
                CustomerSignal(customer_id=customer_id, name="login_frequency", value=float(index % 31)),
                CustomerSignal(customer_id=customer_id, name="support_tickets", value=float(index % 9)),
                CustomerSignal(
                    customer_id=customer_id, name="payment_status", value=(1.0, 1.0, 0.5, 0.0)[index % 4]
                ),
            ]
        with transaction.atomic():
            Customer.objects.bulk_create(customers, batch_size=1000)
            CustomerSignal.objects.bulk_create(signals, batch_size=3000)


def timed(label: str, count: int, chunk_size: int) -> None:
    started = time.perf_counter()
    stats = health.health_recompute_all(chunk_size=chunk_size)
    seconds = time.perf_counter() - started
    print(
        f"{label:<28} {seconds:8.1f} s  {seconds / max(stats.customers, 1) * 1e6:8.0f} µs/customer  "
        f"customers={stats.customers} changed={stats.changed} "
        f"snapshots={stats.snapshots} events={stats.events}"
    )


def clean_up() -> None:
    with transaction.atomic():
        Event.objects.filter(customer_id__startswith=PREFIX).delete()
        Customer.objects.filter(customer_id__startswith=PREFIX).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=conf.HEALTH_RECOMPUTE_CHUNK_SIZE)
    parser.add_argument("--keep", action="store_true", help="Leave the bench customers in the database")
    args = parser.parse_args()
    tune_garbage_collector()  # as the Celery worker that runs the recompute
    if connection.vendor != "postgresql":
        print("Run this against PostgreSQL (DATABASE_URL=postgres://…).", file=sys.stderr)
        sys.exit(2)

    clean_up()
    started = time.perf_counter()
    populate(args.customers)
    print(
        f"{'populate':<28} {time.perf_counter() - started:8.1f} s  "
        f"({args.customers} customers, 3 signals each)"
    )
    total = Customer.objects.count()
    print(f"customers in the database: {total}; chunk size {args.chunk_size}; {os.cpu_count()} CPUs")

    measure = ScorecardMeasure.objects.get(scorecard__is_default=True, measure="payment_status")
    original_weight = measure.weight
    try:
        timed("first scoring", total, args.chunk_size)
        timed("second night (trends settle)", total, args.chunk_size)
        timed("steady night (no change)", total, args.chunk_size)
        measure.weight = original_weight * 3
        measure.save()  # as the admin saves it: the cached scorecards see the edit
        timed("after a scorecard edit", total, args.chunk_size)
    finally:
        measure.weight = original_weight
        measure.save()
        if not args.keep:
            clean_up()


if __name__ == "__main__":
    main()
