"""Writes of the event machinery: publish into the outbox, fan out to subscribers, sweep, re-dispatch."""

from __future__ import annotations

import json
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from csintegration.db import bulk_insert, new_instance
from csintegration.observability import metrics
from csintegration.observability.logs import note_published
from csintegration.tasks import enqueue, enqueue_many

from .models import Event, EventReceipt
from .registry import Subscriber, subscribers_for
from .types import EventMessage, UnknownEventType, event_type_get

logger = logging.getLogger(__name__)

#: keys of the delivered body that publish() sets itself
RESERVED_KEYS = ("event", "customer_id", "timestamp")


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, to the millisecond when there is a fraction."""
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds") + "Z"


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return iso_utc(value if timezone.is_aware(value) else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable in an event payload.")


_SCALARS = frozenset((str, int, bool, type(None)))
_NOT_PLAIN = object()


def _plain_json(value):
    """A deep copy of ``value`` when it holds only what JSON holds as it is (dicts with string keys, lists,
    strings, finite numbers, booleans, None, and choices, whose JSON is their value; no other subclass), else
    ``_NOT_PLAIN``: what
    ``json.loads(json.dumps(value))`` returns for such a value, in a fraction of its time."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, Enum) and type(value.value) in _SCALARS:  # a choice (TextChoices): its value
        return value.value
    if kind is float:
        return value if math.isfinite(value) else _NOT_PLAIN
    if kind is dict:
        copied = {}
        for key, item in value.items():
            item = item if type(item) in _SCALARS else _plain_json(item)
            if type(key) is not str or item is _NOT_PLAIN:
                return _NOT_PLAIN
            copied[key] = item
        return copied
    if kind is list:
        items = [_plain_json(item) for item in value]
        return _NOT_PLAIN if any(item is _NOT_PLAIN for item in items) else items
    return _NOT_PLAIN


def queue_for(event_type: str) -> str:
    """The Celery queue of an event's fan-out: critical types jump the line on the critical queue."""
    try:
        critical = event_type_get(event_type).critical
    except UnknownEventType:
        critical = False
    return settings.EVENTS_CRITICAL_QUEUE if critical else settings.EVENTS_DEFAULT_QUEUE


def retry_delay(attempts: int) -> float:
    """Seconds before fan-out run ``attempts + 1``: doubling from EVENTS_RETRY_BASE_SECONDS, ±20 %."""
    base = settings.EVENTS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return min(base, settings.EVENTS_RETRY_MAX_SECONDS) * random.uniform(0.8, 1.2)


def _build_event(
    event_type: str, *, customer_id: str | None, payload: dict, occurred_at: datetime | None, now: datetime
) -> Event:
    """Validate one event and build its row (unsaved), with the body subscribers will receive."""
    try:
        event_type_get(event_type)
    except UnknownEventType:
        raise ValueError(
            f"Unknown event type {event_type!r}; declare it with register_event_type() first."
        ) from None
    if not isinstance(payload, dict):
        raise TypeError("An event payload is a dict.")
    if "event" in payload and payload["event"] != event_type:
        raise ValueError("The payload's 'event' differs from the event type.")
    if "customer_id" in payload and payload["customer_id"] != customer_id:
        raise ValueError("The payload's 'customer_id' differs from customer_id.")
    if "timestamp" in payload:
        raise ValueError("Pass the time as occurred_at, not as a 'timestamp' in the payload.")
    if occurred_at is None:
        occurred_at = now
    elif timezone.is_naive(occurred_at):
        raise ValueError("occurred_at must be timezone-aware.")
    occurred_at = occurred_at.astimezone(UTC)
    body = {
        "event": str(event_type),
        "customer_id": customer_id,
        **payload,
        "timestamp": iso_utc(occurred_at),
    }
    # Normalise to plain JSON now, so the stored body is byte for byte what subscribers receive (a body
    # that is plain JSON already is copied as it is: the same result, without the round trip).
    plain = _plain_json(body)
    body = json.loads(json.dumps(body, default=_json_default)) if plain is _NOT_PLAIN else plain
    return new_instance(
        Event,
        event_type=str(event_type),
        customer_id=customer_id,
        payload=body,
        occurred_at=occurred_at,
        next_attempt_at=now + timedelta(seconds=settings.EVENTS_SWEEP_GRACE_SECONDS),
    )


