"""Operations workflows: how fast a rule acts on a health signal, and how many runs the workers finish.

Run on PostgreSQL and Redis; it starts its own gunicorn and Celery worker on 127.0.0.1:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/operations REDIS_URL=redis://127.0.0.1:6379/8 \\
        VAR_DIR=/tmp/bench-ops .venv/bin/python bench/operations_workflows.py [--rates 10,1] [--seconds 20] \\
        [--runs 200] [--concurrency 2]

(a) Signal to action: ``POST …/events/health-change`` with a 25-point drop, at a steady rate, each for a
    customer of its own; the default rule starts ``health_decline_intervention`` in the request's
    transaction and its first step's task is enqueued on commit. For each event, the time from the start
    of the POST to the first step's ``started_at`` (p50, p99). Baseline, same rate, same worker: a run of
    one no-op step created straight through the service (commit, enqueue, a worker claims the step), i.e.
    the engine's own round trip without the API, the health engine and the rule.
(b) Throughput: N runs of the seed's four steps (alert e-mail, check-in task, playbook tasks, account-team
    e-mail; console mail backend) created at once, finished by one worker with 2 processes: runs completed
    per second. Baseline, same run: N runs of four no-op steps.
(c) Assignment: the same stream of 3000 tasks (skills, effort, duration from the demo's playbooks) given to
    the demo team by this platform's rule (skill, then free capacity) and by Vitally's baselines (fewest
    accounts, least revenue): skill-matching accuracy and how evenly the load falls. Pure computation.
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ["OPERATIONS_ACTION_MODULES"] = "bench.operations_actions"
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from csintegration.clients.models import IntegrationClient  # noqa: E402
from csintegration.clients.services import client_create  # noqa: E402
from csintegration.events.models import Event  # noqa: E402
from domains.customers import services as customer_services  # noqa: E402
from domains.customers.models import Customer  # noqa: E402
from domains.operations import services  # noqa: E402
from domains.operations.assignment import ManagerLoad, choose_assignee  # noqa: E402
from domains.operations.demo import TEAM, seed_team  # noqa: E402
from domains.operations.models import CSTask, PlaybookTask, RuleFiring, WorkflowRun, WorkflowStep  # noqa: E402

CLIENT_NAME = "operations-bench"
PREFIX = "cust_opsbench"
BIN = ROOT / ".venv" / "bin"
SEED_STEPS = [
    "send_immediate_alert",
    "schedule_priority_check_in",
    "deploy_success_playbook",
    "notify_account_team",
]


# --- Processes ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], name: str) -> subprocess.Popen:
    log = open(Path(settings.VAR_DIR) / f"bench-ops-{name}.log", "w")
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"Timed out waiting for {what}.")
        time.sleep(0.05)


def web_is_up(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v1/cs-integration/health", timeout=1).status_code in (200, 503)
    except requests.RequestException:
        return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- Data -----------------------------------------------------------------------------------------------


def clean_up() -> None:
    with transaction.atomic():
        runs = WorkflowRun.objects.filter(customer_id__startswith=PREFIX)
        RuleFiring.objects.filter(customer_id__startswith=PREFIX).delete()
        CSTask.objects.filter(customer_id__startswith=PREFIX).delete()
        WorkflowStep.objects.filter(run__in=runs).delete()
        runs.delete()
        Event.objects.filter(customer_id__startswith=PREFIX).delete()
        Customer.objects.filter(customer_id__startswith=PREFIX).delete()
        IntegrationClient.objects.filter(name=CLIENT_NAME).delete()


def make_customers(count: int) -> list[str]:
    ids = []
    for index in range(count):
        customer = customer_services.customer_create(
            customer_id=f"{PREFIX}{index:05d}",
            data={"name": f"Ops bench {index}", "health_score": 85, "success_manager": TEAM[index % 4][0]},
        )
        ids.append(customer.customer_id)
    return ids


# --- (a) signal to action -------------------------------------------------------------------------------


def first_step_latencies(started_by_run: dict[str, float], timeout: float = 120) -> list[float]:
    """ms from each run's reference moment to its first step's started_at."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = dict(
            WorkflowStep.objects.filter(
                run_id__in=list(started_by_run), position=0, started_at__isnull=False
            ).values_list("run_id", "started_at")
        )
        if len(rows) >= len(started_by_run):
            break
        time.sleep(0.2)
    return [
        (rows[run_id].timestamp() - moment) * 1000
        for run_id, moment in started_by_run.items()
        if run_id in rows
    ]


