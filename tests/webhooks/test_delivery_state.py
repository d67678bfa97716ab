"""The delivery state machine without a worker: the event subscriber's idempotency, claims and leases, a
worker that died mid-attempt, the dispatcher, the retry schedule, the five-day disable and the body cap."""

import json
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from csintegration.events.models import Event
from webhooks import deliveries, endpoints, retry
from webhooks.models import Delivery, DeliveryStatus, DisabledReason, Message, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(make_integration_client):
    return make_integration_client(scopes="webhooks:manage customers:read").client


def make_event(event_type="health_score_change", customer_id="cust_1", **payload) -> Event:
    now = timezone.now()
    body = {
        "event": str(event_type),
        "customer_id": customer_id,
        **payload,
        "timestamp": "2025-12-05T08:20:00Z",
    }
    return Event.objects.create(event_type=event_type, customer_id=customer_id, payload=body, occurred_at=now)


def make_endpoint(owner, url="http://127.0.0.1:9/hooks", events=("*",)) -> WebhookEndpoint:
    endpoint, _secret = endpoints.endpoint_create(client=owner, url=url, event_types=list(events))
    return endpoint


def test_the_subscriber_is_idempotent(owner, loopback_allowed, django_capture_on_commit_callbacks):
    wanted = make_endpoint(owner, events=["health_score_change"])
    everything = make_endpoint(owner)
    make_endpoint(owner, events=["customer.created"])
    disabled = make_endpoint(owner)
    endpoints.endpoint_disable(endpoint=disabled, reason=DisabledReason.MANUAL, notify=False)
    event = make_event(previous_score=80, new_score=65)

    with django_capture_on_commit_callbacks() as first:
        message = deliveries.message_create_for_event(event=event)
    with django_capture_on_commit_callbacks() as second:
        again = deliveries.message_create_for_event(event=event)

    assert again.pk == message.pk and message.pk.startswith("msg_")
    assert Message.objects.count() == 1
    assert json.loads(message.body) == event.payload
    assert set(message.deliveries.values_list("endpoint_id", flat=True)) == {wanted.pk, everything.pk}
    assert len(first) == 1 and len(second) == 0  # the first attempts are queued once, after commit
    for delivery in message.deliveries.all():
        assert delivery.status == DeliveryStatus.PENDING and delivery.lease_token


