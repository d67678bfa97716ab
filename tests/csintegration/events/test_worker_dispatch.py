"""The fan-out through a real Celery worker on the run's broker: delivery, retry, and broker outages."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from csintegration.events import publish
from csintegration.events.models import Event, EventReceipt
from csintegration.events.services import events_sweep_undispatched
from tests.celery_support import broker_unreachable, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def dispatched(event_id: str) -> Event | None:
    return Event.objects.filter(pk=event_id, dispatched_at__isnull=False).first()


def test_a_committed_event_reaches_its_subscribers(celery_worker, recording_subscriber):
    recorder = recording_subscriber("test.recorder", event_types=("churn_risk_detected",))
    other = recording_subscriber("test.other", event_types=("expansion_ready",))
    with transaction.atomic():
        event = publish(
            "churn_risk_detected",
            customer_id="cust_1",
            payload={"risk_level": "critical", "health_score": 31},
        )
        assert recorder.calls == []  # not before the commit

    done = wait_until(lambda: dispatched(event.event_id))
    assert recorder.calls == [event.event_id]
    assert other.calls == []
    assert done.dispatch_attempts == 1 and done.next_attempt_at is None
    receipt = EventReceipt.objects.get(event=done, subscriber="test.recorder")
    assert receipt.completed_at is not None and receipt.attempts == 1


def test_a_subscriber_that_fails_once_is_retried(celery_worker, recording_subscriber, settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 0.2
    steady = recording_subscriber("test.steady")
    flaky = recording_subscriber("test.flaky", fail_times=1)
    with transaction.atomic():
        event = publish("test.sales_event", customer_id="cust_1", payload={"deal_value": 50000})

    done = wait_until(lambda: dispatched(event.event_id))
    assert done.dispatch_attempts == 2
    assert flaky.calls_for(event.event_id) == 2
    assert steady.calls_for(event.event_id) == 1  # not called again on the retry
    assert EventReceipt.objects.get(event=done, subscriber="test.flaky").attempts == 2


def test_events_published_while_the_broker_is_down_are_swept_when_it_is_back(
    celery_worker, recording_subscriber, caplog
):
    recorder = recording_subscriber("test.recorder")
    with broker_unreachable(), caplog.at_level(logging.WARNING, logger="csintegration.events.services"):
        with transaction.atomic():  # the request that made the change still succeeds
            first = publish("customer.created", customer_id="cust_1", payload={})
            second = publish("churn_risk_detected", customer_id="cust_1", payload={"risk_level": "high"})
        assert "the sweeper will retry it" in caplog.text
        # While the broker is down a sweep cannot hand them over either; they stay in the outbox.
        assert events_sweep_undispatched(now=timezone.now() + timedelta(minutes=1)) == 2

    assert Event.objects.filter(dispatched_at__isnull=True).count() == 2
    assert recorder.calls == []

    # The broker is back: the sweeper's next pass (once the lease is over) hands both to the worker.
    assert events_sweep_undispatched(now=timezone.now() + timedelta(minutes=5)) == 2
    wait_until(lambda: dispatched(first.event_id) and dispatched(second.event_id))
    assert sorted(recorder.calls) == sorted([first.event_id, second.event_id])


def test_publish_many_inserts_together_and_fans_out_in_batches_through_a_worker(
    celery_worker, recording_subscriber
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from csintegration.events import EventMessage, publish_many

    recorder = recording_subscriber("test.many", event_types=("customer.updated", "churn_risk_detected"))
    messages = [
        EventMessage("customer.updated", f"cust_{i}", {"changed_fields": ["arr"]}) for i in range(120)
    ]
    messages.append(EventMessage("churn_risk_detected", "cust_0", {"risk_level": "high"}))
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        published = publish_many(messages)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) <= 2 and len(published) == 121  # SQLite caps the variables per INSERT
    assert [event.customer_id for event in published[:3]] == ["cust_0", "cust_1", "cust_2"]

    wait_until(lambda: Event.objects.filter(dispatched_at__isnull=False).count() == 121)
    assert sorted(recorder.calls) == sorted(event.event_id for event in published)