def measure_signal_to_action(
    base: str, bearer: str, customers: list[str], rate: float
) -> tuple[list[float], list[float]]:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))
    session.headers["Authorization"] = f"Bearer {bearer}"
    posted: dict[str, float] = {}
    post_ms: list[float] = []

    def send(customer_id: str) -> None:
        began = time.time()
        response = session.post(
            f"{base}/api/v1/cs-integration/events/health-change",
            json={
                "customer_id": customer_id,
                "previous_score": 85,
                "new_score": 60,
                "change_reason": "decreased_usage",
            },
            timeout=30,
        )
        if response.status_code != 202:
            print(f"  POST failed: {response.status_code} {response.text[:200]}")
            return
        posted[response.json()["event_id"]] = began
        post_ms.append((time.time() - began) * 1000)

    with ThreadPoolExecutor(max_workers=16) as pool:
        began = time.monotonic()
        for number, customer_id in enumerate(customers):
            pause = began + number / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, customer_id)
    by_run = {
        run_id: posted[event_id]
        for run_id, event_id in WorkflowRun.objects.filter(trigger_event_id__in=list(posted)).values_list(
            "run_id", "trigger_event_id"
        )
    }
    if len(by_run) < len(posted):
        print(f"  only {len(by_run)} of {len(posted)} events started a run")
    return first_step_latencies(by_run), post_ms


def measure_engine_round_trip(customers: list[str], rate: float) -> list[float]:
    started: dict[str, float] = {}
    began = time.monotonic()
    for number, customer_id in enumerate(customers):
        pause = began + number / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        moment = time.time()
        with transaction.atomic():
            run = services.workflow_run_start(
                customer_id=customer_id,
                workflow_type="health_decline_intervention",
                step_names=["bench_noop"],
                triggered_by="api",
            )
        started[run.run_id] = moment
    return first_step_latencies(started)


# --- (b) throughput -------------------------------------------------------------------------------------


def wait_idle(prefix: str = PREFIX, timeout: float = 900) -> float:
    """Wait until every bench run has finished; returns when the last one did (epoch seconds)."""
    runs = WorkflowRun.objects.filter(customer_id__startswith=prefix)
    wait_for(
        lambda: not runs.filter(status__in=("queued", "running")).exists(), timeout, "the runs to finish"
    )
    last = runs.order_by("-finished_at").values_list("finished_at", flat=True).first()
    return last.timestamp() if last else time.time()


def measure_runs_per_second(customers: list[str], count: int, steps: list[str]) -> float:
    with transaction.atomic():
        ids = [
            services.workflow_run_start(
                customer_id=customers[index % len(customers)],
                workflow_type="health_decline_intervention",
                step_names=steps,
                triggered_by="api",
            ).run_id
            for index in range(count)
        ]
    committed = time.time()  # the first steps are enqueued on commit, just before this
    done = WorkflowRun.objects.filter(run_id__in=ids, status__in=("completed", "failed"))
    wait_for(lambda: done.count() >= count, 600, f"{count} runs")
    failed = done.filter(status="failed").count()
    if failed:
        print(f"  {failed} runs failed")
    last = max(done.values_list("finished_at", flat=True)).timestamp()
    return count / (last - committed)


# --- (c) assignment -------------------------------------------------------------------------------------


