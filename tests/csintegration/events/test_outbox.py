"""publish() writes in the caller's transaction; the fan-out runs each subscriber once; sweeps recover."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from csintegration.celery import app as celery_app
from csintegration.events import publish
from csintegration.events.models import Event, EventReceipt
from csintegration.events.services import event_dispatch, events_redispatch, events_sweep_undispatched
from csintegration.events.tasks import dispatch_event
from tests.celery_support import QUEUES, purge_queues, queued_messages
from tests.conftest import HAS_POSTGRES


@pytest.mark.django_db
def test_the_body_is_the_seed_shape_in_utc():
    occurred = datetime(2024, 3, 5, 14, 30, 15, 250000, tzinfo=UTC)
    event = publish(
        "health_score_change",
        customer_id="cust_1",
        payload={"previous_score": Decimal("72"), "new_score": Decimal("64.5"), "factors": ("usage",)},
        occurred_at=occurred,
    )
    event.refresh_from_db()
    assert event.event_id.startswith("evt_")
    assert event.payload == {
        "event": "health_score_change",
        "customer_id": "cust_1",
        "previous_score": 72,
        "new_score": 64.5,
        "factors": ["usage"],
        "timestamp": "2024-03-05T14:30:15.250Z",
    }
    keys = list(event.body())  # the seed's order at both ends (jsonb may reorder the middle)
    assert keys[:2] == ["event", "customer_id"] and keys[-1] == "timestamp" and len(keys) == 6
    assert event.occurred_at == occurred
    assert event.dispatched_at is None and event.dispatch_attempts == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("event_type", "payload", "message"),
    [
        ("health_score_changed", {}, "Unknown event type"),
        ("customer.updated", {"event": "customer.created"}, "'event'"),
        ("customer.updated", {"customer_id": "cust_other"}, "'customer_id'"),
        ("customer.updated", {"timestamp": "2024-01-01T00:00:00Z"}, "occurred_at"),
    ],
)
def test_publish_refuses_what_would_corrupt_the_body(event_type, payload, message):
    with pytest.raises(ValueError, match=message):
        publish(event_type, customer_id="cust_1", payload=payload)
    with pytest.raises(ValueError, match="timezone-aware"):
        publish("customer.updated", customer_id=None, payload={}, occurred_at=datetime(2024, 1, 1))
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_enqueue_waits_for_commit_and_is_dropped_on_rollback(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            publish("customer.created", customer_id="cust_1", payload={})
            raise RuntimeError("the change failed")
    assert callbacks == []
    assert not Event.objects.exists()

    with django_capture_on_commit_callbacks() as callbacks:
        with transaction.atomic():
            publish("customer.created", customer_id="cust_1", payload={})
            assert callbacks == []  # nothing leaves before the commit
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_publish_writes_nothing_and_enqueues_nothing(celery_test_app):
    purge_queues()
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("churn_risk_detected", customer_id="cust_1", payload={"risk_level": "high"})
        publish("customer.updated", customer_id="cust_1", payload={})
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()
    assert queued_messages() == dict.fromkeys(QUEUES, 0)

    # The same, committed, reaches the broker: churn risk on the critical queue, the rest on default.
    with transaction.atomic():
        publish("churn_risk_detected", customer_id="cust_1", payload={"risk_level": "high"})
        publish("customer.updated", customer_id="cust_1", payload={})
    assert Event.objects.count() == 2
    assert queued_messages() == {"critical": 1, "webhooks": 0, "default": 1, "bulk": 0}
    purge_queues()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_write_fans_out_in_batches_on_each_queue(celery_test_app, settings):
    """Critical events of a bulk write go in small batches on their queue, the rest in large ones:
    a nightly recompute's thousand churn alerts are a hundred messages, not a thousand."""
    from csintegration.events import EventMessage, publish_many

    settings.EVENTS_FANOUT_BATCH_SIZE, settings.EVENTS_CRITICAL_BATCH_SIZE = 100, 10
    purge_queues()
    messages = [EventMessage("churn_risk_detected", f"cust_{i}", {"risk_level": "high"}) for i in range(25)]
    messages += [EventMessage("customer.updated", f"cust_{i}", {}) for i in range(150)]
    with transaction.atomic():
        publish_many(messages)
    assert queued_messages() == {"critical": 3, "webhooks": 0, "default": 2, "bulk": 0}
    purge_queues()


def test_task_routes_send_each_family_to_its_queue():
    router = celery_app.amqp.router

    def queue_of(task_name: str) -> str:
        route = router.route({}, task_name)
        return route["queue"].name

    assert queue_of("webhooks.deliver_message") == "webhooks"
    assert queue_of("customers.recompute_health_scores") == "bulk"
    assert queue_of("customers.bulk_import") == "bulk"
    assert queue_of("events.sweep_undispatched") == "default"
    assert queue_of("api.worker_heartbeat") == "default"
    # An explicit queue at enqueue time wins over the routes (how churn risk reaches critical).
    assert router.route({"queue": "critical"}, "events.dispatch_event")["queue"].name == "critical"


