"""Outbound webhooks: end-to-end latency under a steady event rate, and delivery throughput.

Run on PostgreSQL and Redis, everything on 127.0.0.1 (it starts its own gunicorn, Celery worker and
receiver, and admits 127.0.0.0/8 through WEBHOOK_ALLOWED_NETWORKS for the run):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_webhooks REDIS_URL=redis://127.0.0.1:6379/5 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/webhook_delivery.py

(a) Latency: ``POST …/events/health-change`` at a steady rate (default 50 events/s) for a while, five
    endpoints subscribed to ``health_score_change``; for every delivery, the time from the start of the
    POST to its arrival at the receiver (through the outbox fan-out, the webhooks subscriber and the
    delivery task). p50, p99 and max.
(b) Throughput: N deliveries queued at once to a fast local receiver, sent by one Celery worker with
    2 processes, against N bare ``requests.post`` calls from one process (and N calls on one pooled
    ``requests.Session``) to the same receiver in the same run.
"""

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from csintegration.clients.models import IntegrationClient  # noqa: E402
from csintegration.clients.services import client_create  # noqa: E402
from csintegration.events.models import Event  # noqa: E402
from domains.customers import services as customer_services  # noqa: E402
from domains.customers.models import Customer  # noqa: E402
from webhooks.deliveries import enqueue_deliveries  # noqa: E402
from webhooks.models import Delivery, DeliveryStatus, Message, WebhookEndpoint  # noqa: E402

CLIENT_NAME = "webhook-bench"
CUSTOMER_PREFIX = "cust_whbench"
BIN = ROOT / ".venv" / "bin"


# --- The receiver: a separate process answering 204 at once and noting when each request arrived ----------


def _serve(port_pipe, stop_event, results_pipe) -> None:
    arrivals: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            arrived = time.time()
            with lock:
                arrivals.append((self.headers.get("webhook-id") or "", self.path, arrived))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 512
    port_pipe.send(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop_event.wait()
    server.shutdown()
    with lock:
        results_pipe.send(list(arrivals))


class Receiver:
    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        port_parent, port_child = context.Pipe()
        self._results_parent, results_child = context.Pipe()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve, args=(port_child, self._stop, results_child), daemon=True
        )
        self._process.start()
        self.port = port_parent.recv()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> list[tuple[str, str, float]]:
        self._stop.set()
        arrivals = self._results_parent.recv()
        self._process.join(5)
        return arrivals


# --- Processes of the platform --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], name: str) -> subprocess.Popen:
    log = open(Path(settings.VAR_DIR) / f"bench-{name}.log", "w")
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"Timed out waiting for {what}.")
        time.sleep(0.05)


