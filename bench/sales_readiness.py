"""Expansion readiness at scale: the nightly re-evaluation of every customer, and ``GET /expansion/{id}``.

Run against a dedicated PostgreSQL database (created and migrated when missing; what the run adds is
removed at the end):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench VAR_DIR=/tmp/bench-var \\
        .venv/bin/python bench/sales_readiness.py --customers 20000

Each figure is set beside a baseline measured in the same run, on the same rows:

- the nightly re-evaluation (``services.readiness_evaluate_all``: load a chunk, count its recent
  milestones, score, decide crossings, write the states, publish ``expansion_ready``), first run (the
  state rows are created and every ready customer is announced) and a steady night (nothing crosses);
  baselines: the I/O floor of any chunked nightly pass over the same rows (read the chunk, lock its state
  rows, write one column back) and the platform's nightly health recompute over the same customers;
- ``GET /api/v1/cs-sales/expansion/{id}`` against ``GET /api/v1/cs-integration/customers/{id}`` (the same
  token, scope, rate-limit and audit machinery), in-process, alternating, one request at a time.

Fan-outs go to an in-memory broker, so the broker's speed is not what is measured.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from csintegration.clients.models import IntegrationClient  # noqa: E402
from csintegration.clients.services import client_create  # noqa: E402
from csintegration.db import bulk_update_values, locked_by_key  # noqa: E402
from csintegration.events.models import Event  # noqa: E402
from domains.customers import health  # noqa: E402
from domains.customers.models import Customer, HealthTrend, Segment  # noqa: E402
from domains.sales import services  # noqa: E402
from domains.sales.conf import conf  # noqa: E402
from domains.sales.models import ExpansionReadiness, Milestone, MilestoneKind  # noqa: E402

PREFIX = "cust_benchsales"
CLIENT_NAME = "bench sales readiness"


def populate(count: int) -> None:
    rng = random.Random(7)
    now = timezone.now()
    kinds = list(MilestoneKind)
    for start in range(0, count, 5000):
        customers, milestones = [], []
        for index in range(start, min(start + 5000, count)):
            customer_id = f"{PREFIX}{index:07d}"
            score = rng.randint(10, 100)
            customers.append(
                Customer(
                    customer_id=customer_id,
                    name=f"Bench {index}",
                    segment=list(Segment)[index % 3],
                    health_score=score,
                    health_trend=rng.choice(list(HealthTrend)),
                    adoption_rate=round(min(1.0, score / 100 + rng.uniform(-0.2, 0.1)), 2),
                    engagement_score=round(min(10.0, score / 10 + rng.uniform(-1.5, 1.0)), 1),
                    nps_score=max(-100, min(100, int((score - 50) * 1.6))),
                )
            )
            for kind in rng.sample(kinds, rng.randint(0, 4)):
                milestones.append(
                    Milestone(
                        customer_id=customer_id,
                        milestone=kind,
                        achieved_at=now - timedelta(days=rng.uniform(1, 300)),
                    )
                )
        with transaction.atomic():
            Customer.objects.bulk_create(customers, batch_size=1000)
            Milestone.objects.bulk_create(milestones, batch_size=2000)


def io_floor(chunk_size: int) -> int:
    """Read each chunk, lock its state rows, write one column back: what any chunked nightly pass costs."""
    last_key, seen = "", 0
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=last_key).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return seen
        with transaction.atomic():
            Customer.objects.in_bulk(ids)
            states = locked_by_key(ExpansionReadiness, ids)
            now = timezone.now()
            for state in states.values():
                state.evaluated_at = now
            bulk_update_values(ExpansionReadiness, list(states.values()), ["evaluated_at"])
        seen += len(ids)
        last_key = ids[-1]


def timed(label: str, run) -> float:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.2f} s   {result}")
    return seconds


def latency(client: Client, paths: list[str], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            samples[path].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
    return samples


def clean_up() -> None:
    with transaction.atomic():
        Event.objects.filter(customer_id__startswith=PREFIX).delete()
        Customer.objects.filter(customer_id__startswith=PREFIX).delete()
        IntegrationClient.objects.filter(name=CLIENT_NAME).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=300, help="requests per URL for the latency")
    parser.add_argument("--chunk-size", type=int, default=conf.SALES_READINESS_CHUNK_SIZE)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("Run this against PostgreSQL (DATABASE_URL=postgres://…).", file=sys.stderr)
        sys.exit(2)
    call_command("migrate", verbosity=0)
    clean_up()
    try:
        started = time.perf_counter()
        populate(args.customers)
        milestones = Milestone.objects.filter(customer__customer_id__startswith=PREFIX).count()
        seconds = time.perf_counter() - started
        print(f"{'populate':<44} {seconds:7.2f} s   {args.customers} customers, {milestones} milestones")
        total = Customer.objects.count()
        print(f"customers in the database: {total}; chunk size {args.chunk_size}; {os.cpu_count()} CPUs")

        first = timed(
            "readiness, first run (states created)",
            lambda: services.readiness_evaluate_all(chunk_size=args.chunk_size).as_dict(),
        )
        steady = timed(
            "readiness, steady night",
            lambda: services.readiness_evaluate_all(chunk_size=args.chunk_size).as_dict(),
        )
        floor = timed("baseline: I/O floor of a chunked pass", lambda: io_floor(args.chunk_size))
        recompute = timed(
            "baseline: nightly health recompute", lambda: health.health_recompute_all().as_dict()
        )
        print(
            f"ratios: steady night / I/O floor = {steady / floor:.2f}; steady night / health recompute = "
            f"{steady / recompute:.2f}; first run / steady night = {first / steady:.2f}; "
            f"steady night {steady / total * 1e6:.0f} µs per customer"
        )

        credentials = client_create(
            name=CLIENT_NAME,
            scopes=["sales:read", "customers:read"],
            rate_limits={"standard": "1000000/hour"},
        )
        from tests.conftest import fetch_token

        client = Client()
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {fetch_token(credentials)['access_token']}"
        ready = ExpansionReadiness.objects.filter(
            customer__customer_id__startswith=PREFIX, above_threshold=True
        ).first()
        customer_id = ready.customer_id if ready else f"{PREFIX}0000000"
        paths = [
            f"/api/v1/cs-integration/customers/{customer_id}",
            f"/api/v1/cs-sales/expansion/{customer_id}",
        ]
        latency(client, paths, 20)  # warm up
        samples = latency(client, paths, args.rounds)
        base, expansion = (statistics.median(samples[path]) for path in paths)
        p95 = [statistics.quantiles(samples[path], n=20)[-1] for path in paths]
        print(
            f"GET customer (baseline): median {base:.2f} ms, p95 {p95[0]:.2f} ms; "
            f"GET expansion: median {expansion:.2f} ms, p95 {p95[1]:.2f} ms; ratio {expansion / base:.2f}"
        )
    finally:
        clean_up()


if __name__ == "__main__":
    main()
