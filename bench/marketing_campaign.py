"""POST /api/v1/cs-marketing/campaigns on a large segment: the time to answer (the audience resolved and
every member enrolled with its snapshot, set-based, in the request) and the time until every member's
marketing status is active (the campaign_members_enrolled events, 1000 members each, projected by a
Celery worker's fan-out), against a baseline in the same run: the ORM's ``bulk_create`` of the same
membership rows, built from the same customers.

Run against PostgreSQL and Redis of your own (it adds customers with ids cust_bmk…, a segment and
campaigns, and removes them at the end); it starts its own gunicorn and Celery worker on 127.0.0.1:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/marketing REDIS_URL=redis://127.0.0.1:6379/4 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/marketing_campaign.py --customers 100000 [--rounds 3]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csintegration.settings")

import django

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from csintegration.clients.models import IntegrationClient  # noqa: E402
from csintegration.clients.services import client_create  # noqa: E402
from csintegration.events.models import Event  # noqa: E402
from domains.customers.models import Customer  # noqa: E402
from domains.customers.models import Segment as BusinessSegment  # noqa: E402
from domains.marketing.models import Campaign, CampaignMember, MemberGroup, MemberSource, Segment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PREFIX = "cust_bmk"
SEGMENT_KEY = "bench_low_engagement"
CLIENT_NAME = "marketing campaign bench"
SEGMENTS = list(BusinessSegment)


def populate(count: int) -> None:
    """``count`` customers with an engagement score below 2: all of them in the bench segment."""
    existing = Customer.objects.filter(customer_id__startswith=PREFIX).count()
    batch = 5000
    for start in range(existing, count, batch):
        rows = [
            Customer(
                customer_id=f"{PREFIX}{index:07d}",
                name=f"Bench {index}",
                segment=SEGMENTS[index % len(SEGMENTS)],
                health_score=20 + index % 60,
                engagement_score=(index % 20) / 10,
                adoption_rate=(index % 11) / 10,
                nps_score=(index * 7) % 201 - 100,
            )
            for index in range(start, min(start + batch, count))
        ]
        with transaction.atomic():
            Customer.objects.bulk_create(rows, batch_size=1000)
    Segment.objects.update_or_create(
        key=SEGMENT_KEY,
        defaults={"name": "Bench: engagement below 2", "filters": {"engagement_score_below": 2}},
    )


def clean_up() -> None:
    with transaction.atomic():
        campaigns = Campaign.objects.filter(name__startswith="Bench ")
        Event.objects.filter(payload__campaign_id__in=list(campaigns.values_list("pk", flat=True))).delete()
        campaigns.delete()
        Segment.objects.filter(key=SEGMENT_KEY).delete()
        IntegrationClient.objects.filter(name=CLIENT_NAME).delete()
    # Customers last, in batches (their memberships, history and events go with them).
    while True:
        ids = list(
            Customer.objects.filter(customer_id__startswith=PREFIX).values_list("pk", flat=True)[:10000]
        )
        if not ids:
            break
        with transaction.atomic():
            Event.objects.filter(customer_id__in=ids).delete()
            Customer.objects.filter(pk__in=ids).delete()


def reset_marketing_status() -> None:
    Customer.objects.filter(customer_id__startswith=PREFIX).update(marketing_status="not_enrolled")


def baseline_bulk_create() -> float:
    """The ORM's way: read the segment's customers, build one membership object each, bulk_create them."""
    from domains.marketing.selectors import segment_customers

    segment = Segment.objects.get(key=SEGMENT_KEY)
    started = time.perf_counter()
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name="Bench baseline", campaign_type="retention", trigger_type="bench", segment_keys=[SEGMENT_KEY]
        )
        customers = segment_customers(filters=segment.filters).values_list(
            "customer_id", "health_score", "engagement_score", "adoption_rate", "lifecycle_stage"
        )
        CampaignMember.objects.bulk_create(
            [
                CampaignMember(
                    campaign=campaign,
                    customer_id=customer_id,
                    group=MemberGroup.TREATMENT,
                    source=MemberSource.AUDIENCE,
                    baseline_health_score=health,
                    baseline_engagement_score=engagement,
                    baseline_adoption_rate=adoption,
                    baseline_lifecycle_stage=stage,
                )
                for customer_id, health, engagement, adoption, stage in customers.iterator(chunk_size=5000)
            ],
            batch_size=1000,
        )
    seconds = time.perf_counter() - started
    campaign.delete()
    return seconds


def post_campaign(base: str, bearer: str, index: int, timeout: float) -> tuple[float, float, int]:
    """(seconds to the 201, seconds until every member is projected active, members)."""
    reset_marketing_status()
    started = time.perf_counter()
    response = requests.post(
        f"{base}/api/v1/cs-marketing/campaigns",
        json={
            "name": f"Bench {index}",
            "trigger_type": "low_engagement",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": [SEGMENT_KEY]},
        },
        headers={"Authorization": f"Bearer {bearer}"},
        timeout=300,
    )
    answered = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    members = body["members"]
    deadline = time.monotonic() + timeout
    while True:
        waiting = Customer.objects.filter(
            customer_id__startswith=PREFIX, campaign_memberships__campaign_id=body["campaign_id"]
        ).exclude(marketing_status="active")
        if not waiting.exists():
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{waiting.count()} members still not active after {timeout} s")
        time.sleep(0.1)
    projected = time.perf_counter() - started
    return answered, projected, members


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
        time.sleep(0.1)


def web_is_up(base: str) -> bool:
    try:
        return requests.get(f"{base}/api/v1/cs-integration/health", timeout=1).status_code in (200, 503)
    except requests.RequestException:
        return False


def worker_is_up() -> bool:
    from csintegration.celery import app

    return bool(app.control.ping(timeout=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the Celery worker")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", action="store_true", help="keep the bench customers for another run")
    args = parser.parse_args()
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
        raise SystemExit("Run it on PostgreSQL and Redis (DATABASE_URL, REDIS_URL).")

    call_command("migrate", verbosity=0)
    populate(args.customers)
    size = Customer.objects.filter(engagement_score__lt=2).count()
    credentials = client_create(
        name=CLIENT_NAME,
        scopes=["marketing:read", "marketing:write"],
        rate_limits={"standard": "100000/hour"},
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    processes = [
        start([str(BIN / "gunicorn"), "csintegration.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
               "--threads", "2", "--timeout", "300"], "marketing-web"),
        start([str(BIN / "celery"), "-A", "csintegration", "worker", "--queues",
               "critical,webhooks,default,bulk", "--concurrency", str(args.concurrency),
               "--loglevel", "WARNING", "--without-gossip", "--without-mingle"], "marketing-worker"),
    ]  # fmt: skip
    try:
        wait_for(lambda: web_is_up(base), 60, "gunicorn")
        wait_for(worker_is_up, 60, "the Celery worker")
        bearer = requests.post(
            f"{base}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client.client_id, credentials.client_secret),
            timeout=30,
        ).json()["access_token"]
        print(f"segment {SEGMENT_KEY}: {size} customers (of {Customer.objects.count()})")
        baselines, answers, projections = [], [], []
        for index in range(args.rounds):
            baselines.append(baseline_bulk_create())
            answered, projected, members = post_campaign(base, bearer, index, args.timeout)
            answers.append(answered)
            projections.append(projected)
            print(
                f"round {index + 1}: bulk_create baseline {baselines[-1]:.2f} s | POST answered "
                f"{answered:.2f} s ({members} members enrolled) | every member active after {projected:.2f} s"
            )
        base_s, answer_s, projected_s = map(statistics.median, (baselines, answers, projections))
        print(
            f"median of {args.rounds}: baseline {base_s:.2f} s; answer {answer_s:.2f} s "
            f"({answer_s / base_s:.2f} x the baseline); all active {projected_s:.2f} s "
            f"({projected_s / base_s:.2f} x the baseline)"
        )
    finally:
        for process in processes:
            stop(process)
        if args.keep:
            Campaign.objects.filter(name__startswith="Bench ").delete()
        else:
            clean_up()


if __name__ == "__main__":
    main()
