"""``make bench``: every figure of the performance note in one run, written to ``bench/RESULTS.md``.

    make bench                                   # or: .venv/bin/python bench/run.py [--quick] [--only …]

It needs PostgreSQL and Redis (the production set-up) and ``wrk`` (Debian: ``apt-get install wrk``):

    BENCH_DATABASE_URL   default postgres://postgres@127.0.0.1:5432/csi_bench (created when missing,
                         migrated, and filled and emptied by the run: give it a database of its own)
    BENCH_REDIS_URL      default redis://127.0.0.1:6379/7 (broker, cache and rate limiter of the run)

The run starts its own gunicorn (the repository's ``gunicorn.conf.py``: gthread, one worker per core,
8 threads) serving ``bench/settings_bench.py`` (the platform plus bare Django views serving the same
rows), the Celery workers of the ``Procfile`` when a section needs them, and local webhook receivers, all
on 127.0.0.1. Every pair (the platform's figure, its baseline) is measured in the same run, alternating,
and the load average is noted before and after each section, since the machine may be shared.

Sections (``--only`` takes a comma-separated list of them):

    http       GET customers/{id}, GET customers?risk_level=high, POST events/health-change against bare
               Django views, with wrk (8 connections): req/s, p50, p99, ratio
    webhooks   health-change → webhook arrival p50/p99 at 10/s and 50/s with 5 receivers; deliveries/s
               against bare requests.post loops
    bulk       signed POST customers/bulk of 1000 records (create, then update) against the ORM's own
               bulk_create of the same rows: customers/s
    recompute  the nightly health recompute, seconds per 100,000 customers
    scale      GET customers?risk_level=high and GET cs-product/adoption/{id} at 10,000 and 1,000,000
               customers (generated with set-based SQL); ``--quick`` uses 10,000 and 100,000

The full run takes about 25 minutes on two cores; ``--quick`` about 6.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/csi_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
SECTIONS = ("http", "webhooks", "bulk", "recompute", "scale")
API = "/api/v1/cs-integration"
CLIENT_NAME = "bench run"
HTTP_PREFIX = "cust_benchrun"
BULK_PREFIX = "cust_benchbulk"


# --- The report (pure: no Django, no I/O; tested in tests/bench/) -----------------------------------------


@dataclass
class Section:
    """One part of RESULTS.md: a title, what it measured, a table and notes, with the load around it."""

    title: str
    description: str = ""
    headers: Sequence[str] = ()
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None


def format_number(value: object) -> str:
    """A cell: floats rounded to what a measurement on a shared machine supports, the rest as given."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; every row must have as many cells as there are headers."""
    if not headers:
        raise ValueError("a table needs headers")
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells for {len(headers)} headers")
        cells = [format_number(cell).replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_load(load: tuple[float, float, float] | None) -> str:
    return "—" if load is None else " / ".join(f"{value:.2f}" for value in load)


def ratio(value: float | None, baseline: float | None) -> float | None:
    if not value or not baseline:
        return None
    return value / baseline


def render_results(meta: dict[str, object], sections: Sequence[Section]) -> str:
    """The whole RESULTS.md: the machine and the run, then one part per section."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); see `bench/README.md` for what each figure means and",
        "how to repeat it. Load averages are 1 / 5 / 15 minutes, before → after each section.",
        "",
        format_table(("", ""), [(key, value) for key, value in meta.items()]),
    ]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.description:
            lines += [section.description, ""]
        if section.headers:
            lines += [format_table(section.headers, section.rows), ""]
        lines.append(f"Load average: {format_load(section.load_before)} → {format_load(section.load_after)}.")
        for note in section.notes:
            lines += ["", note]
    return "\n".join(lines) + "\n"


def parse_wrk(output: str) -> dict[str, float]:
    """requests/s, p50 and p99 (ms) and the count of non-2xx answers from ``wrk --latency``'s output."""

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\b", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"no {label} latency in wrk's output")
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50%"),
        "p99": latency("99%"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- Services and processes ----------------------------------------------------------------------------


def check_services(database_url: str, redis_url: str) -> None:
    """PostgreSQL and Redis answer, ``wrk`` is installed; the bench database is created when missing."""
    problems = []
    if not database_url.startswith("postgres"):
        problems.append(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {database_url!r}")
    if not redis_url.startswith("redis"):
        problems.append(f"BENCH_REDIS_URL must be a Redis URL, not {redis_url!r}")
    if not shutil.which("wrk"):
        problems.append("wrk is not installed (Debian/Ubuntu: sudo apt-get install wrk)")
    if problems:
        raise SystemExit("make bench cannot run:\n  " + "\n  ".join(problems))
    try:
        import psycopg

        parsed = urlparse(database_url)
        name = parsed.path.lstrip("/")
        admin_url = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                connection.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        raise SystemExit(f"PostgreSQL does not answer at {database_url}: {exc}") from None
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except Exception as exc:
        raise SystemExit(f"Redis does not answer at {redis_url}: {exc}") from None


def configure_environment(database_url: str, redis_url: str, var_dir: Path) -> None:
    """What this process and every process it starts run with."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "metrics"),
            "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "LOG_LEVEL": "WARNING",
            # Shedding protects a process from a crowd; the bench sends 8 connections on purpose.
            "OVERLOAD_SHED_BULK_AT": "64",
            "OVERLOAD_SHED_REALTIME_AT": "64",
        }
    )
    os.environ.pop("CELERY_TASK_ALWAYS_EAGER", None)
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Processes:
    """The processes of the run, each with its log under the run's VAR_DIR, stopped in reverse order."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.var_dir / "logs" / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=log)
        self.running.append((name, process))
        return process

    def stop(self, name: str | None = None) -> None:
        for entry in reversed(list(self.running)):
            if name is not None and entry[0] != name:
                continue
            process = entry[1]
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            self.running.remove(entry)


def procfile_commands() -> dict[str, list[str]]:
    """The ``Procfile``'s processes as argument lists (so the bench runs what production runs)."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, separator, command = line.partition(":")
        if not separator or line.startswith("#"):
            continue
        words = shlex.split(command)
        commands[name.strip()] = words[1:] if words and words[0] == "exec" else words
    return commands


def start_web(processes: Processes, port: int) -> str:
    workers = os.cpu_count() or 1
    command = [
        str(BIN / "gunicorn"),
        "csintegration.wsgi",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        "8",
        "--log-level",
        "warning",
    ]
    processes.start("web", command)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/o/.well-known/jwks.json")
            if connection.getresponse().status == 200:
                return base
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 90 s (see var/bench/logs/web.log)")


WORKERS = ("critical", "webhooks", "worker")


def start_workers(processes: Processes) -> None:
    """The Procfile's workers and beat (whose dispatcher sends what the broker never took, as in
    production), once every worker answers a ping, so that nothing is timed while they start."""
    from csintegration.celery import app

    commands = procfile_commands()
    for name in WORKERS:
        command = [word.replace(".venv/bin/", f"{BIN}/") for word in commands[name]]
        processes.start(f"celery-{name}", [*command, "--loglevel", "WARNING", "--without-gossip"])
    beat = [word.replace(".venv/bin/", f"{BIN}/") for word in commands["beat"]]
    processes.start("celery-beat", [*beat, "--loglevel", "WARNING"])
    deadline = time.monotonic() + 120
    while len(app.control.ping(timeout=1.0)) < len(WORKERS):
        if time.monotonic() > deadline:
            raise SystemExit("the Celery workers did not answer within 120 s (see var/bench/logs/)")
    time.sleep(1)


def purge_queues() -> None:
    """Drop what earlier sections left on the broker (fan-outs of events the bench marked dispatched)."""
    from csintegration.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in ("critical", "default", "webhooks", "bulk"):
            try:
                channel.queue_purge(queue)
            except Exception:  # a queue never declared
                pass


# --- Fixtures ------------------------------------------------------------------------------------------


@dataclass
class Client:
    client_id: str
    client_secret: str
    signing_secret: str
    token: str = ""


def make_client(base: str, scopes: str) -> Client:
    from csintegration.clients.models import IntegrationClient
    from csintegration.clients.services import client_create

    IntegrationClient.objects.filter(name=CLIENT_NAME).delete()
    quota = {category: "1000000000/hour" for category in ("standard", "realtime", "bulk", "admin")}
    credentials = client_create(name=CLIENT_NAME, scopes=scopes, rate_limits=quota)
    client = Client(credentials.client.client_id, credentials.client_secret, credentials.signing_secret)
    client.token = fetch_token(base, client)
    return client


def fetch_token(base: str, client: Client) -> str:
    parsed = urlparse(base)
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
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


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def timed_section(section: Section, run: Callable[[Section], None]) -> Section:
    section.load_before = load_average()
    started = time.monotonic()
    print(f"\n== {section.title}", flush=True)
    run(section)
    section.load_after = load_average()
    section.notes.append(f"Section time: {time.monotonic() - started:.0f} s.")
    for row in section.rows:
        print("   ", " | ".join(format_number(cell) for cell in row), flush=True)
    return section


def mark_events_dispatched() -> None:
    """Events the bench published while no worker ran are not fanned out later by a section's workers."""
    from django.utils import timezone

    from csintegration.events.models import Event

    Event.objects.filter(dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    purge_queues()


# --- http: the request path against bare views -----------------------------------------------------------


def wrk(url: str, *, seconds: int, token: str | None = None, script: Path | None = None) -> dict[str, float]:
    command = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    result = parse_wrk(output)
    if result["errors"]:
        raise SystemExit(f"wrk saw {result['errors']:.0f} non-2xx answers from {url}:\n{output}")
    return result


def post_script(path: Path, customer_id: str) -> Path:
    """A wrk script POSTing health changes whose score moves every time and stays in one risk band."""
    bodies = [
        json.dumps(
            {
                "customer_id": customer_id,
                "previous_score": previous,
                "new_score": new,
                "change_reason": "usage_growth" if new > previous else "usage_decline",
            }
        )
        for previous, new in ((60, 66), (66, 60))
    ]
    lua_bodies = ", ".join("[[" + body + "]]" for body in bodies)
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{{lua_bodies}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[(n % 2) + 1])\n"
        "end\n"
    )
    return path


def http_fixtures() -> None:
    from domains.customers.models import Customer
    from domains.customers.services import customer_create

    Customer.objects.filter(customer_id__startswith=HTTP_PREFIX).delete()
    for index in range(120):
        customer_create(
            customer_id=f"{HTTP_PREFIX}{index:04d}",
            data={
                "name": f"Bench run {index}",
                "segment": ("enterprise", "mid_market", "small_business")[index % 3],
                "arr": 10000 + index * 100,
                "success_manager": "bench@example.com",
                "health_score": (30, 40, 60, 85)[index % 4],  # a quarter of them high risk
                "lifecycle_stage": "adoption",
            },
        )


def run_http(section: Section, base: str, client: Client, args) -> None:
    http_fixtures()
    detail_id = f"{HTTP_PREFIX}0002"
    post_id = f"{HTTP_PREFIX}0006"
    script = post_script(Path(args.var_dir) / "health_change.lua", post_id)
    pairs = [
        (
            "GET customers/{id}",
            (f"{base}{API}/customers/{detail_id}", None),
            (f"{base}/bench/bare/customers/{detail_id}", None),
        ),
        (
            "GET customers?risk_level=high",
            (f"{base}{API}/customers?risk_level=high", None),
            (f"{base}/bench/bare/customers?risk_level=high", None),
        ),
        (
            "POST events/health-change",
            (f"{base}{API}/events/health-change", script),
            (f"{base}/bench/bare/events/health-change", script),
        ),
    ]
    for url, lua in (pairs[0][1], pairs[0][2]):  # warm both up
        wrk(url, seconds=2, token=client.token, script=lua)
    section.headers = (
        "request",
        "platform req/s",
        "p50 ms",
        "p99 ms",
        "bare Django req/s",
        "p50 ms",
        "p99 ms",
        "ratio",
    )
    for label, (url, lua), (bare_url, bare_lua) in pairs:
        platform_runs, bare_runs = [], []
        for round_number in range(args.rounds):
            order = [("platform", url, lua), ("bare", bare_url, bare_lua)]
            if round_number % 2:
                order.reverse()
            for kind, target, target_lua in order:
                result = wrk(
                    target,
                    seconds=args.seconds,
                    token=client.token if kind == "platform" else None,
                    script=target_lua,
                )
                (platform_runs if kind == "platform" else bare_runs).append(result)
        mean = {
            kind: {key: statistics.fmean(run[key] for run in runs) for key in ("rps", "p50", "p99")}
            for kind, runs in (("platform", platform_runs), ("bare", bare_runs))
        }
        section.rows.append(
            (
                label,
                mean["platform"]["rps"],
                mean["platform"]["p50"],
                mean["platform"]["p99"],
                mean["bare"]["rps"],
                mean["bare"]["p50"],
                mean["bare"]["p99"],
                ratio(mean["platform"]["rps"], mean["bare"]["rps"]),
            )
        )
    mark_events_dispatched()
    section.notes.append(
        f"wrk -t2 -c8, {args.rounds} x {args.seconds} s per URL, the platform and its baseline "
        "alternating; figures are the means of the runs. The bare views are plain Django views "
        "(`bench/urls_bench.py`) reading (and, for the POST, writing) the same row, without DRF, "
        "authentication, rate limits, the audit log or events. Ratio = platform req/s ÷ bare req/s "
        "(goal ≥ 0.7)."
    )


# --- webhooks: event to arrival, and deliveries/s ----------------------------------------------------------


def run_webhooks(section: Section, base: str, args, processes: Processes) -> None:
    from django.utils import timezone

    from bench import webhook_delivery as hooks
    from csintegration.events.models import Event
    from domains.customers import services as customer_services
    from webhooks.models import Message

    hooks.clean_up()
    client = make_client(base, "events:write webhooks:manage customers:write customers:read")
    customers = 200
    for index in range(customers):
        customer_services.customer_create(
            data={"name": f"Webhook bench {index}", "health_score": 70},
            customer_id=f"{hooks.CUSTOMER_PREFIX}{index:05d}",
        )
    Event.objects.filter(dispatched_at__isnull=True).update(dispatched_at=timezone.now())
    purge_queues()
    receiver = hooks.Receiver()
    start_workers(processes)
    rates = (10, 50)
    runs = {}
    try:
        import requests

        endpoint_ids = []
        for index in range(5):
            response = requests.post(
                f"{base}{API}/webhooks",
                json={"url": receiver.url(f"/hooks/{index}"), "events": ["health_score_change"]},
                headers={"Authorization": f"Bearer {client.token}"},
                timeout=10,
            )
            response.raise_for_status()
            endpoint_ids.append(response.json()["id"])
        for rate in rates:
            print(f"   {rate} events/s for {args.webhook_seconds} s", flush=True)
            runs[rate] = hooks.measure_latency(
                base, client.token, receiver, rate=rate, seconds=args.webhook_seconds, customers=customers
            )
        throughput = hooks.measure_throughput(endpoint_ids, receiver, args.deliveries)
        bare = hooks.measure_bare(receiver.url("/bare"), args.deliveries, pooled=False)
        pooled = hooks.measure_bare(receiver.url("/bare"), args.deliveries, pooled=True)
    finally:
        for name in ("beat", *WORKERS):
            processes.stop(f"celery-{name}")
        arrivals = receiver.stop()
    section.headers = ("figure", "p50 ms", "p99 ms", "max ms", "arrived / expected", "POST p99 ms")
    for rate in rates:
        sent, post_ms, offered, expected = runs[rate]
        by_message = dict(Message.objects.filter(event_id__in=list(sent)).values_list("id", "event_id"))
        latencies = [
            (arrived - sent[by_message[message_id]]) * 1000
            for message_id, path, arrived in arrivals
            if path.startswith("/hooks/") and message_id in by_message
        ]
        achieved = len(sent) / offered if offered else 0.0
        section.rows.append(
            (
                f"health-change → arrival at {rate}/s (achieved {achieved:.1f}/s)",
                statistics.median(latencies) if latencies else None,
                percentile(latencies, 0.99) if latencies else None,
                max(latencies) if latencies else None,
                f"{len(latencies)} / {expected}",
                percentile(post_ms, 0.99) if post_ms else None,
            )
        )
    section.notes.append(
        f"Deliveries/s: {throughput:,.0f} through the Procfile's workers ({args.deliveries:,} deliveries "
        f"queued at once); bare `requests.post` from one process {bare:,.0f}/s, one pooled "
        f"`requests.Session` {pooled:,.0f}/s; ratios {ratio(throughput, bare):.2f} / "
        f"{ratio(throughput, pooled):.2f}."
    )
    section.notes.append(
        f"Five endpoints on one local receiver; {args.webhook_seconds} s per rate; latency is from the "
        "start of each POST to each delivery's arrival. Workers: the Procfile's `critical`, `webhooks` "
        "and `worker` processes, and `beat`."
    )
    hooks.clean_up()


# --- bulk: customers/s against bulk_create ---------------------------------------------------------------


def bulk_records(prefix: str, count: int, *, version: int) -> list[dict]:
    return [
        {
            "customer_id": f"{prefix}{index:06d}",
            "name": f"Bulk bench {index} v{version}",
            "segment": ("enterprise", "mid_market", "small_business")[index % 3],
            "arr": 5000 + index + version,
            "success_manager": f"csm{index % 7}@example.com",
            "health_score": 40 + (index + version * 3) % 60,
            "lifecycle_stage": "adoption",
        }
        for index in range(count)
    ]


def run_bulk(section: Section, base: str, client: Client, args) -> None:
    import requests

    from domains.customers.models import Customer
    from examples.signed_request import sign_request

    session = requests.Session()
    count = 1000

    def post(records: list[dict]) -> tuple[float, dict]:
        body = json.dumps({"customers": records}).encode()
        prepared = requests.Request(
            "POST",
            f"{base}{API}/customers/bulk",
            data=body,
            headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
        ).prepare()
        sign_request(prepared, client_id=client.client_id, signing_secret=client.signing_secret)
        started = time.perf_counter()
        response = session.send(prepared, timeout=600)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"bulk answered {response.status_code}: {response.text[:500]}")
        statuses: dict[str, int] = {}
        for result in response.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
        return count / elapsed, statuses

    def orm(prefix: str) -> float:
        rows = [Customer(**record) for record in bulk_records(prefix, count, version=0)]
        started = time.perf_counter()
        Customer.objects.bulk_create(rows)
        return count / (time.perf_counter() - started)

    Customer.objects.filter(customer_id__startswith=BULK_PREFIX).delete()
    post(bulk_records(f"{BULK_PREFIX}w", count, version=0))  # warm-up
    created, updated, baseline = [], [], []
    for round_number in range(args.rounds):
        prefix = f"{BULK_PREFIX}{round_number}_"
        rate, statuses = post(bulk_records(prefix, count, version=0))
        assert statuses == {"created": count}, statuses
        created.append(rate)
        rate, statuses = post(bulk_records(prefix, count, version=1))
        assert statuses == {"updated": count}, statuses
        updated.append(rate)
        baseline.append(orm(f"{BULK_PREFIX}orm{round_number}_"))
    Customer.objects.filter(customer_id__startswith=BULK_PREFIX).delete()
    mark_events_dispatched()
    best = statistics.fmean(baseline)
    section.headers = ("1000 records a request", "customers/s", "ORM bulk_create customers/s", "ratio")
    section.rows = [
        (
            "POST customers/bulk, signed, all new",
            statistics.fmean(created),
            best,
            ratio(statistics.fmean(created), best),
        ),
        (
            "POST customers/bulk, signed, all existing",
            statistics.fmean(updated),
            best,
            ratio(statistics.fmean(updated), best),
        ),
    ]
    section.notes.append(
        f"{args.rounds} rounds, means; each record carries name, segment, ARR, success manager, health "
        "score and stage. The baseline is `Customer.objects.bulk_create` of 1000 rows of the same fields "
        "from the bench process (no HTTP, no validation, no events). Goal ≥ 10,000/s."
    )


# --- recompute: the nightly health recompute -------------------------------------------------------------


def run_recompute(section: Section, args) -> None:
    from bench import health_recompute as recompute
    from csintegration.runtime import tune_garbage_collector
    from domains.customers import health
    from domains.customers.models import Customer, ScorecardMeasure

    count = args.recompute_customers
    recompute.clean_up()
    started = time.perf_counter()
    recompute.populate(count)
    populate_seconds = time.perf_counter() - started
    total = Customer.objects.count()
    measure = ScorecardMeasure.objects.get(scorecard__is_default=True, measure="payment_status")
    original_weight = measure.weight
    section.headers = ("night", "seconds", "µs / customer", "s per 100,000", "changed", "events")

    # The recompute runs in a Celery worker, whose garbage collector is tuned once it is loaded.
    tune_garbage_collector()

    def night(label: str) -> None:
        began = time.perf_counter()
        stats = health.health_recompute_all()
        seconds = time.perf_counter() - began
        per = seconds / max(stats.customers, 1)
        section.rows.append((label, seconds, per * 1e6, per * 100_000, stats.changed, stats.events))

    try:
        night("first scoring")
        night("second night (trends settle)")
        night("steady night (nothing changed)")
        measure.weight = original_weight * 3
        measure.save()  # as the admin saves it: the cached scorecards see the edit
        night("after a scorecard edit")
    finally:
        measure.weight = original_weight
        measure.save()
        recompute.clean_up()
        mark_events_dispatched()
    section.notes.append(
        f"{total:,} customers in the database ({count:,} generated with three signals each in "
        f"{populate_seconds:.0f} s); fan-outs go to the run's Redis with no worker running. Goal: "
        "1,000,000 in ≤ 100 s, i.e. ≤ 10 s per 100,000, every night."
    )


# --- scale: list and adoption at 10,000 and 1,000,000 customers ------------------------------------------


def sequential(base: str, token: str, paths: Sequence[str], rounds: int) -> list[float]:
    parsed = urlparse(base)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    timings = []
    for index in range(rounds + 5):
        path = paths[index % len(paths)]
        started = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}: {body[:300]!r}")
        if index >= 5:
            timings.append(elapsed)
    return timings


