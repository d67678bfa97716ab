"""A real Celery worker process killed (SIGKILL) in the middle of a delivery: the delivery is not lost.

The worker runs as a separate process on its own Redis database and the test database; while the receiver
holds its request open, the worker is killed. The delivery row still says what happened (pending, in
flight), and once its lease runs out the dispatcher hands it to another worker, which records the lost try
and delivers.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from csintegration.events import publish
from tests.celery_support import running_worker, wait_until
from webhooks import deliveries
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.services, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_BROKER_DB = 15  # the killed worker's own broker, apart from the test run's
ATTEMPT_TIMEOUT = 2
LEASE_MARGIN = 1


class HoldingReceiver:
    """Answers 200, except that it holds the first request open until released."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.webhook_ids: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.webhook_ids.append(self.headers["webhook-id"])
                if len(receiver.webhook_ids) == 1:
                    receiver.arrived.set()
                    receiver.release.wait(10)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def receiver():
    holding = HoldingReceiver()
    yield holding
    holding.close()


def start_worker_process(broker_url: str) -> subprocess.Popen:
    database = settings.DATABASES["default"]
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": broker_url,
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WEBHOOK_TIMEOUT_SECONDS": str(ATTEMPT_TIMEOUT),
        "WEBHOOK_ATTEMPT_LEASE_MARGIN_SECONDS": str(LEASE_MARGIN),
        "VAR_DIR": str(settings.VAR_DIR),
    }
    command = [
        os.path.join(os.path.dirname(sys.executable), "celery"),
        "-A", "csintegration", "worker", "--queues", "webhooks", "--pool", "solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)


def test_a_worker_killed_mid_delivery_leaves_it_to_be_retried(
    receiver, celery_test_app, settings, webhook_api, register_endpoint
):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_RETRY_SCHEDULE = [0.1, 0.1]
    settings.WEBHOOK_RETRY_JITTER = 0
    endpoint = register_endpoint(webhook_api(), receiver.url)

    # No worker of the test run is up yet: the first attempt goes to the worker process below.
    with transaction.atomic():
        publish("health_score_change", customer_id="cust_k", payload={"previous_score": 80, "new_score": 65})
    delivery = Delivery.objects.get(endpoint_id=endpoint["id"])

    broker_url = f"{settings.REDIS_URL.rsplit('/', 1)[0]}/{WORKER_BROKER_DB}"
    redis.Redis.from_url(broker_url).flushdb()
    worker = start_worker_process(broker_url)
    try:
        Celery(broker=broker_url).send_task(
            "webhooks.deliver", args=([delivery.pk], delivery.lease_token), queue="webhooks"
        )
        assert receiver.arrived.wait(60), "the worker process never sent the delivery"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    receiver.release.set()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.in_flight_since is not None
    assert delivery.attempts.count() == 0  # the killed worker recorded nothing

    # Its lease runs out; the dispatcher (beat's job) hands it to a live worker.
    with running_worker():
        time.sleep(max(0.0, (delivery.lease_expires_at - timezone.now()).total_seconds()) + 0.2)
        assert deliveries.deliveries_dispatch_due() >= 1
        done = wait_until(
            lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).first(),
            timeout=20,
        )
    assert list(done.attempts.order_by("number").values_list("number", "status_code", "error")) == [
        (1, None, deliveries.LOST_ATTEMPT_ERROR),
        (2, 200, ""),
    ]
    assert receiver.webhook_ids == [done.message_id, done.message_id]  # the same webhook-id on the retry
    assert done.lease_expires_at is None and done.succeeded_at - done.created_at < timedelta(seconds=30)
