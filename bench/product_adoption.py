"""``GET /api/v1/cs-product/adoption/{feature_id}`` at 10,000 and (with ``--million``) 1,000,000 customers,
20 features and 90 days of daily usage, on PostgreSQL; and bulk usage ingest in rows per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/product_bench REDIS_URL=redis://127.0.0.1:6379/6 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/product_adoption.py [--million] [--rounds 60]

It uses a database of its own (created when missing, emptied at the start and, unless ``--keep``, at
the end). For each size it generates the customers and their usage in PostgreSQL (``INSERT … SELECT``
over ``generate_series``: about 20 usage rows a customer, spread over 20 features and the last 90 days),
brings the adoption in as a bulk import would (the platform's rebuild and per-feature recompute, timed),
then measures the endpoint through a gunicorn server with a real token, one request at a time over a
keep-alive connection. Beside it, in the same run: the same figures computed straight from the raw
usage (what a per-request query would cost), and the plans of the report's two queries (EXPLAIN
ANALYZE). Ingest: signed ``POST …/usage/bulk`` of 5,000 items each against the ORM's plain
``bulk_create`` of as many rows, same table, same run.

The figures that matter are ratios: the million-customer time over the 10,000 one (goal: under 3 x,
and under 1 s), and the API's ingest rate over ``bulk_create``'s.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

CLIENT_NAME = "bench product adoption"
PREFIX = "cust_b"
FEATURES = 20
BULK_ITEMS = 5000


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_customer, product_feature, product_featureadoption, product_adoptionprofile, "
            "product_adoptioncell, product_adoptionpopulation, product_adoptionsnapshot, "
            "product_adoptionsyncstate, events_event CASCADE"
        )


def timed(label: str, function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<52} {seconds:8.2f} s")
    return result, seconds


def generate_customers(count: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO customers_customer (customer_id, name, segment, arr, success_manager, health_score,
                health_trend, risk_level, lifecycle_stage, adoption_rate, engagement_score, nps_score,
                marketing_status, sales_status, product_status, finance_status, operations_status,
                churn_risk_alerted_at, integration_status_as_of, created_at, updated_at)
            SELECT '{PREFIX}' || lpad(i::text, 7, '0'), 'Bench ' || i,
                   CASE WHEN i %% 10 < 2 THEN 'enterprise' WHEN i %% 10 < 5 THEN 'mid_market'
                        ELSE 'small_business' END,
                   (1000 + (i::bigint * 7919) %% 500000)::numeric, '', h, 'stable',
                   CASE WHEN h >= 75 THEN 'low' WHEN h >= 50 THEN 'medium' WHEN h >= 25 THEN 'high'
                        ELSE 'critical' END,
                   CASE WHEN i %% 13 = 0 THEN 'churned' WHEN i %% 5 = 0 THEN 'renewal' ELSE 'adoption' END,
                   NULL, NULL, NULL, 'not_enrolled', 'handed_off', 'standard', 'current', 'supported', NULL,
                   '{{}}'::jsonb, now() - interval '1 day', now() - interval '1 day'
            FROM (SELECT i, ((i::bigint * 2654435761) %% 101)::int AS h FROM generate_series(1, %s) i) s
            """,
            [count],
        )


def generate_features() -> list:
    from domains.product.models import Feature

    features = [
        Feature(
            feature_id=f"feat_bench{index:02d}",
            name=f"Bench feature {index}",
            adoption_threshold=(1, 2, 3, 5)[index % 4],
            summary_threshold=(1, 2, 3, 5)[index % 4],
            window_days=(30, 30, 14, 60)[index % 4],
        )
        for index in range(FEATURES)
    ]
    Feature.objects.bulk_create(features)
    return features