def run_scale(section: Section, base: str, args) -> None:
    from bench import product_adoption as adoption

    section.headers = (
        "customers",
        "generated in s",
        "list p50 ms",
        "list p95 ms",
        "adoption p50 ms",
        "adoption p95 ms",
    )
    try:
        for count in args.scale_sizes:
            print(f"   {count:,} customers", flush=True)
            began = time.perf_counter()
            adoption.empty_tables()
            adoption.generate_customers(count)
            features = adoption.generate_features()
            adoption.generate_usage(count)
            adoption.bring_adoption_in(features)
            adoption.analyze()
            generated = time.perf_counter() - began
            client = make_client(base, "customers:read product:read")
            lists = sequential(base, client.token, [f"{API}/customers?risk_level=high"], args.scale_rounds)
            reports = sequential(
                base,
                client.token,
                [f"/api/v1/cs-product/adoption/{feature.feature_id}" for feature in features],
                args.scale_rounds,
            )
            section.rows.append(
                (
                    count,
                    generated,
                    statistics.median(lists),
                    percentile(lists, 0.95),
                    statistics.median(reports),
                    percentile(reports, 0.95),
                )
            )
    finally:
        adoption.empty_tables()
    section.notes.append(
        f"One request at a time over a keep-alive connection, {args.scale_rounds} each; customers and "
        "about 20 usage rows each over 20 features and 90 days generated in PostgreSQL "
        "(`bench/product_adoption.py`), the adoption aggregates built as a bulk import would. The list "
        "is the first cursor page (50) of the high-risk customers."
    )