def simulate_assignment(strategy: str, *, tasks: int = 3000, seed: int = 7) -> dict[str, float]:
    """A stream of tasks over simulated weeks: assign, then release each when its work is done."""
    rng = random.Random(seed)
    managers = [
        ManagerLoad(index, email, frozenset(skills), float(capacity))
        for index, (email, _first, _last, skills, capacity) in enumerate(TEAM)
    ]
    templates = list(PlaybookTask.objects.values_list("required_skill_id", "effort_hours", "due_in_days"))
    customers = [(f"c{index}", rng.lognormvariate(11, 1.0)) for index in range(300)]
    owner: dict[str, int] = {}
    accounts = {m.manager_id: set() for m in managers}
    revenue = {m.manager_id: 0.0 for m in managers}
    open_work: list[tuple[float, int, float]] = []
    loads = {m.manager_id: m for m in managers}
    matched = needing = 0
    samples = []
    clock = 0.0
    for _ in range(tasks):
        clock += rng.expovariate(1 / 1.7)  # hours between tasks: the team about 70 % loaded on average
        for item in [w for w in open_work if w[0] <= clock]:
            open_work.remove(item)
            load = loads[item[1]]
            loads[item[1]] = ManagerLoad(
                load.manager_id,
                load.email,
                load.skills,
                load.capacity_hours,
                load.open_hours - item[2],
                load.open_tasks - 1,
            )
        skill, effort, days = rng.choice(templates)
        customer, arr = rng.choice(customers)
        if strategy == "capacity":
            preferred = loads[owner[customer]].email if customer in owner else None
            chosen = choose_assignee(
                list(loads.values()), required_skill=skill, effort_hours=effort, preferred_email=preferred
            ).manager_id
        elif strategy == "fewest_accounts":
            chosen = (
                owner[customer] if customer in owner else min(accounts, key=lambda m: (len(accounts[m]), m))
            )
        else:
            chosen = owner[customer] if customer in owner else min(revenue, key=lambda m: (revenue[m], m))
        if customer not in owner:
            owner[customer] = chosen
            accounts[chosen].add(customer)
            revenue[chosen] += arr
        if skill:
            needing += 1
            matched += skill in loads[chosen].skills
        loads[chosen] = loads[chosen].with_task(effort)
        open_work.append((clock + days * 24 * rng.uniform(0.3, 1.0), chosen, effort))
        shares = [load.utilisation for load in loads.values()]
        mean = statistics.fmean(shares)
        samples.append((max(shares), statistics.pstdev(shares) / mean if mean else 0.0, mean))
    return {
        "skill_match": matched / needing,
        "peak_utilisation": max(sample[0] for sample in samples),
        "mean_spread": statistics.fmean(sample[1] for sample in samples),
        "overloaded_share": sum(1 for sample in samples if sample[0] > 1.0) / len(samples),
        "mean_utilisation": statistics.fmean(sample[2] for sample in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", default="10,1", help="events per second in (a), comma-separated: one phase per rate"
    )
    parser.add_argument("--seconds", type=float, default=20, help="duration of (a) and of its baseline")
    parser.add_argument("--runs", type=int, default=200, help="runs in each half of (b)")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print(
            "Run this on PostgreSQL and Redis (DATABASE_URL=postgres://…, REDIS_URL=redis://…).",
            file=sys.stderr,
        )
        sys.exit(2)

    call_command("migrate", verbosity=0)
    clean_up()
    seed_team()
    rates = [float(rate) for rate in args.rates.split(",")]
    counts = [max(1, int(rate * args.seconds)) for rate in rates]
    customers = make_customers(2 * sum(counts))
    credentials = client_create(
        name=CLIENT_NAME,
        scopes="events:write",
        rate_limits={"realtime": "1000000/hour", "standard": "1000000/hour"},
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [
        start(
            [
                str(BIN / "gunicorn"),
                "csintegration.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
            ],
            "web",
        ),
        start(
            [
                str(BIN / "celery"),
                "-A",
                "csintegration",
                "worker",
                "--queues",
                "critical,default",
                "--concurrency",
                str(args.concurrency),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            "worker",
        ),
    ]
    try:
        wait_for(lambda: web_is_up(base), 30, "gunicorn")
        response = requests.post(
            f"{base}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client.client_id, credentials.client_secret),
            timeout=10,
        )
        bearer = response.json()["access_token"]
        time.sleep(3)  # the worker finishes starting
        print(f"{os.cpu_count()} CPUs, shared and loaded; worker processes: {args.concurrency}")
        # Each phase starts with the worker idle: a backlog of one phase must not slow the next.
        phases, offset = [], 0
        for rate, count in zip(rates, counts, strict=True):
            baseline_ms = measure_engine_round_trip(customers[offset : offset + count], rate)
            wait_idle()
            began = time.time()
            signal_ms, post_ms = measure_signal_to_action(
                base, bearer, customers[offset + count : offset + 2 * count], rate
            )
            phases.append((rate, signal_ms, post_ms, baseline_ms, wait_idle() - began))
            offset += 2 * count
        noop = measure_runs_per_second(customers, args.runs, ["bench_noop"] * 4)
        full = measure_runs_per_second(customers, args.runs, SEED_STEPS)
    finally:
        for process in processes:
            stop(process)

    for rate, signal_ms, post_ms, baseline_ms, drained in phases:
        print(f"(a) {len(signal_ms)} health-change events at {rate:g}/s")
        print(
            f"    POST answered: p50 {statistics.median(post_ms):.0f} ms, "
            f"p99 {percentile(post_ms, 0.99):.0f} ms"
        )
        p50, p99 = statistics.median(signal_ms), percentile(signal_ms, 0.99)
        b50, b99 = statistics.median(baseline_ms), percentile(baseline_ms, 0.99)
        print(f"    event → first step started: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
        print(f"    baseline (service → enqueue → claim, one no-op step): p50 {b50:.0f} ms, p99 {b99:.0f} ms")
        print(f"    ratio: p50 {p50 / b50:.2f}x, p99 {p99 / b99:.2f}x")
        print(
            f"    all {len(signal_ms)} interventions (4 steps each) finished "
            f"{drained:.1f} s after the first POST"
        )
    print(f"(b) {args.runs} runs of the seed's 4 steps: {full:.1f} runs/s ({full * 4:.0f} steps/s)")
    print(f"    baseline, 4 no-op steps: {noop:.1f} runs/s; ratio {full / noop:.2f}")
    print("(c) assignment of the same 3000 tasks (the same work: mean utilisation about 0.6 for all three):")
    for strategy in ("capacity", "fewest_accounts", "least_revenue"):
        result = simulate_assignment(strategy)
        print(
            f"    {strategy:16s} skill match {result['skill_match']:.2f}, peak utilisation "
            f"{result['peak_utilisation']:.2f}, mean spread {result['mean_spread']:.2f}, "
            f"time with someone overloaded {result['overloaded_share']:.1%} "
            f"(mean utilisation {result['mean_utilisation']:.2f})"
        )
    clean_up()


if __name__ == "__main__":
    main()