@pytest.mark.django_db
def test_a_rerun_skips_finished_subscribers(recording_subscriber):
    steady = recording_subscriber("test.steady")
    flaky = recording_subscriber("test.flaky", fail_times=1)
    uninterested = recording_subscriber("test.deals", event_types=("handoff_completed",))
    event = publish("customer.updated", customer_id="cust_1", payload={"changes": ["arr"]})

    first = event_dispatch(event_id=event.event_id)
    assert first.failed.keys() == {"test.flaky"} and "test.steady" in first.completed
    assert first.retry_in is not None and not first.dispatched
    event.refresh_from_db()
    assert event.dispatched_at is None and event.dispatch_attempts == 1
    assert "test.flaky: ConnectionError: test.flaky is unavailable" in event.last_error
    assert event.next_attempt_at > timezone.now()
    failed_receipt = EventReceipt.objects.get(event=event, subscriber="test.flaky")
    assert failed_receipt.completed_at is None and failed_receipt.attempts == 1

    # The task runs again (a retry, a redelivery after a lost worker): only the unfinished subscriber runs.
    dispatch_event.apply(args=(event.event_id,))
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.dispatch_attempts == 2 and event.next_attempt_at is None
    assert steady.calls_for(event.event_id) == 1
    assert flaky.calls_for(event.event_id) == 2
    assert uninterested.calls == []
    receipt = EventReceipt.objects.get(event=event, subscriber="test.flaky")
    assert receipt.completed_at is not None and receipt.attempts == 2 and receipt.last_error == ""

    # Once dispatched, further runs touch nobody.
    dispatch_event.apply(args=(event.event_id,))
    assert steady.calls_for(event.event_id) == 1 and flaky.calls_for(event.event_id) == 2


@pytest.mark.django_db
def test_a_first_fan_out_reads_no_receipt_it_cannot_have_and_marks_the_event_in_one_statement(
    recording_subscriber,
):
    from django.test.utils import CaptureQueriesContext

    first, second = recording_subscriber("test.first"), recording_subscriber("test.second")
    event = publish("customer.updated", customer_id="cust_1", payload={})
    with CaptureQueriesContext(connection) as queries:
        outcome = event_dispatch(event_id=event.event_id)
    assert (
        outcome.dispatched
        and outcome.attempts == 1
        and {"test.first", "test.second"} <= set(outcome.completed)
    )
    statements = [query["sql"] for query in queries.captured_queries]
    receipt_reads = [sql for sql in statements if sql.startswith("SELECT") and "events_eventreceipt" in sql]
    assert len(receipt_reads) == 1  # the one read of what is done; no row to lock per subscriber
    assert [sql for sql in statements if 'events_event"' in sql and sql.startswith("UPDATE")]
    assert len([sql for sql in statements if sql.startswith("SELECT") and 'FROM "events_event"' in sql]) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.dispatch_attempts == 1 and event.next_attempt_at is None
    assert first.calls_for(event.event_id) == second.calls_for(event.event_id) == 1
    assert EventReceipt.objects.filter(event=event, completed_at__isnull=False).count() >= 2

    # A run after it (a redelivered task) finds it dispatched and touches nothing.
    again = event_dispatch(event_id=event.event_id)
    assert again.dispatched and again.completed == [] and first.calls_for(event.event_id) == 1


@pytest.mark.django_db
def test_a_failing_handler_rolls_back_its_own_writes(recording_subscriber):
    def writes_then_fails(event):
        Event.objects.filter(pk=event.pk).update(customer_id="cust_overwritten")
        raise RuntimeError("after writing")

    from csintegration.events import subscribe
    from csintegration.events.registry import unsubscribe

    subscribe("test.writer", writes_then_fails, event_types=("customer.updated",))
    try:
        event = publish("customer.updated", customer_id="cust_1", payload={})
        outcome = event_dispatch(event_id=event.event_id)
    finally:
        unsubscribe("test.writer")
    assert outcome.failed == {"test.writer": "RuntimeError: after writing"}
    event.refresh_from_db()
    assert event.customer_id == "cust_1"


@pytest.mark.django_db
def test_dispatch_gives_up_after_the_last_attempt(recording_subscriber, settings):
    settings.EVENTS_MAX_DISPATCH_ATTEMPTS = 3
    recording_subscriber("test.down", fail_times=99)
    event = publish("test.operations_event", customer_id=None, payload={"workflow_id": "run_1"})
    outcomes = [event_dispatch(event_id=event.event_id) for _ in range(3)]
    assert [outcome.retry_in is not None for outcome in outcomes] == [True, True, False]
    event.refresh_from_db()
    assert event.dispatch_attempts == 3 and event.dispatched_at is None and event.next_attempt_at is None
    assert events_sweep_undispatched(now=timezone.now() + timedelta(days=1)) == 0

    # An operator re-dispatches it: a fresh budget, picked up by the next sweep or the enqueued task.
    assert events_redispatch(event_ids=[event.event_id]) == 1
    event.refresh_from_db()
    assert event.dispatch_attempts == 0 and event.next_attempt_at is not None and event.last_error == ""