# --- main ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter runs (about 6 min)")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections to run, of {', '.join(SECTIONS)}"
    )
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    parser.add_argument("--seconds", type=int, help="wrk duration per run (10; quick 5)")
    parser.add_argument("--rounds", type=int, help="runs per URL and bulk rounds (2)")
    args = parser.parse_args(argv)
    sections = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = [name for name in SECTIONS if name in sections]
    args.seconds = args.seconds or (5 if args.quick else 10)
    args.rounds = args.rounds or 2
    args.webhook_seconds = 10 if args.quick else 20
    args.deliveries = 1000 if args.quick else 3000
    args.recompute_customers = 20_000 if args.quick else 100_000
    args.scale_sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    args.scale_rounds = 30 if args.quick else 60
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    check_services(database_url, redis_url)
    # Kept between runs: its development keys (JWT, field encryption) must read what earlier runs stored.
    var_dir = ROOT / "var" / "bench"
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(var_dir / "metrics", ignore_errors=True)  # counters of an earlier run's processes
    args.var_dir = str(var_dir)
    configure_environment(database_url, redis_url, var_dir)

    import django

    django.setup()
    from django.core.management import call_command

    print(f"migrating {urlparse(database_url).path.lstrip('/')} …", flush=True)
    call_command("migrate", verbosity=0)
    mark_events_dispatched()

    started = time.monotonic()
    meta: dict[str, object] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "machine": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "PostgreSQL": _postgres_version(),
        "web": f"gunicorn gthread, {os.cpu_count()} workers x 8 threads (gunicorn.conf.py)",
        "mode": "quick" if args.quick else "full",
        "load average at the start": format_load(load_average()),
        "git commit": _git_commit(),
    }
    sections: list[Section] = []
    processes = Processes(var_dir)
    try:
        port = free_port()
        base = start_web(processes, port)
        client = make_client(base, "customers:read customers:write events:write")
        if "http" in args.sections:
            sections.append(
                timed_section(
                    Section("Request path against bare Django views"),
                    lambda section: run_http(section, base, client, args),
                )
            )
        if "webhooks" in args.sections:
            sections.append(
                timed_section(
                    Section("Events to webhooks"),
                    lambda section: run_webhooks(section, base, args, processes),
                )
            )
        if "bulk" in args.sections:
            client = make_client(base, "customers:read customers:write events:write")
            sections.append(
                timed_section(Section("Bulk upsert"), lambda section: run_bulk(section, base, client, args))
            )
        if "recompute" in args.sections:
            sections.append(
                timed_section(
                    Section("Nightly health recompute"), lambda section: run_recompute(section, args)
                )
            )
        if "scale" in args.sections:
            sections.append(
                timed_section(
                    Section("List and adoption at scale"), lambda section: run_scale(section, base, args)
                )
            )
    finally:
        processes.stop()
        from csintegration.clients.models import IntegrationClient
        from domains.customers.models import Customer

        IntegrationClient.objects.filter(name=CLIENT_NAME).delete()
        Customer.objects.filter(customer_id__startswith=HTTP_PREFIX).delete()
    meta["load average at the end"] = format_load(load_average())
    meta["run time"] = f"{(time.monotonic() - started) / 60:.1f} min"
    output = Path(args.output)
    output.write_text(render_results(meta, sections))
    print(f"\nwrote {output}")
    return 0


def _postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "—"


if __name__ == "__main__":
    sys.exit(main())
