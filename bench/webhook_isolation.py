"""Outbound webhooks: a slow receiver must not delay another client's deliveries.

Two runs of the same steady stream of events, in one session, on PostgreSQL and Redis with the
``Procfile``'s webhooks worker and a dispatcher: first with one healthy receiver only (the
baseline), then with a second endpoint, of another client, whose receiver drips its answer one byte
every 0.5 s. Prints the healthy endpoint's event → arrival p50 and p99 in both runs and their ratio,
and how the dripping endpoint's attempts ended (each cut off at the deadline).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_isolation REDIS_URL=redis://127.0.0.1:6379/5 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/webhook_isolation.py [--rate 20] [--seconds 30]
"""

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")
os.environ["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench.run import procfile_commands  # noqa: E402
from bench.webhook_delivery import BIN, Receiver, percentile, start, stop  # noqa: E402
from csintegration.clients.models import IntegrationClient  # noqa: E402
from csintegration.clients.services import client_create  # noqa: E402
from csintegration.events import publish  # noqa: E402
from csintegration.events.models import Event  # noqa: E402
from webhooks import deliveries  # noqa: E402
from webhooks.endpoints import endpoint_create  # noqa: E402
from webhooks.models import Delivery, Message, WebhookEndpoint  # noqa: E402

CLIENT_PREFIX = "isolation-bench"
CUSTOMER = "cust_isobench"


def drip_server(stop_event: threading.Event, interval: float) -> str:
    """A receiver that answers one byte every ``interval`` seconds, for as long as it is allowed."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)

    def answer(connection) -> None:
        try:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000:
                if stop_event.is_set():
                    break
                connection.sendall(bytes([byte]))
                time.sleep(interval)
        except OSError:
            pass
        finally:
            connection.close()

    def serve() -> None:
        while not stop_event.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/drip"


def clean_up() -> None:
    with transaction.atomic():
        WebhookEndpoint.objects.filter(client__name__startswith=CLIENT_PREFIX).delete()
        Message.objects.filter(customer_id=CUSTOMER).delete()
        Event.objects.filter(customer_id=CUSTOMER).delete()
        IntegrationClient.objects.filter(name__startswith=CLIENT_PREFIX).delete()


def stream(rate: float, seconds: float) -> dict[str, float]:
    """Publish health changes at ``rate`` per second; returns each event's id and publish time."""
    sent: dict[str, float] = {}
    interval, started = 1 / rate, time.monotonic()
    for number in range(int(rate * seconds)):
        time.sleep(max(0.0, started + number * interval - time.monotonic()))
        moment = time.time()
        with transaction.atomic():
            event = publish(
                "health_score_change",
                customer_id=CUSTOMER,
                payload={"previous_score": 70, "new_score": 60 + number % 20, "change_reason": "bench"},
            )
        sent[event.event_id] = moment
    return sent


def dispatcher(stop_event: threading.Event) -> None:
    """Stands in for beat's webhooks.dispatch_due_deliveries (every 5 s)."""
    while not stop_event.wait(5):
        deliveries.deliveries_dispatch_due()
    connection.close()


def latencies(sent: dict[str, float], arrivals, path: str) -> list[float]:
    events = dict(Message.objects.filter(event_id__in=list(sent)).values_list("id", "event_id"))
    return [
        (arrived - sent[events[message_id]]) * 1000
        for message_id, arrived_path, arrived in arrivals
        if arrived_path == path and message_id in events
    ]


def run(rate: float, seconds: float, with_drip: bool, drip_url: str, receiver: Receiver) -> dict[str, float]:
    clean_up()
    healthy = client_create(name=f"{CLIENT_PREFIX} healthy", scopes="webhooks:manage customers:read")
    endpoint_create(client=healthy.client, url=receiver.url("/healthy"), event_types=["health_score_change"])
    if with_drip:
        slow = client_create(name=f"{CLIENT_PREFIX} slow", scopes="webhooks:manage customers:read")
        endpoint_create(client=slow.client, url=drip_url, event_types=["health_score_change"])
    stop_event = threading.Event()
    thread = threading.Thread(target=dispatcher, args=(stop_event,), daemon=True)
    thread.start()
    sent = stream(rate, seconds)
    time.sleep(5)  # the last deliveries' way through
    stop_event.set()
    thread.join()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="events per second")
    parser.add_argument("--seconds", type=float, default=30, help="duration of each run")
    parser.add_argument("--drip-interval", type=float, default=0.5, help="seconds between dripped bytes")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        sys.exit("Run this on PostgreSQL and Redis (DATABASE_URL=postgres://…, REDIS_URL=redis://…).")
    call_command("migrate", verbosity=0)
    drip_stop = threading.Event()
    drip_url = drip_server(drip_stop, args.drip_interval)
    # The Procfile's own webhooks worker, so that the figure is the one production gets.
    webhooks = procfile_commands()["webhooks"]
    worker = start(
        [
            *(word.replace(".venv/bin/", f"{BIN}/") for word in webhooks),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        "isolation-worker",
    )
    results = {}
    try:
        time.sleep(4)
        for label, with_drip in (
            ("baseline, healthy receiver only", False),
            ("with a dripping receiver", True),
        ):
            receiver = Receiver()
            sent = run(args.rate, args.seconds, with_drip, drip_url, receiver)
            arrivals = receiver.stop()
            values = latencies(sent, arrivals, "/healthy")
            results[label] = values
            drip_ends = list(
                Delivery.objects.filter(endpoint__url=drip_url).values_list("last_error", flat=True)[:3]
            )
            print(
                f"{label}: {len(sent)} events at {args.rate:g}/s; healthy endpoint {len(values)} arrived, "
                f"p50 {statistics.median(values):.0f} ms, p99 {percentile(values, 0.99):.0f} ms"
                + (f"; dripping endpoint's attempts: {drip_ends[:1]}" if with_drip else "")
            )
    finally:
        drip_stop.set()
        stop(worker)
        clean_up()
    baseline, dripped = results.values()
    print(
        f"healthy endpoint p99 with the drip ÷ without: "
        f"{percentile(dripped, 0.99) / percentile(baseline, 0.99):.2f} "
        f"(load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
