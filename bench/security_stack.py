"""What the security stack costs: ``GET /api/v1/cs-integration/customers/{id}`` with everything on (JWT
check and stored-token lookup, scope, IP allowlist and signature permissions, the Redis rate limiter,
the rate-limit headers, the audit-log INSERT) against the same view served at ``/bench/customers/{id}``
with authentication, permissions, throttling and the audit log off (``bench/settings_bench.py``).

One gunicorn server on 127.0.0.1 serves both, on PostgreSQL and Redis, in one run:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_security REDIS_URL=redis://127.0.0.1:6379/3 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/security_stack.py

Two measurements: the latency of one request at a time over a keep-alive connection (the two URLs
alternate, so drift affects both alike), and, when ``wrk`` is installed, throughput under concurrency.
The figure that matters is the ratio; the aim is a stack that costs at most 30 %. The database is
created when missing; what the run adds (a client, a customer, their audit rows) is removed at the end.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_bench"
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

CUSTOMER_ID = "cust_benchsecurity"
CLIENT_NAME = "bench security stack"
GUARDED = f"/api/v1/cs-integration/customers/{CUSTOMER_ID}"
UNGUARDED = f"/bench/customers/{CUSTOMER_ID}"


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_fixtures():
    from csintegration.clients.services import client_create
    from domains.customers.models import Customer
    from domains.customers.services import customer_create

    cleanup()
    if not Customer.objects.filter(customer_id=CUSTOMER_ID).exists():
        customer_create(
            customer_id=CUSTOMER_ID,
            data={
                "name": "Bench Security Co",
                "segment": "enterprise",
                "arr": 150000,
                "success_manager": "bench@example.com",
                "health_score": 85,
                "lifecycle_stage": "adoption",
            },
        )
    # A quota well above what the run sends, so every request is admitted and counted.
    return client_create(name=CLIENT_NAME, scopes="customers:read", rate_limits={"standard": "10000000/hour"})


def cleanup() -> None:
    from csintegration.audit.models import ApiCall
    from csintegration.clients.models import IntegrationClient
    from domains.customers.models import Customer

    for client in IntegrationClient.objects.filter(name=CLIENT_NAME):
        ApiCall.objects.filter(client_id=client.client_id).delete()
        client.delete()
    Customer.objects.filter(customer_id=CUSTOMER_ID).delete()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings_bench", "LOG_LEVEL": "WARNING"}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "csintegration.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
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
            connection.request("GET", UNGUARDED)
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def fetch_token(port: int, credentials) -> str:
    basic = base64.b64encode(f"{credentials.client.client_id}:{credentials.client_secret}".encode()).decode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "POST",
        "/o/token/",
        body="grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"token request failed: {response.status} {body}")
    return body["access_token"]


def sequential_latencies(port: int, token: str, rounds: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds per request, one at a time on a keep-alive connection per URL, the URLs alternating."""
    connections = {
        GUARDED: http.client.HTTPConnection("127.0.0.1", port, timeout=10),
        UNGUARDED: http.client.HTTPConnection("127.0.0.1", port, timeout=10),
    }
    headers = {GUARDED: {"Authorization": f"Bearer {token}"}, UNGUARDED: {}}
    samples: dict[str, list[float]] = {GUARDED: [], UNGUARDED: []}
    for index in range(warmup + rounds):
        for url in (GUARDED, UNGUARDED) if index % 2 else (UNGUARDED, GUARDED):
            started = time.perf_counter()
            connections[url].request("GET", url, headers=headers[url])
            response = connections[url].getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")
            if url == GUARDED and "RateLimit" not in response.headers:
                raise SystemExit("the guarded response carries no RateLimit header")
            if index >= warmup:
                samples[url].append(elapsed)
    return samples


def wrk_run(port: int, url: str, token: str | None, connections: int, seconds: int) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{url}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw errors on {url}:\n{output}")

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
    }


def audit_insert_cost(samples: int = 500) -> float:
    """Mean milliseconds of one audit-log INSERT, as the middleware writes it."""
    from django.utils import timezone

    from csintegration.audit.models import ApiCall
    from csintegration.audit.services import api_call_record

    started = time.perf_counter()
    for index in range(samples):
        api_call_record(
            time=timezone.now(),
            client_id="bench-audit-cost",
            user="",
            scopes="customers:read",
            method="GET",
            path=GUARDED,
            status=200,
            latency_ms=1.0,
            client_address="127.0.0.1",
            request_id=f"bench-{index}",
        )
    elapsed = (time.perf_counter() - started) * 1000 / samples
    ApiCall.objects.filter(client_id="bench-audit-cost").delete()
    return elapsed


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": statistics.median(ordered),
        "mean_ms": statistics.fmean(ordered),
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3000, help="sequential requests per URL")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    args = parser.parse_args()

    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url.startswith("redis"):
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the stack is measured as deployed.")
    ensure_database(database_url)
    setup_django()
    credentials = create_fixtures()
    port = free_port()
    server = start_server(port, args.workers, args.threads)
    try:
        token = fetch_token(port, credentials)
        latencies = sequential_latencies(port, token, args.rounds, args.warmup)
        guarded, unguarded = summary(latencies[GUARDED]), summary(latencies[UNGUARDED])
        report = {
            "server": f"gunicorn gthread, {args.workers} x {args.threads} threads, PostgreSQL + Redis",
            "sequential": {
                "requests_per_url": args.rounds,
                "unguarded": unguarded,
                "guarded": guarded,
                "median_ratio": guarded["median_ms"] / unguarded["median_ms"],
                "mean_ratio": guarded["mean_ms"] / unguarded["mean_ms"],
                "median_added_ms": guarded["median_ms"] - unguarded["median_ms"],
            },
        }
        if shutil.which("wrk"):
            runs = {GUARDED: [], UNGUARDED: []}
            for _ in range(2):  # alternate, so neither URL always runs on a warmer server
                runs[UNGUARDED].append(wrk_run(port, UNGUARDED, None, args.connections, args.seconds))
                runs[GUARDED].append(wrk_run(port, GUARDED, token, args.connections, args.seconds))
            averaged = {
                url: {key: statistics.fmean(run[key] for run in results) for key in results[0]}
                for url, results in runs.items()
            }
            report["concurrent"] = {
                "connections": args.connections,
                "unguarded": averaged[UNGUARDED],
                "guarded": averaged[GUARDED],
                "throughput_ratio": averaged[UNGUARDED]["requests_per_second"]
                / averaged[GUARDED]["requests_per_second"],
            }
        insert_ms = audit_insert_cost()
        report["audit_insert"] = {
            "mean_ms": insert_ms,
            "share_of_guarded_median": insert_ms / guarded["median_ms"],
        }
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        cleanup()


if __name__ == "__main__":
    main()