def event_publish(
    event_type: str, *, customer_id: str | None, payload: dict, occurred_at: datetime | None = None
) -> Event:
    """Write an event in the caller's transaction and fan it out once that transaction commits.

    The delivered body is ``{"event": event_type, "customer_id": customer_id, **payload,
    "timestamp": occurred_at}``. If the transaction rolls back, the event never existed; if the broker
    cannot take the fan-out after commit, the event waits in the outbox for the sweeper.
    """
    event = _build_event(
        event_type, customer_id=customer_id, payload=payload, occurred_at=occurred_at, now=timezone.now()
    )
    # Part of the caller's transaction (no savepoint of its own: a failed write fails the caller's too).
    with transaction.atomic(savepoint=False):
        event.save(force_insert=True)
        _count_published([event])
        if _run_inline_subscribers(event):
            return event
        transaction.on_commit(partial(enqueue_dispatch, event.event_id, event.event_type))
    return event


def _count_published(events: list[Event]) -> None:
    """The events count in the metrics and in the request's log line as they are written (a rolled-back
    transaction's events are counted too: no commit hook is added for this)."""
    for event_type, count in Counter(event.event_type for event in events).items():
        metrics.events_published.labels(event_type).inc(count)
    note_published([event.event_id for event in events])


def _run_inline_subscribers(event: Event, receipts: list[EventReceipt] | None = None) -> bool:
    """Run the inline subscribers of a new event in savepoints of the publishing transaction. True when
    they were all its subscribers and all succeeded: the event is then dispatched with the
    transaction, and no fan-out is needed. The receipts of those that succeeded are written with the
    transaction too (into ``receipts`` when given, for the caller to write with others in one
    statement): a subscriber's writes and its receipt commit or roll back together either way."""
    subscribers = subscribers_for(event.event_type)
    inline = [subscriber for subscriber in subscribers if subscriber.inline]
    if not inline:
        return False
    done: list[EventReceipt] = []
    event.fresh = True
    try:
        for subscriber in inline:
            try:
                with transaction.atomic():
                    subscriber.handler(event)
                done.append(
                    new_instance(
                        EventReceipt,
                        event=event,
                        subscriber=subscriber.name,
                        attempts=1,
                        completed_at=timezone.now(),
                    )
                )
            except Exception:
                logger.warning(
                    "Inline subscriber %s failed on %s; the fan-out will retry it.",
                    subscriber.name,
                    event.event_id,
                    exc_info=True,
                )
    finally:
        event.fresh = False
    if receipts is None:
        bulk_insert(EventReceipt, done)
    else:
        receipts += done
    if len(done) < len(subscribers):
        return False
    event.dispatched_at, event.next_attempt_at, event.dispatch_attempts = timezone.now(), None, 1
    event.save(update_fields=["dispatched_at", "next_attempt_at", "dispatch_attempts"])
    return True


def event_publish_many(messages: Iterable[EventMessage]) -> list[Event]:
    """``event_publish`` for many events at once: one INSERT per 500 rows, and after commit the
    fan-outs go to the broker in batches (one message per EVENTS_FANOUT_BATCH_SIZE events; critical
    events one by one, on the critical queue). Up to EVENTS_INLINE_MAX_BATCH events also run the inline
    subscribers at once, as ``event_publish`` does."""
    now = timezone.now()
    events = [
        _build_event(
            message.event_type,
            customer_id=message.customer_id,
            payload=message.payload,
            occurred_at=message.occurred_at,
            now=now,
        )
        for message in messages
    ]
    if not events:
        return []
    with transaction.atomic(savepoint=False):  # the caller's transaction, as in event_publish
        bulk_insert(Event, events)
        _count_published(events)
        pending = events
        if len(events) <= settings.EVENTS_INLINE_MAX_BATCH:
            # A handful of events (one request's worth) gets the inline subscribers as publish() does;
            # a bulk batch leaves every subscriber to the fan-out, to keep its queries bounded.
            receipts: list[EventReceipt] = []
            pending = [event for event in events if not _run_inline_subscribers(event, receipts)]
            bulk_insert(EventReceipt, receipts)
        if pending:
            transaction.on_commit(
                partial(enqueue_dispatch_many, [(e.event_id, e.event_type) for e in pending])
            )
    return events


def event_record_past_many(messages: Iterable[EventMessage]) -> list[Event]:
    """Write events that happened before and were handled then (an import of history, demo data) to the
    event log: validated and shaped as published ones, marked dispatched at their own time, and never
    fanned out, so no subscriber acts now on what is long past."""
    now = timezone.now()
    events = []
    for message in messages:
        event = _build_event(
            message.event_type,
            customer_id=message.customer_id,
            payload=message.payload,
            occurred_at=message.occurred_at,
            now=now,
        )
        event.dispatched_at, event.next_attempt_at = event.occurred_at, None
        events.append(event)
    bulk_insert(Event, events)
    return events


