"""One receiver cannot hold the others up: every attempt has a total deadline (a receiver that drips its
answer fails at the deadline, whatever its status), an endpoint has at most a few attempts in flight,
attempts of a batch are recorded as they finish, the dispatcher has a queue of its own, a receiver may
stop the retries of a message, and a delivery whose queued message was lost is taken over within seconds
while the queue is short."""

import socket
import threading
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections, transaction
from django.utils import timezone

from csintegration.celery import app as celery_app
from csintegration.events import publish
from tests.celery_support import QUEUES, purge_queues, wait_until
from webhooks import deliveries, endpoints, transport
from webhooks.models import Delivery, DeliveryStatus, DisabledReason, EndpointSlot, Message

from .test_delivery_state import make_endpoint, make_event, owner  # noqa: F401  (fixture)


def fan_out(capture_on_commit, count: int) -> None:
    """``count`` events through the webhooks subscriber, their first tasks captured rather than sent."""
    with capture_on_commit():
        for _ in range(count):
            deliveries.message_create_for_event(event=make_event())


class DripReceiver:
    """A raw HTTP receiver that answers one byte every ``interval`` seconds: in the status line and
    headers (``where="head"``) or in a body that Content-Length promises (``where="body"``)."""

    def __init__(self, where: str = "head", interval: float = 0.1) -> None:
        self.where, self.interval = where, interval
        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/drip"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection) -> None:
        self.requests += 1
        try:
            connection.recv(65536)
            head, body = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n", b"x" * 200
            if self.where == "body":
                connection.sendall(head)
                head = b""
            for byte in head + body:
                if self._stop.is_set():
                    break
                connection.sendall(bytes([byte]))
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.fixture
def drip():
    receivers = []

    def _make(**kwargs) -> DripReceiver:
        receiver = DripReceiver(**kwargs)
        receivers.append(receiver)
        return receiver

    yield _make
    for receiver in receivers:
        receiver.close()


@pytest.mark.parametrize("where", ["head", "body"])
def test_an_answer_dripped_past_the_deadline_fails_at_the_deadline(drip, loopback_allowed, where):
    receiver = drip(where=where, interval=0.1)
    result = transport.post(receiver.url, body=b"{}", headers={}, timeout=1.0)
    assert not result.succeeded  # a 200 that does not finish in time is no success
    assert "within 1 s" in result.error
    assert result.duration_ms < 2500  # a per-read timeout would have waited for the whole drip (40 s)


@pytest.mark.django_db
def test_an_endpoint_has_at_most_its_limit_of_attempts_in_flight(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    busy = make_endpoint(owner, url="http://127.0.0.1:9/busy")
    other = make_endpoint(owner, url="http://127.0.0.1:9/other")
    fan_out(django_capture_on_commit_callbacks, 3)
    ids = list(Delivery.objects.values_list("pk", flat=True))
    tokens = {delivery.pk: delivery.lease_token for delivery in Delivery.objects.all()}
    claims = []
    for delivery_id in ids:
        claims += deliveries.deliveries_claim(delivery_ids=[delivery_id], lease_token=tokens[delivery_id])
    by_endpoint = {}
    for delivery in Delivery.objects.filter(pk__in=[claim.delivery_id for claim in claims]):
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery)
    assert {endpoint: len(rows) for endpoint, rows in by_endpoint.items()} == {busy.pk: 2, other.pk: 2}
    waiting = Delivery.objects.filter(in_flight_since__isnull=True)
    assert waiting.count() == 2  # the third of each waits for a free slot, queued again for a bit later
    assert all(delivery.next_attempt_at > timezone.now() for delivery in waiting)
    assert all(delivery.lease_token != tokens[delivery.pk] for delivery in waiting)