def _drop_usage_indexes(cursor) -> list[str]:
    """Drop the usage table's unique constraint and secondary indexes (a bulk load is faster without
    them); returns the statements that recreate them."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'product_featureusage'::regclass AND contype = 'u'"
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'product_featureusage' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint "
        "WHERE conrelid = 'product_featureusage'::regclass)"
    )
    indexes = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE product_featureusage DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [
        *(
            f'ALTER TABLE product_featureusage ADD CONSTRAINT "{name}" {definition}'
            for name, definition in constraints
        ),
        *(definition for _, definition in indexes),
    ]


def generate_usage(count: int, chunk: int = 100_000) -> int:
    """About 20 rows a customer: each (customer, feature) pair is used with a chance that grows with the
    customer's health (12 % to 42 %), on 1 to 8 days of the last 90, 1 to 5 uses a day."""
    from django.db import connection

    rows = 0
    with connection.cursor() as cursor:
        recreate = _drop_usage_indexes(cursor)
        for start in range(1, count + 1, chunk):
            low, high = f"{PREFIX}{start:07d}", f"{PREFIX}{min(start + chunk - 1, count):07d}"
            cursor.execute(
                """
                INSERT INTO product_featureusage
                    (customer_id, feature_id, date, count, created_at, updated_at)
                SELECT p.customer_id, p.feature_id,
                       current_date - ((((p.seed >> 14) %% 90) + day.j * 7) %% 90)::int,
                       1 + ((p.seed >> 3) %% 5)::int, now(), now()
                FROM (
                    SELECT c.customer_id, f.feature_id, c.health_score,
                           abs(hashtextextended(c.customer_id || f.feature_id, 0)) AS seed
                    FROM customers_customer c CROSS JOIN product_feature f
                    WHERE c.customer_id BETWEEN %s AND %s
                ) p
                CROSS JOIN LATERAL generate_series(0, ((p.seed >> 10) %% 8)::int) AS day(j)
                WHERE p.seed %% 1000 < 120 + 3 * p.health_score
                """,
                [low, high],
            )
            rows += cursor.rowcount
        for statement in recreate:
            cursor.execute(statement)
    return rows