def enqueue_dispatch_many(events: list[tuple[str, str]]) -> None:
    """Enqueue the fan-out of many events over one broker connection: EVENTS_FANOUT_BATCH_SIZE per
    message on the default queue, and EVENTS_CRITICAL_BATCH_SIZE per message on the critical queue (small,
    so an alert never waits long behind others); never raises (the sweeper catches what fails)."""
    by_queue: dict[str, list[str]] = {}
    for event_id, event_type in events:
        by_queue.setdefault(queue_for(event_type), []).append(event_id)
    for queue, event_ids in by_queue.items():
        default = queue == settings.EVENTS_DEFAULT_QUEUE
        size = max(1, settings.EVENTS_FANOUT_BATCH_SIZE if default else settings.EVENTS_CRITICAL_BATCH_SIZE)
        enqueue_many(
            "events.dispatch_events",
            args_list=[(event_ids[start : start + size],) for start in range(0, len(event_ids), size)],
            queue=queue,
        )


def enqueue_dispatch(event_id: str, event_type: str, *, countdown: float | None = None) -> bool:
    """Hand the fan-out of one event to the broker; never raises (the sweeper catches what fails)."""
    return enqueue(
        "events.dispatch_event",
        args=(event_id,),
        queue=queue_for(event_type),
        countdown=countdown,
        failure_message=f"Could not enqueue the fan-out of {event_id}; the sweeper will retry it.",
    )


@dataclass
class DispatchOutcome:
    """What one fan-out run did."""

    event_id: str
    event_type: str = ""
    found: bool = True
    dispatched: bool = False
    attempts: int = 0
    completed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: seconds until the next run, when one is due
    retry_in: float | None = None


def _record_failure(event: Event, subscriber: Subscriber, error: str) -> None:
    with transaction.atomic():
        receipt, _ = EventReceipt.objects.select_for_update().get_or_create(
            event=event, subscriber=subscriber.name
        )
        if receipt.completed_at is None:
            receipt.attempts += 1
            receipt.last_error = error[:4000]
            receipt.save(update_fields=["attempts", "last_error", "updated_at"])


def _run_subscriber(event: Event, subscriber: Subscriber, *, has_receipt: bool = True) -> str | None:
    """Call one handler; its writes and its receipt commit together. ``None`` on success, else the error.

    ``has_receipt=False`` (no receipt row existed when the fan-out started) skips reading and locking it:
    there is no row to lock, and a concurrent run that finishes first makes our insert of the receipt
    fail, which rolls our handler's writes back, as when the row is read."""
    try:
        with transaction.atomic():
            receipt = None
            if has_receipt:
                receipt = (
                    EventReceipt.objects.select_for_update()
                    .filter(event=event, subscriber=subscriber.name)
                    .first()
                )
            if receipt is not None and receipt.completed_at is not None:
                return None
            subscriber.handler(event)
            now = timezone.now()
            if receipt is None:
                EventReceipt.objects.create(
                    event=event, subscriber=subscriber.name, attempts=1, completed_at=now
                )
            else:
                receipt.attempts += 1
                receipt.completed_at = now
                receipt.last_error = ""
                receipt.save(update_fields=["attempts", "completed_at", "last_error", "updated_at"])
        return None
    except IntegrityError:
        # A concurrent run of the same fan-out finished this subscriber first; ours rolled back.
        if EventReceipt.objects.filter(
            event=event, subscriber=subscriber.name, completed_at__isnull=False
        ).exists():
            return None
        error = "integrity error while recording the receipt"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "Subscriber %s failed on %s (%s): %s", subscriber.name, event.event_id, event.event_type, error
    )
    _record_failure(event, subscriber, error)
    return error


