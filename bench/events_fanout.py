"""Domain events: the cost of publish() in a request's transaction, and commit-to-dispatched latency.

Run with the Procfile's workers up (same DATABASE_URL / REDIS_URL / VAR_DIR):

    .venv/bin/python bench/events_fanout.py --events 500
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")

import django

django.setup()

from django.db import transaction  # noqa: E402

from csintegration.events import publish  # noqa: E402
from csintegration.events.models import Event  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    publish_seconds, committed_at = [], {}
    for number in range(args.events):
        event_type = "churn_risk_detected" if number % 10 == 0 else "customer.updated"
        started = time.perf_counter()
        with transaction.atomic():
            event = publish(event_type, customer_id=f"cust_bench{number}", payload={"n": number})
        publish_seconds.append(time.perf_counter() - started)  # includes the commit and the enqueue
        committed_at[event.event_id] = event.created_at

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        waiting = Event.objects.filter(pk__in=list(committed_at), dispatched_at__isnull=True).count()
        if not waiting:
            break
        time.sleep(0.2)
    done = Event.objects.filter(pk__in=list(committed_at), dispatched_at__isnull=False)
    latencies = sorted((e.dispatched_at - committed_at[e.pk]).total_seconds() for e in done)
    ms = sorted(seconds * 1000 for seconds in publish_seconds)
    print(f"published {args.events} events, one transaction each")
    p95_ms = ms[int(len(ms) * 0.95)]
    print(f"publish+commit+enqueue: median {statistics.median(ms):.2f} ms, p95 {p95_ms:.2f} ms")
    if latencies:
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(
            f"dispatched {len(latencies)}/{args.events}; commit→dispatched median "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
        )
    Event.objects.filter(pk__in=list(committed_at)).delete()


if __name__ == "__main__":
    main()