def test_an_oversized_body_is_not_sent(owner, loopback_allowed, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    make_endpoint(owner)
    deliveries.message_create_for_event(event=make_event(note="x" * 2000))
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and "over the limit of 1000 bytes" in delivery.last_error


def test_retry_schedule_jitter_and_retry_after():
    schedule = [5, 300, 1800, 7200, 18000, 36000, 36000]
    now = timezone.now()

    def delay(position, status_code, retry_after=None):
        return retry.retry_delay(
            position=position,
            status_code=status_code,
            retry_after=retry_after,
            schedule=schedule,
            jitter=0.1,
            retry_after_max=86400,
            now=now,
        )

    for position, base in enumerate(schedule, start=1):
        assert base * 0.9 <= delay(position, 500) <= base * 1.1
    assert delay(8, 500) is None
    # Retry-After counts on 429 and 503 when it asks for longer; never on other statuses.
    assert delay(1, 429, "120") == 120
    assert delay(1, 503, "120") == 120
    assert delay(1, 500, "120") < 6
    assert delay(2, 429, "1") >= 270
    assert delay(1, 429, "9999999") == 86400
    http_date = (now + timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 590 <= retry.parse_retry_after(http_date, now=now) <= 600
    assert retry.parse_retry_after("soon", now=now) is None
    # A digit to str.isdigit() that float() cannot read is no delay, not a crash of the delivery.
    assert retry.parse_retry_after("²", now=now) is None


def test_a_delivery_is_attempted_once_however_often_its_task_runs(
    owner, loopback_allowed, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hooks").respond_with_data("ok")
    make_endpoint(owner, url=httpserver.url_for("/hooks"))
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()

    stranger = deliveries.delivery_claim(delivery_id=delivery.pk, lease_token="not-the-queue-token")
    assert stranger is None  # the lease of the queued task holds
    assert deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token).succeeded
    assert deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token) is None
    assert len(httpserver.log) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempt_count == 1


def test_the_dispatcher_queues_due_deliveries_once_per_lease(
    owner, loopback_allowed, settings, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(owner)
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()
    assert deliveries.deliveries_dispatch_due() == 0  # its first attempt is already queued

    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    later = make_endpoint(owner)
    Delivery.objects.create(
        message=delivery.message,
        endpoint=later,
        event_type=delivery.event_type,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )  # not due yet
    with django_capture_on_commit_callbacks() as queued:
        assert deliveries.deliveries_dispatch_due(batch_size=1) == 1
    assert len(queued) == 1
    assert deliveries.deliveries_dispatch_due() == 0  # leased again until the task runs
    assert endpoint.deliveries.get().lease_expires_at > timezone.now()


def test_a_worker_that_died_mid_delivery_leaves_it_to_be_retried(
    owner, loopback_allowed, settings, httpserver, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    httpserver.expect_request("/hooks").respond_with_data("ok")
    make_endpoint(owner, url=httpserver.url_for("/hooks"))
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()

    # A worker claims the delivery and its process is killed before the request completes.
    queued_token = delivery.lease_token
    claim = deliveries.delivery_claim(delivery_id=delivery.pk, lease_token=queued_token)
    assert claim is not None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at <= timezone.now()
    assert delivery.in_flight_since is not None
    assert timezone.now() < delivery.lease_expires_at <= timezone.now() + timedelta(seconds=20)
    # The broker redelivers the task (acks_late): while the dead worker's lease runs, it is left alone.
    assert deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=queued_token) is None
    assert deliveries.deliveries_dispatch_due() == 0

    # Once the lease lapses the dispatcher takes it; the lost try is on record, the next one succeeds.
    Delivery.objects.filter(pk=delivery.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as queued:
        assert deliveries.deliveries_dispatch_due() == 1
    delivery.refresh_from_db()
    attempt = deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token)
    assert attempt.succeeded and attempt.number == 2 and len(queued) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert list(delivery.attempts.values_list("number", "status_code", "error")) == [
        (1, None, deliveries.LOST_ATTEMPT_ERROR),
        (2, 200, ""),
    ]
    assert len(httpserver.log) == 1


def test_an_endpoint_failing_for_five_days_is_disabled_and_operators_told(
    owner, loopback_allowed, settings, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hooks").respond_with_data("down", status=500)
    endpoint = make_endpoint(owner, url=httpserver.url_for("/hooks"))
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
        deliveries.message_create_for_event(event=make_event(customer_id="cust_2"))
    first, second = Delivery.objects.order_by("created_at", "id")

    with django_capture_on_commit_callbacks(execute=True):
        deliveries.delivery_attempt(delivery_id=first.pk, lease_token=first.lease_token)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is not None and not mail.outbox

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.delivery_attempt(delivery_id=second.pk, lease_token=second.lease_token)
    endpoint.refresh_from_db()
    assert (
        not endpoint.is_active and endpoint.disabled_reason == DisabledReason.FAILING and endpoint.disabled_at
    )
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert endpoint.pk in message.subject and "failed" in message.subject
    assert message.to == [address for _, address in settings.ADMINS]
    assert endpoint.url in message.body


def test_a_success_ends_the_failing_streak(
    owner, loopback_allowed, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/hooks").respond_with_data("ok")
    endpoint = make_endpoint(owner, url=httpserver.url_for("/hooks"))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=4))
    with django_capture_on_commit_callbacks():
        deliveries.message_create_for_event(event=make_event())
    delivery = Delivery.objects.get()
    deliveries.delivery_attempt(delivery_id=delivery.pk, lease_token=delivery.lease_token)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_skips_rows_locked_by_another_worker(owner, loopback_allowed):
    make_endpoint(owner)
    make_endpoint(owner)
    deliveries.message_create_for_event(event=make_event())
    locked, free = Delivery.objects.order_by("id")
    Delivery.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        from django.db import connection

        with transaction.atomic():
            Delivery.objects.select_for_update().get(pk=locked.pk)
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=hold_lock)
    thread.start()
    try:
        assert holding.wait(10)
        assert deliveries.deliveries_dispatch_due() == 1  # no waiting on the locked row
        free.refresh_from_db()
        assert free.lease_expires_at > timezone.now()
    finally:
        release.set()
        thread.join(10)
    assert deliveries.deliveries_dispatch_due() == 1  # the other one, once released


def test_a_batch_of_deliveries_is_sent_in_parallel_and_each_outcome_recorded(
    owner, loopback_allowed, settings, httpserver, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_SCHEDULE = [60]
    settings.WEBHOOK_RETRY_JITTER = 0
    httpserver.expect_request("/ok").respond_with_data("fine")
    httpserver.expect_request("/down").respond_with_data("down", status=500)
    httpserver.expect_request("/gone").respond_with_data("gone", status=410)
    ok, down, gone = (
        make_endpoint(owner, url=httpserver.url_for(path)) for path in ("/ok", "/down", "/gone")
    )
    with django_capture_on_commit_callbacks() as queued:
        deliveries.message_create_for_event(event=make_event())
    assert len(queued) == 1  # one task for the three deliveries (WEBHOOK_TASK_BATCH_SIZE)
    by_endpoint = {delivery.endpoint_id: delivery for delivery in Delivery.objects.all()}
    token = by_endpoint[ok.pk].lease_token

    with django_capture_on_commit_callbacks(execute=True):
        attempts = deliveries.deliveries_attempt(
            delivery_ids=[delivery.pk for delivery in by_endpoint.values()], lease_token=token
        )
    assert sorted(attempt.status_code for attempt in attempts) == [200, 410, 500]
    states = {delivery.endpoint_id: delivery for delivery in Delivery.objects.all()}
    assert states[ok.pk].status == "succeeded" and states[ok.pk].attempt_count == 1
    assert states[down.pk].status == "pending" and states[down.pk].schedule_position == 1
    assert 55 < (states[down.pk].next_attempt_at - timezone.now()).total_seconds() <= 60
    assert states[gone.pk].status == "failed" and states[gone.pk].last_status_code == 410
    assert not WebhookEndpoint.objects.get(pk=gone.pk).is_active
    assert WebhookEndpoint.objects.get(pk=down.pk).failing_since is not None
    assert all(not delivery.lease_token for delivery in states.values())
    assert len(mail.outbox) == 1 and gone.pk in mail.outbox[0].subject


def test_deliveries_go_to_the_webhooks_queue_and_their_dispatcher_elsewhere():
    from csintegration.celery import app
    from webhooks.tasks import deliver, dispatch_due_deliveries

    assert deliver.app.amqp.router.route({}, deliver.name)["queue"].name == "webhooks"
    # The dispatcher must run however busy deliveries keep the webhooks queue.
    assert dispatch_due_deliveries.app.amqp.router.route({}, dispatch_due_deliveries.name)["queue"].name == (
        "default"
    )
    assert app.conf.beat_schedule["webhooks-dispatch-due-deliveries"]["options"]["queue"] == "default"