def web_is_up(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v1/cs-integration/health", timeout=1).status_code in (200, 503)
    except requests.RequestException:
        return False


# --- Set-up and clean-up of the bench data --------------------------------------------------------------


def clean_up() -> None:
    with transaction.atomic():
        WebhookEndpoint.objects.filter(client__name=CLIENT_NAME).delete()
        Message.objects.filter(customer_id__startswith=CUSTOMER_PREFIX).delete()
        Message.objects.filter(event_id__startswith="evt_whbench").delete()
        Event.objects.filter(customer_id__startswith=CUSTOMER_PREFIX).delete()
        Customer.objects.filter(customer_id__startswith=CUSTOMER_PREFIX).delete()
        IntegrationClient.objects.filter(name=CLIENT_NAME).delete()


def token(base: str, credentials) -> str:
    response = requests.post(
        f"{base}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client.client_id, credentials.client_secret),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- (a) latency ----------------------------------------------------------------------------------------


def measure_latency(
    base: str, bearer: str, receiver: Receiver, *, rate: float, seconds: float, customers: int
):
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    session.headers["Authorization"] = f"Bearer {bearer}"
    sent: dict[str, float] = {}
    post_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    scores = {index: 70 for index in range(customers)}

    def send(index: int, previous: int, new: int) -> None:
        body = {
            "customer_id": f"{CUSTOMER_PREFIX}{index:05d}",
            "previous_score": previous,
            "new_score": new,
            "change_reason": "usage_decline" if new < previous else "usage_growth",
        }
        started = time.time()
        response = session.post(f"{base}/api/v1/cs-integration/events/health-change", json=body, timeout=30)
        with lock:
            if response.status_code == 202:
                sent[response.json()["event_id"]] = started
                post_ms.append((time.time() - started) * 1000)
            else:
                errors.append(f"{response.status_code} {response.text[:200]}")

    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=32) as pool:
        began = time.monotonic()
        for number in range(total):
            pause = began + number / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            index = number % customers
            previous = scores[index]
            scores[index] = 60 + (previous - 59) % 20  # moves every time, stays in one risk band
            pool.submit(send, index, previous, scores[index])
        offered = time.monotonic() - began
    if errors:
        print(f"  {len(errors)} POSTs failed, e.g. {errors[0]}")
    expected = len(sent) * 5
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = Delivery.objects.filter(
            message__event_id__in=list(sent), status=DeliveryStatus.SUCCEEDED
        ).count()
        if done >= expected:
            break
        time.sleep(0.2)
    return sent, post_ms, offered, expected


# --- (b) throughput -------------------------------------------------------------------------------------


def queue_deliveries(endpoint_ids: list[str], count: int) -> tuple[list[str], str]:
    """``count`` deliveries spread over the endpoints, written as the subscriber writes them, not queued."""
    now, lease = timezone.now(), uuid.uuid4().hex
    body = json.dumps(
        {
            "event": "health_score_change",
            "customer_id": "cust_whbench_t",
            "previous_score": 80,
            "new_score": 65,
            "change_reason": "usage_decline",
            "timestamp": "2025-12-05T08:20:00Z",
        },
        separators=(",", ":"),
    )
    messages = [
        Message(
            event_id=f"evt_whbench{index:08d}", event_type="health_score_change", body=body, occurred_at=now
        )
        for index in range(count)
    ]
    deliveries = [
        Delivery(
            message=message,
            endpoint_id=endpoint_ids[index % len(endpoint_ids)],
            event_type="health_score_change",
            next_attempt_at=now,
            lease_token=lease,
            lease_expires_at=now + timedelta(minutes=30),
        )
        for index, message in enumerate(messages)
    ]
    with transaction.atomic():
        Message.objects.bulk_create(messages, batch_size=1000)
        Delivery.objects.bulk_create(deliveries, batch_size=1000)
    return [delivery.pk for delivery in deliveries], lease


def measure_throughput(endpoint_ids: list[str], receiver: Receiver, count: int) -> float:
    ids, lease = queue_deliveries(endpoint_ids, count)
    started = time.perf_counter()
    enqueue_deliveries(ids, lease)
    done = Delivery.objects.filter(
        message__event_id__startswith="evt_whbench", status=DeliveryStatus.SUCCEEDED
    )
    while done.count() < count:
        if time.perf_counter() - started > 300:
            raise SystemExit("Throughput run did not finish within 300 s.")
        time.sleep(0.1)
    return count / (time.perf_counter() - started)


def measure_bare(url: str, count: int, *, pooled: bool) -> float:
    body = json.dumps({"event": "health_score_change", "customer_id": "cust_whbench_t", "new_score": 65})
    headers = {"Content-Type": "application/json"}
    session = requests.Session() if pooled else None
    started = time.perf_counter()
    for _ in range(count):
        response = (session or requests).post(url, data=body, headers=headers, timeout=15)
        response.raise_for_status()
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50, help="events per second in (a)")
    parser.add_argument("--seconds", type=float, default=30, help="duration of (a)")
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=3000, help="deliveries sent in (b)")
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
    credentials = client_create(
        name=CLIENT_NAME,
        scopes="events:write webhooks:manage customers:write",
        rate_limits={"realtime": "1000000/hour", "admin": "100000/hour"},
    )
    for index in range(args.customers):
        customer_services.customer_create(
            data={"name": f"Webhook bench {index}", "health_score": 70},
            customer_id=f"{CUSTOMER_PREFIX}{index:05d}",
        )
    Event.objects.filter(customer_id__startswith=CUSTOMER_PREFIX).update(dispatched_at=timezone.now())

    receiver = Receiver()
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
                "4",
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
                "critical,webhooks,default",
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
        bearer = token(base, credentials)
        endpoint_ids = []
        for index in range(args.endpoints):
            response = requests.post(
                f"{base}/api/v1/cs-integration/webhooks",
                json={"url": receiver.url(f"/hooks/{index}"), "events": ["health_score_change"]},
                headers={"Authorization": f"Bearer {bearer}"},
                timeout=10,
            )
            response.raise_for_status()
            endpoint_ids.append(response.json()["id"])
        time.sleep(3)  # let the worker finish starting

        print(f"{os.cpu_count()} CPUs; worker processes: {args.concurrency}; {args.endpoints} endpoints")
        sent, post_ms, offered, expected = measure_latency(
            base, bearer, receiver, rate=args.rate, seconds=args.seconds, customers=args.customers
        )
        throughput = measure_throughput(endpoint_ids, receiver, args.deliveries)
        bare = measure_bare(receiver.url("/bare"), args.deliveries, pooled=False)
        pooled = measure_bare(receiver.url("/bare"), args.deliveries, pooled=True)
    finally:
        for process in processes:
            stop(process)
        arrivals = receiver.stop()

    message_events = dict(Message.objects.filter(event_id__in=list(sent)).values_list("id", "event_id"))
    latencies = [
        (arrived - sent[message_events[message_id]]) * 1000
        for message_id, path, arrived in arrivals
        if path.startswith("/hooks/") and message_id in message_events
    ]
    fan_out_ms = [
        (dispatched - created).total_seconds() * 1000
        for created, dispatched in Event.objects.filter(
            pk__in=list(sent), dispatched_at__isnull=False
        ).values_list("created_at", "dispatched_at")
    ]
    achieved = len(sent) / offered if offered else 0
    print(
        f"(a) {len(sent)} health-change events at {achieved:.1f}/s offered over {offered:.1f} s "
        f"→ {len(latencies)} of {expected} deliveries arrived"
    )
    if latencies:
        print(
            f"    POST → receiver: p50 {statistics.median(latencies):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
        )
    if fan_out_ms:
        print(
            f"    event written → fan-out done (deliveries queued): "
            f"p50 {statistics.median(fan_out_ms):.0f} ms, "
            f"p99 {percentile(fan_out_ms, 0.99):.0f} ms"
        )
    if post_ms:
        print(
            f"    POST answered (202): p50 {statistics.median(post_ms):.0f} ms, "
            f"p99 {percentile(post_ms, 0.99):.0f} ms"
        )
    print(
        f"(b) {args.deliveries} deliveries through the worker "
        f"({args.concurrency} processes): {throughput:.0f}/s"
    )
    print(
        f"    bare requests.post from one process: {bare:.0f}/s; one pooled requests.Session: {pooled:.0f}/s"
    )
    clean_up()


if __name__ == "__main__":
    main()