def bring_adoption_in(features) -> None:
    from domains.product import aggregates

    aggregates.aggregates_rebuild()  # profiles from the customers
    for feature in features:
        aggregates.feature_adoption_recompute(feature_id=feature.feature_id)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def maintenance(count: int) -> dict[str, float]:
    """The jobs' costs at this size: the beat job's catch-up with 1 % of the customers changed (their
    health moved), and the nightly rebuild of every aggregate (other writers wait while it runs)."""
    from django.db import connection

    from domains.product import aggregates

    aggregates.profiles_catch_up()  # the first run syncs everyone; the figure is for the next ones
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET health_score = (health_score + 37) % 101, updated_at = now() "
            "WHERE right(customer_id, 2) = '00'"
        )
    _, catch_up = timed(f"beat catch-up, {count // 100:,} customers changed", aggregates.profiles_catch_up)
    stats, rebuild = timed("nightly rebuild of every aggregate", aggregates.aggregates_rebuild)
    if stats.drift:
        raise SystemExit(f"the rebuild found drift: {stats.drift}")
    return {"catch_up": catch_up, "rebuild": rebuild}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    environment = {**os.environ, "LOG_LEVEL": "WARNING"}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "csintegration.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "2",
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=environment)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/o/.well-known/jwks.json")
            connection.getresponse().read()
            return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def client_and_token(port: int):
    from csintegration.clients.models import IntegrationClient
    from csintegration.clients.services import client_create

    IntegrationClient.objects.filter(name=CLIENT_NAME).delete()
    credentials = client_create(
        name=CLIENT_NAME,
        scopes="product:read product:write",
        rate_limits={"standard": "100000000/hour", "bulk": "100000000/day"},
    )
    basic = base64.b64encode(f"{credentials.client.client_id}:{credentials.client_secret}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST",
        "/o/token/",
        body="grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    token = json.loads(connection.getresponse().read())["access_token"]
    return credentials, token


def measure_endpoint(
    port: int, token: str, features, rounds: int, query: str = "", resource: str = "adoption"
) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for index in range(rounds + 5):
        feature = features[index % len(features)]
        started = time.perf_counter()
        connection.request(
            "GET", f"/api/v1/cs-product/{resource}/{feature.feature_id}{query}", headers=headers
        )
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {resource} answered {response.status}: {body[:300]!r}")
        if index >= 5:  # the first few warm the process's caches
            timings.append(elapsed)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def explain_report(feature) -> None:
    """The plans of the report's queries: the sums (population and cells) and the previous snapshot."""
    from django.db.models import Subquery, Sum

    from domains.product import selectors
    from domains.product.aggregates import today_utc
    from domains.product.models import AdoptionSnapshot

    today = today_utc()
    sums = selectors.adoption_sums_query(feature=feature, window_days=feature.window_days, today=today)
    latest = (
        AdoptionSnapshot.objects.filter(feature=feature, window_days=feature.window_days, day__lte=today)
        .order_by("-day")
        .values("day")[:1]
    )
    snapshot = (
        AdoptionSnapshot.objects.filter(feature=feature, day=Subquery(latest))
        .order_by()
        .values("day")
        .annotate(customers=Sum("customers"))
    )
    for label, queryset in (("sums", sums), ("previous snapshot", snapshot)):
        print(f"  EXPLAIN ANALYZE ({label}):")
        for line in queryset.explain(analyze=True).splitlines():
            print(f"      {line}")


def naive_report(feature) -> float:
    from domains.product import selectors
    from domains.product.aggregates import today_utc

    started = time.perf_counter()
    selectors.adoption_sums_from_usage(feature=feature, window_days=feature.window_days, today=today_utc())
    return time.perf_counter() - started


def measure_ingest(port: int, credentials, token: str, requests: int) -> tuple[float, float, dict]:
    """rows/s through signed POST …/usage/bulk (a day's usage of pairs in use, 5000 items a request), and
    rows/s of FeatureUsage.objects.bulk_create of as many new rows in batches of 5000."""
    import requests as http

    from domains.product.aggregates import today_utc
    from domains.product.models import FeatureAdoption, FeatureUsage
    from examples.signed_request import sign_request

    # A day's usage of the features the customers use (pairs with adoption rows), 5000 a request.
    pairs = list(
        FeatureAdoption.objects.order_by("customer_id", "feature_id").values_list(
            "customer_id", "feature_id"
        )[: requests * BULK_ITEMS]
    )
    session = http.Session()
    statuses: dict = {}
    api_seconds = 0.0
    day = today_utc().isoformat()
    for start in range(0, len(pairs), BULK_ITEMS):
        items = [
            {"customer_id": customer, "feature_id": feature, "date": day, "count": 3}
            for customer, feature in pairs[start : start + BULK_ITEMS]
        ]
        body = json.dumps({"items": items}).encode()
        prepared = http.Request(
            "POST",
            f"http://127.0.0.1:{port}/api/v1/cs-product/usage/bulk",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ).prepare()
        sign_request(
            prepared, client_id=credentials.client.client_id, signing_secret=credentials.signing_secret
        )
        started = time.perf_counter()
        response = session.send(prepared, timeout=600)
        api_seconds += time.perf_counter() - started
        if response.status_code not in (200, 207):
            raise SystemExit(f"bulk answered {response.status_code}: {response.text[:300]}")
        for result in response.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    rows = len(pairs)

    baseline_day = today_utc() - timedelta(days=120)
    objects = [
        FeatureUsage(customer_id=customer, feature_id=feature, date=baseline_day, count=3)
        for customer, feature in pairs
    ]
    started = time.perf_counter()
    for start in range(0, len(objects), BULK_ITEMS):
        FeatureUsage.objects.bulk_create(objects[start : start + BULK_ITEMS])
    baseline_seconds = time.perf_counter() - started
    return rows / api_seconds, len(objects) / baseline_seconds, statuses


def run_size(count: int, args, port: int, results: dict) -> None:
    from domains.customers.models import Customer
    from domains.product.models import FeatureAdoption, FeatureUsage

    print(f"\n{count:,} customers")
    empty_tables()
    timed("customers (INSERT … SELECT generate_series)", generate_customers, count)
    features = generate_features()
    rows, _ = timed("daily usage (INSERT … SELECT)", generate_usage, count)
    _, bootstrap = timed("adoption brought in (rebuild + 20 recomputes)", bring_adoption_in, features)
    timed("VACUUM ANALYZE", analyze)
    print(
        f"  {Customer.objects.count():,} customers, {rows:,} usage rows "
        f"({FeatureUsage.objects.count():,} stored), {FeatureAdoption.objects.count():,} adoption rows"
    )
    credentials, token = client_and_token(port)
    timings = measure_endpoint(port, token, features, args.rounds)
    segment = measure_endpoint(
        port, token, features, args.rounds // 2, "?segment=small_business&window_days=60"
    )
    detail = measure_endpoint(port, token, features, args.rounds, resource="features")
    naive = [naive_report(feature) for feature in features[:3]]
    explain_report(features[0])
    jobs = maintenance(count)
    results[count] = {
        "median": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "segment_median": statistics.median(segment),
        "naive": statistics.median(naive),
        "feature_detail": statistics.median(detail),
        **jobs,
        "bootstrap": bootstrap,
        "rows": rows,
    }
    print(
        f"  GET adoption: median {results[count]['median'] * 1000:.1f} ms, "
        f"p95 {results[count]['p95'] * 1000:.1f} ms; "
        f"with segment and window {results[count]['segment_median'] * 1000:.1f} ms; "
        f"the same figures from the raw usage {results[count]['naive'] * 1000:.0f} ms; "
        f"GET features/{{id}} (one row: the platform's own cost) "
        f"{results[count]['feature_detail'] * 1000:.1f} ms"
    )
    if args.ingest_requests and count == min(args.sizes):
        api_rate, baseline_rate, statuses = measure_ingest(port, credentials, token, args.ingest_requests)
        results["ingest"] = {"api": api_rate, "baseline": baseline_rate, "statuses": statuses}
        print(
            f"  ingest: {api_rate:,.0f} rows/s through POST …/usage/bulk ({statuses}); "
            f"{baseline_rate:,.0f} rows/s bulk_create; ratio {api_rate / baseline_rate:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="Also measure at 1,000,000 customers")
    parser.add_argument("--rounds", type=int, default=60, help="Requests measured per size")
    parser.add_argument("--ingest-requests", type=int, default=10, help="Bulk requests of 5000 (0: skip)")
    parser.add_argument("--keep", action="store_true", help="Leave the generated data in the database")
    args = parser.parse_args()
    args.sizes = [10_000, 1_000_000] if args.million else [10_000]
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("Run this against PostgreSQL (DATABASE_URL=postgres://…/product_bench).", file=sys.stderr)
        sys.exit(2)
    # A SIGTERM ends the run through the finally below, which stops the server and empties the tables.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ensure_database(url)
    setup_django()
    port = free_port()
    server = start_server(port)
    results: dict = {}
    try:
        for count in args.sizes:
            run_size(count, args, port, results)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            empty_tables()
    print(f"\n{os.cpu_count()} CPUs (shared)")
    if len(results) > 1 and 1_000_000 in results:
        small, large = results[10_000], results[1_000_000]
        print(
            f"GET adoption: {small['median'] * 1000:.1f} ms at 10,000, {large['median'] * 1000:.1f} ms at "
            f"1,000,000: ratio {large['median'] / small['median']:.2f} (goal under 3); raw-usage query "
            f"{small['naive'] * 1000:.0f} ms and {large['naive'] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