@pytest.mark.django_db
def test_a_slow_endpoints_backlog_rests_and_is_queued_no_faster_than_its_slots_free(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    slow = make_endpoint(owner, url="http://127.0.0.1:9/slow")
    fan_out(django_capture_on_commit_callbacks, 5)
    rows = list(Delivery.objects.order_by("pk"))
    # Two attempts have been in flight for a while: the endpoint is slow.
    for row in rows[:2]:
        assert len(deliveries.deliveries_claim(delivery_ids=[row.pk], lease_token=row.lease_token)) == 1
    long_ago = timezone.now() - timedelta(seconds=5)
    Delivery.objects.filter(pk__in=[row.pk for row in rows[:2]]).update(in_flight_since=long_ago)
    for row in rows[2:]:
        assert deliveries.deliveries_claim(delivery_ids=[row.pk], lease_token=row.lease_token) == []
    resting = Delivery.objects.filter(pk__in=[row.pk for row in rows[2:]])
    # No task per delivery per wait: they rest without a lease, due later, for the dispatcher.
    assert all(row.lease_token == "" and row.lease_expires_at is None for row in resting)
    assert all(row.next_attempt_at > timezone.now() for row in resting)
    Delivery.objects.filter(pk__in=[row.pk for row in rows[2:]]).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks():
        assert deliveries.deliveries_dispatch_due() == 0  # both slots are taken
    Delivery.objects.filter(pk=rows[0].pk).update(
        status=DeliveryStatus.SUCCEEDED, in_flight_since=None, lease_expires_at=None
    )
    with django_capture_on_commit_callbacks():
        assert deliveries.deliveries_dispatch_due() == 1  # one slot freed: one more queued
    assert slow.deliveries.filter(lease_expires_at__isnull=True, status=DeliveryStatus.PENDING).count() == 2


@pytest.mark.django_db
def test_an_attempt_holds_its_slot_until_it_is_recorded_or_its_lease_lapses(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    endpoint = make_endpoint(owner, url="http://127.0.0.1:9/one")
    fan_out(django_capture_on_commit_callbacks, 3)
    first, second, third = Delivery.objects.order_by("pk")
    [claim] = deliveries.deliveries_claim(delivery_ids=[first.pk], lease_token=first.lease_token)
    slot = EndpointSlot.objects.get(endpoint=endpoint)
    assert (slot.delivery_id, slot.claim_token) == (first.pk, claim.token)
    assert deliveries.deliveries_claim(delivery_ids=[second.pk], lease_token=second.lease_token) == []

    deliveries.deliveries_record_attempts(outcomes=[(claim, transport.PostResult(200, 5))])
    slot.refresh_from_db()
    assert (slot.delivery_id, slot.claim_token, slot.lease_expires_at) == ("", "", None)
    second.refresh_from_db()  # queued again for a moment later, under a new lease
    Delivery.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now())
    [claim] = deliveries.deliveries_claim(delivery_ids=[second.pk], lease_token=second.lease_token)
    assert EndpointSlot.objects.get(endpoint=endpoint).delivery_id == second.pk

    # The worker sending the second died: its slot is free once the attempt's lease lapses.
    lapsed = timezone.now() - timedelta(seconds=1)
    EndpointSlot.objects.filter(endpoint=endpoint).update(lease_expires_at=lapsed)
    assert len(deliveries.deliveries_claim(delivery_ids=[third.pk], lease_token=third.lease_token)) == 1
    assert EndpointSlot.objects.get(endpoint=endpoint).delivery_id == third.pk
    # The lost attempt's late record gives back no slot it no longer holds.
    deliveries.deliveries_record_attempts(outcomes=[(claim, transport.PostResult(200, 5))])
    assert EndpointSlot.objects.get(endpoint=endpoint).delivery_id == third.pk


@pytest.mark.django_db
def test_a_raised_limit_adds_slots_and_a_disabled_endpoint_frees_them(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    endpoint = make_endpoint(owner, url="http://127.0.0.1:9/raised")
    fan_out(django_capture_on_commit_callbacks, 3)

    def claim_each() -> int:
        Delivery.objects.filter(in_flight_since__isnull=True).update(next_attempt_at=timezone.now())
        return sum(
            len(deliveries.deliveries_claim(delivery_ids=[row.pk], lease_token=row.lease_token))
            for row in Delivery.objects.filter(in_flight_since__isnull=True)
        )

    assert claim_each() == 1
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 3
    assert claim_each() == 2
    assert EndpointSlot.objects.filter(endpoint=endpoint).exclude(delivery_id="").count() == 3
    endpoints.endpoint_disable(endpoint=endpoint, reason=DisabledReason.MANUAL, detail="test", notify=False)
    assert not EndpointSlot.objects.filter(endpoint=endpoint).exclude(delivery_id="").exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_pass_the_limit(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 3
    endpoint = make_endpoint(owner, url="http://127.0.0.1:9/crowd")
    now = timezone.now()
    rows = [
        Delivery.objects.create(
            message=Message.objects.create(
                event_id=f"evt_crowd{number}", event_type="health_score_change", body="{}", occurred_at=now
            ),
            endpoint=endpoint,
            event_type="health_score_change",
            next_attempt_at=now,
            lease_token=f"lease{number}",
            lease_expires_at=now + timedelta(seconds=30),
        )
        for number in range(24)
    ]
    barrier = threading.Barrier(8)
    claimed: list[str] = []
    errors: list[BaseException] = []

    def claim(part: list[Delivery]) -> None:
        try:
            barrier.wait(timeout=10)
            for row in part:
                got = deliveries.deliveries_claim(delivery_ids=[row.pk], lease_token=row.lease_token)
                claimed.extend(item.delivery_id for item in got)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(rows[index::8],)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(claimed) == 3  # three slots: the other 21 wait for one
    in_flight = Delivery.objects.filter(endpoint=endpoint, in_flight_since__isnull=False)
    assert sorted(in_flight.values_list("pk", flat=True)) == sorted(claimed)
    assert sorted(
        EndpointSlot.objects.filter(endpoint=endpoint).values_list("delivery_id", flat=True)
    ) == sorted(claimed)


# On Redis only: the in-memory test broker hands a threads-pool worker its messages every couple of
# seconds, which says nothing of one receiver delaying another.
@pytest.mark.services
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_dripping_receiver_does_not_delay_another_endpoint(
    celery_test_app, drip, httpserver, webhook_api, register_endpoint, fast_schedule
):
    settings = fast_schedule
    settings.WEBHOOK_TIMEOUT_SECONDS = 4
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    slow = drip(where="head", interval=0.3)
    arrivals: list[float] = []
    httpserver.expect_request("/healthy").respond_with_handler(
        lambda request: arrivals.append(time.monotonic()) or "ok"
    )
    register_endpoint(webhook_api(), slow.url)
    register_endpoint(webhook_api(), httpserver.url_for("/healthy"))

    purge_queues()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=6,
        perform_ping_check=False,
        queues=list(QUEUES),
        loglevel="WARNING",
        shutdown_timeout=30,
    ):
        started = time.monotonic()
        for number in range(12):
            with transaction.atomic():
                publish(
                    "health_score_change",
                    customer_id=f"cust_iso{number}",
                    payload={"previous_score": 80, "new_score": 60},
                )
        wait_until(lambda: len(arrivals) == 12, timeout=30)
        # Every healthy delivery arrived before the first dripping attempt could even reach its deadline.
        assert max(arrivals) - started < settings.WEBHOOK_TIMEOUT_SECONDS
        assert slow.requests <= 2  # the slow endpoint never had more than its limit in flight
    failed = Delivery.objects.filter(endpoint__url=slow.url).exclude(attempt_count=0)
    assert all("No response within 4 s" in delivery.last_error for delivery in failed)


@pytest.mark.django_db
def test_a_receiver_may_ask_to_stop_the_retries(
    owner,  # noqa: F811
    loopback_allowed,
    httpserver,
    django_capture_on_commit_callbacks,
):
    httpserver.expect_request("/hooks").respond_with_data(
        "unknown tenant", status=422, headers={"webhook-delivery": "abort-message"}
    )
    make_endpoint(owner, url=httpserver.url_for("/hooks"))
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()
    deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert "abort-message" in delivery.last_error
    [attempt] = delivery.attempts.all()
    assert attempt.status_code == 422 and "abort-message" in attempt.error


@pytest.mark.django_db
def test_a_lost_queued_message_is_taken_over_quickly_unless_the_queue_holds_a_backlog(
    owner,  # noqa: F811
    loopback_allowed,
    settings,
    celery_test_app,
    django_capture_on_commit_callbacks,
):
    settings.WEBHOOK_REQUEUE_MAX_BACKLOG = 3
    make_endpoint(owner)
    with django_capture_on_commit_callbacks():  # its first task is "lost": never sent to the broker
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()
    purge_queues()
    lease = timedelta(seconds=settings_value("WEBHOOK_QUEUE_LEASE_SECONDS"))

    # Within its lease nobody takes it; once it lapsed and the queue is short, the dispatcher does.
    assert deliveries.deliveries_dispatch_due() == 0
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with backlog(3):  # ...but while the queue holds a backlog, the message may only be waiting its turn
        assert deliveries.deliveries_dispatch_due() == 0
    assert deliveries.deliveries_dispatch_due() == 1
    purge_queues()
    assert lease <= timedelta(seconds=30)


def settings_value(name: str):
    from webhooks.conf import conf

    return getattr(conf, name)


class backlog:
    """``count`` messages waiting in the webhooks queue, with no worker to take them."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __enter__(self):
        with celery_app.producer_or_acquire() as producer:
            for _ in range(self.count):
                celery_app.send_task("webhooks.deliver", args=([], None), queue="webhooks", producer=producer)
        return self

    def __exit__(self, *exc) -> None:
        purge_queues()