@pytest.mark.django_db
def test_redispatch_of_a_dispatched_event_runs_every_subscriber_again(recording_subscriber):
    recorder = recording_subscriber("test.recorder")
    event = publish("test.product_event", customer_id="cust_1", payload={"rating": 4})
    assert event_dispatch(event_id=event.event_id).dispatched
    events_redispatch(event_ids=[event.event_id])
    event.refresh_from_db()
    assert event.dispatched_at is None and not event.receipts.exists()
    assert event_dispatch(event_id=event.event_id).dispatched
    assert recorder.calls_for(event.event_id) == 2


@pytest.mark.django_db
def test_missing_event_is_a_no_op():
    outcome = event_dispatch(event_id="evt_0000000000gone000000000000")
    assert not outcome.found
    dispatch_event.apply(args=("evt_0000000000gone000000000000",)).get()


@pytest.mark.django_db
def test_sweeper_takes_overdue_events_in_batches_and_leases_them(
    settings, django_capture_on_commit_callbacks
):
    settings.EVENTS_SWEEP_BATCH_SIZE = 2
    now = timezone.now()
    overdue = [publish("customer.created", customer_id=f"cust_{n}", payload={}) for n in range(3)]
    Event.objects.filter(pk__in=[event.pk for event in overdue]).update(
        next_attempt_at=now - timedelta(seconds=1)
    )
    fresh = publish("customer.created", customer_id="cust_fresh", payload={})  # within its grace
    done = publish("customer.created", customer_id="cust_done", payload={})
    Event.objects.filter(pk=done.pk).update(dispatched_at=now, next_attempt_at=now - timedelta(hours=1))

    with django_capture_on_commit_callbacks() as callbacks:
        assert events_sweep_undispatched(now=now) == 2
        assert events_sweep_undispatched(now=now) == 1  # the first two are leased
        assert events_sweep_undispatched(now=now) == 0
    assert len(callbacks) == 3
    swept = {event.pk: event for event in Event.objects.filter(enqueue_count=1)}
    assert set(swept) == {event.pk for event in overdue}
    assert all(event.next_attempt_at == now + timedelta(seconds=30) for event in swept.values())
    assert Event.objects.get(pk=fresh.pk).enqueue_count == 0

    # Each further sweep of the same event waits twice as long; the fresh one is past its grace by now.
    later = now + timedelta(seconds=31)
    assert events_sweep_undispatched(now=later, batch_size=10) == 4
    assert Event.objects.get(pk=fresh.pk).next_attempt_at == later + timedelta(seconds=30)
    assert Event.objects.get(pk=overdue[0].pk).next_attempt_at == later + timedelta(seconds=60)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_skip_each_others_rows(celery_test_app):
    assert HAS_POSTGRES
    past = timezone.now() - timedelta(minutes=1)
    events = [publish("customer.created", customer_id=f"cust_{n}", payload={}) for n in range(4)]
    Event.objects.update(next_attempt_at=past)
    locked_ids = {events[0].pk, events[1].pk}
    holding, release = threading.Event(), threading.Event()

    def other_sweeper():
        with transaction.atomic():
            list(Event.objects.select_for_update().filter(pk__in=locked_ids))
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_sweeper)
    thread.start()
    try:
        assert holding.wait(10)
        assert events_sweep_undispatched() == 2  # does not wait for the locked rows
        assert set(Event.objects.filter(enqueue_count=1).values_list("pk", flat=True)) == {
            events[2].pk,
            events[3].pk,
        }
    finally:
        release.set()
        thread.join(10)
    purge_queues()


@pytest.mark.django_db
def test_inline_subscribers_run_in_the_publishing_transaction(
    recording_subscriber, django_capture_on_commit_callbacks
):
    inline = recording_subscriber("test.inline", inline=True)
    with django_capture_on_commit_callbacks() as callbacks:
        event = publish("customer.updated", customer_id="cust_1", payload={})
    assert inline.calls == [event.event_id]
    event.refresh_from_db()
    assert event.dispatched_at is not None  # nothing left for a fan-out
    assert EventReceipt.objects.get(event=event, subscriber="test.inline").completed_at is not None
    assert callbacks == []

    later = recording_subscriber("test.later")  # an ordinary subscriber: the fan-out still runs
    with django_capture_on_commit_callbacks() as callbacks:
        second = publish("customer.updated", customer_id="cust_1", payload={})
    assert len(callbacks) == 1 and later.calls == []
    second.refresh_from_db()
    assert second.dispatched_at is None
    assert event_dispatch(event_id=second.event_id).skipped == ["test.inline"]
    assert later.calls == [second.event_id]


@pytest.mark.django_db
def test_a_failing_inline_subscriber_is_left_to_the_fan_out(recording_subscriber):
    flaky = recording_subscriber("test.flaky", inline=True, fail_times=1)
    with transaction.atomic():
        event = publish("customer.updated", customer_id="cust_1", payload={})
    event.refresh_from_db()
    assert (
        event.dispatched_at is None and not EventReceipt.objects.filter(completed_at__isnull=False).exists()
    )
    outcome = event_dispatch(event_id=event.event_id)
    assert outcome.dispatched and flaky.calls == [event.event_id, event.event_id]