def event_dispatch(*, event_id: str) -> DispatchOutcome:
    """Run every subscriber of the event that has not yet handled it; mark it dispatched when all have.

    Safe to run twice or concurrently: finished subscribers are skipped by their receipts.
    """
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        return DispatchOutcome(event_id=event_id, found=False)
    outcome = DispatchOutcome(
        event_id=event_id, event_type=event.event_type, attempts=event.dispatch_attempts
    )
    if event.dispatched_at is not None:
        outcome.dispatched = True
        return outcome

    receipts = dict(EventReceipt.objects.filter(event=event).values_list("subscriber", "completed_at"))
    for subscriber in subscribers_for(event.event_type):
        if receipts.get(subscriber.name) is not None:
            outcome.skipped.append(subscriber.name)
            continue
        error = _run_subscriber(event, subscriber, has_receipt=subscriber.name in receipts)
        if error is None:
            outcome.completed.append(subscriber.name)
        else:
            outcome.failed[subscriber.name] = error

    now = timezone.now()
    if not outcome.failed:
        # Every subscriber is done: one statement marks it (and counts the run); a concurrent run that
        # marked it first keeps its time.
        outcome.attempts, outcome.dispatched = event.dispatch_attempts + 1, True
        marked = Event.objects.filter(pk=event_id, dispatched_at__isnull=True).update(
            dispatch_attempts=F("dispatch_attempts") + 1,
            dispatched_at=now,
            next_attempt_at=None,
            last_error="",
        )
        if not marked:
            Event.objects.filter(pk=event_id).update(dispatch_attempts=F("dispatch_attempts") + 1)
        return outcome
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)
        event.dispatch_attempts += 1
        outcome.attempts = event.dispatch_attempts
        if event.dispatched_at is not None:
            outcome.dispatched = True  # a concurrent run finished it
        else:
            event.last_error = "; ".join(f"{name}: {error}" for name, error in outcome.failed.items())[:4000]
            if event.dispatch_attempts < settings.EVENTS_MAX_DISPATCH_ATTEMPTS:
                outcome.retry_in = retry_delay(event.dispatch_attempts)
                # The task retries itself after retry_in; the sweeper steps in only if that retry is lost.
                event.next_attempt_at = now + timedelta(
                    seconds=outcome.retry_in + settings.EVENTS_SWEEP_LEASE_SECONDS
                )
            else:
                event.next_attempt_at = None
                logger.error(
                    "Gave up dispatching %s after %s runs: %s",
                    event.event_id,
                    event.dispatch_attempts,
                    event.last_error,
                )
        event.save(update_fields=["dispatch_attempts", "dispatched_at", "next_attempt_at", "last_error"])
    return outcome


def _sweep_lease(enqueue_count: int) -> timedelta:
    """How long a swept event is left alone before it may be swept again: doubles per sweep, ≤ 1 h."""
    seconds = settings.EVENTS_SWEEP_LEASE_SECONDS * 2 ** min(enqueue_count, 10)
    return timedelta(seconds=min(seconds, 3600))


def events_sweep_undispatched(*, batch_size: int | None = None, now: datetime | None = None) -> int:
    """Re-enqueue the fan-out of events whose dispatch is overdue (lost on a broker outage or crash).

    Takes one batch, oldest first; on PostgreSQL concurrent sweepers skip each other's rows. Each
    swept event is leased (its next attempt pushed back) so that the next sweep does not enqueue it
    again while its fan-out waits in a busy queue.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.EVENTS_SWEEP_BATCH_SIZE
    with transaction.atomic():
        overdue = Event.objects.filter(dispatched_at__isnull=True, next_attempt_at__lte=now).order_by(
            "next_attempt_at"
        )
        if connection.features.has_select_for_update_skip_locked:
            overdue = overdue.select_for_update(skip_locked=True)
        events = list(overdue.only("event_id", "event_type", "enqueue_count", "next_attempt_at")[:batch_size])
        for event in events:
            event.next_attempt_at = now + _sweep_lease(event.enqueue_count)
            event.enqueue_count += 1
        Event.objects.bulk_update(events, ["next_attempt_at", "enqueue_count"])
        for event in events:
            transaction.on_commit(partial(enqueue_dispatch, event.event_id, event.event_type))
    if events:
        logger.info("Swept %s undispatched events back to the broker.", len(events))
    return len(events)


def events_redispatch(*, event_ids: Iterable[str]) -> int:
    """Send events through the fan-out again (the admin's "re-dispatch").

    An undispatched event is retried for the subscribers that have not handled it, with a fresh
    budget of attempts; a dispatched one is handed to every subscriber again (handlers are idempotent).
    """
    now = timezone.now()
    with transaction.atomic():
        events = list(Event.objects.select_for_update().filter(pk__in=list(event_ids)))
        dispatched_ids = [event.pk for event in events if event.dispatched_at is not None]
        EventReceipt.objects.filter(event_id__in=dispatched_ids).delete()
        for event in events:
            event.dispatched_at = None
            event.dispatch_attempts = 0
            event.enqueue_count += 1
            event.last_error = ""
            event.next_attempt_at = now + _sweep_lease(0)
        Event.objects.bulk_update(
            events, ["dispatched_at", "dispatch_attempts", "enqueue_count", "last_error", "next_attempt_at"]
        )
        for event in events:
            transaction.on_commit(partial(enqueue_dispatch, event.event_id, event.event_type))
    return len(events)
