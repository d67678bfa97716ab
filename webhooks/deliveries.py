"""Writes of webhook deliveries: messages from events, claims and attempts, retries, the dispatcher and
replays.

A delivery's state lives in its row. A queued or in-flight delivery holds a lease (``lease_token`` and
``lease_expires_at``): the task that carries the token may claim it, anyone else waits for the lease to
lapse. A worker that dies mid-attempt leaves its lease to lapse, and the dispatcher queues the delivery
again; the lost try is recorded as an attempt with an error. An endpoint receives an event only while
its client holds the event type's read scope: checked when the delivery is created and again before
every attempt.
"""

import functools
import json
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import structlog
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, connections, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from csintegration.db import (
    bulk_insert,
    bulk_update_values,
    insert_unless_present_and_select,
    lock_rows,
    new_instance,
    update_rows,
)
from csintegration.events.types import UnknownEventType, event_type_get
from csintegration.observability import metrics
from csintegration.queues import queue_depth
from csintegration.tasks import enqueue_after_commit, enqueue_many

from . import retry, signing, transport
from .conf import conf
from .endpoints import ENDPOINT_DISABLED_ERROR, client_scopes, endpoint_disable
from .models import (
    Attempt,
    Delivery,
    DeliveryStatus,
    DisabledReason,
    EndpointSlot,
    Message,
    WebhookEndpoint,
)

logger = structlog.get_logger(__name__)

LOST_ATTEMPT_ERROR = "The worker stopped before this attempt completed; the delivery is retried."
ABORTED_ERROR = (
    "The receiver answered {status} with 'webhook-delivery: abort-message': no more tries (replay it to "
    "send it again)."
)


#: the shortest wait for a free slot of a busy endpoint
MIN_BUSY_DELAY = 0.2


class WebhookConflict(Exception):
    """The operation does not fit the current state (e.g. replaying on a disabled endpoint)."""


def _read_scope(event_type: str) -> str | None:
    try:
        return event_type_get(event_type).read_scope
    except UnknownEventType:
        return None


def client_may_read(client: Any, event_type: str) -> bool:
    """Whether an active client holds the read scope of ``event_type``."""
    scope = _read_scope(event_type)
    return scope is not None and getattr(client, "is_active", True) and scope in client_scopes(client)


def may_receive(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """Whether ``endpoint`` wants ``event_type`` and its client may read it (its client loaded)."""
    return endpoint.wants(event_type) and client_may_read(endpoint.client, event_type)


def scope_missing_error(event_type: str) -> str:
    return (
        f"The endpoint's client no longer holds the scope '{_read_scope(event_type)}' that "
        f"'{event_type}' requires; the delivery was not sent."
    )


# --- Messages from events -------------------------------------------------------------------------------


@functools.cache
def _active_endpoints_sql() -> str:
    """The id and event types of every active endpoint, with its client's scopes and state."""
    quote = connection.ops.quote_name
    endpoint = WebhookEndpoint._meta
    client = endpoint.get_field("client").related_model._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    # Only quoted model names are interpolated.
    return (
        f"SELECT e.{column(endpoint, 'id')}, CAST(e.{column(endpoint, 'event_types')} AS text), "  # noqa: S608
        f"c.{column(client, 'scopes')}, c.{column(client, 'is_active')} FROM {quote(endpoint.db_table)} e "
        f"JOIN {quote(client.db_table)} c ON c.{quote(client.pk.column)} = e.{column(endpoint, 'client')} "
        f"WHERE e.{column(endpoint, 'is_active')}"
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An endpoint of ``_active_endpoints_sql`` as far as ``may_receive`` reads it (no model instances: a
    client's would draw its credential defaults)."""

    pk: str
    event_types: list[str]
    client: SimpleNamespace

    wants = WebhookEndpoint.wants


def _candidate(row: tuple) -> _Candidate:
    endpoint_id, event_types, scopes, client_active = row
    client = SimpleNamespace(scopes=scopes, is_active=bool(client_active))
    return _Candidate(endpoint_id, json.loads(event_types), client)


def message_create_for_event(*, event: Any) -> Message:
    """The ``csintegration.events`` subscriber: one message per event, one delivery per active endpoint
    that wants its type, the first attempts queued after commit. Running it twice changes nothing."""
    body = json.dumps(event.body(), cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)
    now = timezone.now()
    # A subscriber runs in a savepoint of its own already (inline) or in the fan-out's transaction.
    with transaction.atomic(savepoint=False):
        message = Message(
            event_id=event.event_id,
            event_type=event.event_type,
            customer_id=event.customer_id,
            body=body,
            occurred_at=event.occurred_at,
        )
        already: set[str] = set()
        # The message and the active endpoints (with their clients' scopes) in one round trip.
        inserted, candidates = insert_unless_present_and_select(
            message, unique=["event_id"], select=_active_endpoints_sql()
        )
        if not inserted:  # a second run: read what won
            message = Message.objects.get(event_id=event.event_id)
            already = set(message.deliveries.values_list("endpoint_id", flat=True))
        endpoints = [
            endpoint
            for endpoint in map(_candidate, candidates)
            if endpoint.pk not in already and may_receive(endpoint, event.event_type)
        ]
        if not endpoints:
            return message
        size = len(message.body.encode())
        too_large = size > conf.WEBHOOK_MAX_BODY_BYTES
        token = uuid.uuid4().hex
        deliveries = [
            new_instance(
                Delivery,
                message=message,
                endpoint_id=endpoint.pk,
                event_type=message.event_type,
                **(
                    {
                        "status": DeliveryStatus.FAILED,
                        "last_error": (
                            f"The body is {size} bytes, over the limit of "
                            f"{conf.WEBHOOK_MAX_BODY_BYTES} bytes; it was not sent."
                        ),
                    }
                    if too_large
                    else {
                        "next_attempt_at": now,
                        "lease_token": token,
                        "lease_expires_at": now + timedelta(seconds=conf.WEBHOOK_QUEUE_LEASE_SECONDS),
                    }
                ),
            )
            for endpoint in endpoints
        ]
        bulk_insert(Delivery, deliveries, ignore_conflicts=True)
        if not too_large:
            _enqueue_after_commit([delivery.pk for delivery in deliveries], token)
    return message


def _enqueue_after_commit(delivery_ids: list[str], token: str) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: enqueue_deliveries(delivery_ids, token))


def enqueue_deliveries(delivery_ids: list[str], token: str) -> None:
    """Queue attempt tasks, each for up to ``WEBHOOK_TASK_BATCH_SIZE`` deliveries (sent in parallel,
    claimed and recorded in one transaction each), over one broker connection. Never raises: the rows
    are committed and due, and once their queue lease runs out the dispatcher sends them."""
    size = max(1, conf.WEBHOOK_TASK_BATCH_SIZE)
    enqueue_many(
        "webhooks.deliver",
        args_list=[
            (delivery_ids[start : start + size], token) for start in range(0, len(delivery_ids), size)
        ],
    )


# --- Attempts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a worker needs to send one attempt, taken under the delivery's row lock."""

    delivery_id: str
    token: str
    url: str
    message_id: str
    body: str
    signing_secrets: tuple[str, ...]
    #: for the attempt's log line and lag
    event_id: str = ""
    customer_id: str | None = None
    endpoint_id: str = ""
    occurred_at: datetime | None = None


def _signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and (endpoint.previous_secret_expires_at > now)
    ):
        return (endpoint.secret, endpoint.previous_secret)
    return (endpoint.secret,)


def _clear_lease(delivery: Delivery) -> None:
    delivery.lease_token = ""
    delivery.lease_expires_at = None
    delivery.in_flight_since = None


def _finish_failed(delivery: Delivery, error: str | None = None) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None
    if error is not None:
        delivery.last_error = error
    _clear_lease(delivery)


def _claimable(delivery: Delivery, lease_token: str | None, now: datetime) -> bool:
    """Whether ``delivery`` may be attempted now; settles the cases that end it without an attempt."""
    if delivery.status != DeliveryStatus.PENDING:
        return False
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return False
    held = delivery.lease_expires_at is not None and delivery.lease_expires_at > now
    if held and (not lease_token or lease_token != delivery.lease_token):
        return False
    if not delivery.endpoint.is_active:
        _finish_failed(delivery, ENDPOINT_DISABLED_ERROR)
        delivery.save()
        return False
    if not client_may_read(delivery.endpoint.client, delivery.event_type):
        _finish_failed(delivery, scope_missing_error(delivery.event_type))
        delivery.save()
        return False
    if delivery.in_flight_since is not None:
        # The last claim never recorded its outcome: its worker died mid-attempt.
        _record_lost_attempt(delivery, now)
        if delivery.schedule_position > len(conf.WEBHOOK_RETRY_SCHEDULE):
            _finish_failed(delivery)
        delivery.save()
        return delivery.status == DeliveryStatus.PENDING
    return True


def _slot_lease(now: datetime) -> datetime:
    """When an attempt's claim lapses (its delivery's lease and its slot's): the timeout and a margin."""
    return now + timedelta(seconds=conf.WEBHOOK_TIMEOUT_SECONDS + conf.WEBHOOK_ATTEMPT_LEASE_MARGIN_SECONDS)


def _free_slots(wanted: dict[str, int], now: datetime) -> dict[str, list[int]]:
    """Up to ``wanted[endpoint]`` free slots of each endpoint, locked for this transaction. A slot that
    another claim is taking right now is skipped (SKIP LOCKED), never waited for."""
    limit = max(1, conf.WEBHOOK_ENDPOINT_CONCURRENCY)
    taken: dict[str, list[int]] = {}
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(EndpointSlot._meta.db_table)
        endpoint_ids = list(wanted)
        with connection.cursor() as cursor:
            # One statement for every endpoint of the batch; only quoted model names are interpolated.
            cursor.execute(
                "SELECT s.endpoint_id, s.id "  # noqa: S608 (a quoted table name only)
                "FROM unnest(%s::varchar[], %s::int[]) AS w(endpoint_id, wanted) "
                "CROSS JOIN LATERAL ("
                f"  SELECT slot.id, slot.endpoint_id FROM {table} slot "
                "  WHERE slot.endpoint_id = w.endpoint_id AND slot.number < %s "
                "    AND (slot.lease_expires_at IS NULL OR slot.lease_expires_at <= %s) "
                "  ORDER BY slot.number LIMIT w.wanted FOR UPDATE SKIP LOCKED"
                ") s",
                [endpoint_ids, [wanted[pk] for pk in endpoint_ids], limit, now],
            )
            for endpoint_id, slot_id in cursor.fetchall():
                taken.setdefault(endpoint_id, []).append(slot_id)
        return taken
    for endpoint_id, count in wanted.items():  # SQLite serialises writers: no row lock to skip
        free = EndpointSlot.objects.filter(endpoint_id=endpoint_id, number__lt=limit).filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
        )
        ids = list(lock_rows(free.order_by("number"), skip_locked=True).values_list("id", flat=True)[:count])
        if ids:
            taken[endpoint_id] = ids
    return taken


#: (endpoint id, limit) pairs known in this process to have all their slots: slot rows are only ever
#: added (an endpoint's go with it), so a busy endpoint's claims need not count them again
_SLOTTED: set[tuple[str, int]] = set()


def _take_slots(wanted: dict[str, int], now: datetime) -> dict[str, list[int]]:
    """Free slots for the wanted attempts; an endpoint short of its ``WEBHOOK_ENDPOINT_CONCURRENCY``
    slots (a new endpoint, a raised limit) gets the missing ones first."""
    taken = _free_slots(wanted, now)
    limit = max(1, conf.WEBHOOK_ENDPOINT_CONCURRENCY)
    short = [
        pk for pk, count in wanted.items() if len(taken.get(pk, ())) < count and (pk, limit) not in _SLOTTED
    ]
    if not short:
        return taken
    existing = dict(
        EndpointSlot.objects.filter(endpoint_id__in=short, number__lt=limit)
        .values("endpoint_id")
        .annotate(count=Count("id"))
        .values_list("endpoint_id", "count")
    )
    missing = [pk for pk in short if existing.get(pk, 0) < limit]
    complete = [(pk, limit) for pk in short if pk not in missing]
    # Remembered once committed: a rolled-back claim leaves the slots it created uncreated.
    transaction.on_commit(lambda: _SLOTTED.update(complete + [(pk, limit) for pk in missing]))
    if not missing:
        return taken
    EndpointSlot.objects.bulk_create(
        [EndpointSlot(endpoint_id=pk, number=number) for pk in missing for number in range(limit)],
        ignore_conflicts=True,
    )
    more = _free_slots({pk: wanted[pk] - len(taken.get(pk, ())) for pk in missing}, now)
    for pk, ids in more.items():
        taken.setdefault(pk, []).extend(ids)
    return taken


def _within_endpoint_limits(
    claimable: list[Delivery], now: datetime, token: str
) -> tuple[list[Delivery], dict[float, list[Delivery]], dict[float, list[Delivery]]]:
    """Split ``claimable`` into what may be sent now, what waits a moment and what rests: at most
    ``WEBHOOK_ENDPOINT_CONCURRENCY`` attempts are in flight to one endpoint, one per slot (see
    ``EndpointSlot``); those admitted hold theirs from here. A delivery of a busy but fast endpoint is
    queued again after about as long as its oldest attempt in flight has been running (from 0.2 s). One
    of a slow endpoint (its oldest attempt has run ``WEBHOOK_SLOW_ENDPOINT_SECONDS``) rests in the
    database, due after up to ``WEBHOOK_ENDPOINT_BUSY_DELAY_SECONDS``, and the dispatcher queues no more
    of them than the endpoint has free slots: a slow receiver's backlog costs no task per delivery per
    wait."""
    wanted: dict[str, int] = {}
    for delivery in claimable:
        wanted[delivery.endpoint_id] = wanted.get(delivery.endpoint_id, 0) + 1
    taken = _take_slots(wanted, now)
    admitted: list[Delivery] = []
    overflow: list[Delivery] = []
    held: list[EndpointSlot] = []
    lease = _slot_lease(now)
    for delivery in claimable:
        free = taken.get(delivery.endpoint_id)
        if not free:
            overflow.append(delivery)
            continue
        held.append(
            EndpointSlot(pk=free.pop(), delivery_id=delivery.pk, claim_token=token, lease_expires_at=lease)
        )
        admitted.append(delivery)
    bulk_update_values(EndpointSlot, held, ["delivery_id", "claim_token", "lease_expires_at"])
    waiting: dict[float, list[Delivery]] = {}
    resting: dict[float, list[Delivery]] = {}
    if not overflow:
        return admitted, waiting, resting
    oldest = dict(
        Delivery.objects.filter(
            endpoint_id__in={delivery.endpoint_id for delivery in overflow},
            in_flight_since__isnull=False,
            lease_expires_at__gt=now,
        )
        .values("endpoint_id")
        .annotate(oldest=Min("in_flight_since"))
        .values_list("endpoint_id", "oldest")
    )
    for delivery in overflow:
        since = oldest.get(delivery.endpoint_id)
        running = (now - since).total_seconds() if since is not None else 0.0
        delay = min(max(running, MIN_BUSY_DELAY), conf.WEBHOOK_ENDPOINT_BUSY_DELAY_SECONDS)
        slow = running >= conf.WEBHOOK_SLOW_ENDPOINT_SECONDS
        (resting if slow else waiting).setdefault(round(delay, 1), []).append(delivery)
    return admitted, waiting, resting


def slots_release(claims: list[Claim]) -> None:
    """Give back the slots of recorded attempts (only those of these claims: a newer claim of the same
    delivery holds its own)."""
    if not claims:
        return
    update_rows(
        EndpointSlot,
        where={
            "endpoint": sorted({claim.endpoint_id for claim in claims}),
            "claim_token": sorted({claim.token for claim in claims}),
            "delivery_id": [claim.delivery_id for claim in claims],
        },
        values={"delivery_id": "", "claim_token": "", "lease_expires_at": None},
    )


def _wait_for_a_free_slot(waiting: dict[float, list[Delivery]], now: datetime) -> None:
    """Queue the deliveries whose endpoint is busy again, each after its delay, under a new lease."""
    for delay, rows in waiting.items():
        token = uuid.uuid4().hex
        ids = [delivery.pk for delivery in rows]
        Delivery.objects.filter(pk__in=ids).update(
            next_attempt_at=now + timedelta(seconds=delay),
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=delay + conf.WEBHOOK_QUEUE_LEASE_SECONDS),
            updated_at=now,
        )
        enqueue_after_commit("webhooks.deliver", args=(ids, token), countdown=delay)


def _rest_until_a_slot_frees(resting: dict[float, list[Delivery]], now: datetime) -> None:
    """Leave the deliveries of a slow endpoint to the dispatcher: due after their delay, no lease."""
    for delay, rows in resting.items():
        Delivery.objects.filter(pk__in=[delivery.pk for delivery in rows]).update(
            next_attempt_at=now + timedelta(seconds=delay),
            lease_token="",
            lease_expires_at=None,
            updated_at=now,
        )


def deliveries_claim(*, delivery_ids: list[str], lease_token: str | None = None) -> list[Claim]:
    """Take the due deliveries among ``delivery_ids`` for one attempt each, under one lease; skip those
    done, not due, held by someone else, or locked by another worker right now. Those whose endpoint
    already has its attempts in flight are queued again for a little later."""
    now = timezone.now()
    with transaction.atomic():
        rows = lock_rows(
            Delivery.objects.select_related("endpoint", "endpoint__client", "message").filter(
                pk__in=delivery_ids
            ),
            skip_locked=True,
        )
        claimable = [delivery for delivery in rows if _claimable(delivery, lease_token, now)]
        if not claimable:
            return []
        token = uuid.uuid4().hex
        claimed, waiting, resting = _within_endpoint_limits(claimable, now, token)
        _wait_for_a_free_slot(waiting, now)
        _rest_until_a_slot_frees(resting, now)
        if not claimed:
            return []
        update_rows(
            Delivery,
            where={"pk": [delivery.pk for delivery in claimed]},
            values={
                "lease_token": token,
                "lease_expires_at": _slot_lease(now),
                "in_flight_since": now,
                "updated_at": now,
            },
        )
    return [
        Claim(
            delivery_id=delivery.pk,
            token=token,
            url=delivery.endpoint.url,
            message_id=delivery.message_id,
            body=delivery.message.body,
            signing_secrets=_signing_secrets(delivery.endpoint, now),
            event_id=delivery.message.event_id,
            customer_id=delivery.message.customer_id,
            endpoint_id=delivery.endpoint_id,
            occurred_at=delivery.message.occurred_at,
        )
        for delivery in claimed
    ]


def delivery_claim(*, delivery_id: str, lease_token: str | None = None) -> Claim | None:
    """Take one due delivery for an attempt, or None (see ``deliveries_claim``)."""
    claims = deliveries_claim(delivery_ids=[delivery_id], lease_token=lease_token)
    return claims[0] if claims else None


def _record_lost_attempt(delivery: Delivery, now: datetime) -> None:
    delivery.attempt_count += 1
    delivery.schedule_position += 1
    Attempt.objects.create(delivery=delivery, number=delivery.attempt_count, error=LOST_ATTEMPT_ERROR)
    metrics.webhook_attempts.labels("lost", metrics.attempt_label(delivery.attempt_count)).inc()
    logger.warning(
        "webhook_attempt",
        outcome="lost",
        delivery_id=delivery.pk,
        message_id=delivery.message_id,
        endpoint_id=delivery.endpoint_id,
        attempt=delivery.attempt_count,
    )
    delivery.last_error = LOST_ATTEMPT_ERROR
    delivery.last_status_code = None
    delivery.last_attempt_at = delivery.in_flight_since
    delivery.in_flight_since = None


def deliveries_attempt(*, delivery_ids: list[str], lease_token: str | None = None) -> list[Attempt]:
    """Claim, send and record one attempt of each due delivery among ``delivery_ids``.

    The requests go out in parallel, each with its own total deadline, and are recorded as they
    finish: those done within ``WEBHOOK_RECORD_WINDOW_SECONDS`` together, any slower one on its own, so
    no delivery's outcome waits for a slow member of its batch. The task waits for them at most
    ``WEBHOOK_TASK_HOLD_SECONDS``; a slower attempt is recorded by the thread that sends it, so a slow
    receiver holds no worker thread. Returns the attempts recorded within the hold. Safe to run twice:
    the second run finds them done or held and does nothing.
    """
    claims = deliveries_claim(delivery_ids=delivery_ids, lease_token=lease_token)
    if not claims:
        return []
    timestamp = int(timezone.now().timestamp())
    outgoing = [
        transport.Outgoing(
            url=claim.url,
            body=claim.body.encode(),
            headers=signing.delivery_headers(
                message_id=claim.message_id,
                timestamp=timestamp,
                body=claim.body,
                signing_secrets=claim.signing_secrets,
            ),
        )
        for claim in claims
    ]
    timeout = conf.WEBHOOK_TIMEOUT_SECONDS
    futures = {
        transport.submit(item, timeout=timeout): claim for item, claim in zip(outgoing, claims, strict=True)
    }
    attempts: list[Attempt] = []
    hold_until = time.monotonic() + conf.WEBHOOK_TASK_HOLD_SECONDS
    pending = set(futures)
    while pending and (left := hold_until - time.monotonic()) > 0:
        done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        if not done:
            break
        if pending:  # those that finish just after the first are recorded with it
            more, pending = wait(pending, timeout=conf.WEBHOOK_RECORD_WINDOW_SECONDS)
            done |= more
        attempts += deliveries_record_attempts(
            outcomes=[(futures[future], future.result()) for future in done]
        )
    for future in pending:
        # The task goes back to its queue; the sending thread records this attempt when it ends. Were
        # the process to die first, the attempt's lease lapses and the dispatcher tries again.
        future.add_done_callback(partial(_record_when_sent, futures[future]))
    return attempts


def _record_when_sent(claim: Claim, future) -> None:
    """Record a slow attempt on the thread that sent it, then let go of that thread's connection."""
    try:
        deliveries_record_attempts(outcomes=[(claim, future.result())])
    except Exception:  # the lease lapses and the dispatcher tries the delivery again
        logger.exception("webhook_attempt_unrecorded", delivery_id=claim.delivery_id)
    finally:
        if threading.current_thread().name.startswith(transport.SENDER_THREAD_PREFIX):
            connections.close_all()


def delivery_attempt(*, delivery_id: str, lease_token: str | None = None) -> Attempt | None:
    """One attempt of one delivery, or None if it was not due or not free (see ``deliveries_attempt``)."""
    attempts = deliveries_attempt(delivery_ids=[delivery_id], lease_token=lease_token)
    return attempts[0] if attempts else None


# Fields an attempt sets to the same kind of value on every delivery of a batch (counters are incremented).
_RECORDED_FIELDS = (
    "status",
    "next_attempt_at",
    "lease_token",
    "lease_expires_at",
    "in_flight_since",
    "last_status_code",
    "last_error",
    "last_attempt_at",
    "succeeded_at",
    "updated_at",
)


def _apply_outcome(
    delivery: Delivery, claim: Claim, result: transport.PostResult, now: datetime
) -> str | None:
    """Move one delivery on after its attempt; returns "succeeded", "gone", "failed", or None when a newer
    claim owns the delivery (this attempt outlived its lease) and its state is left alone."""
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error or (
        "" if result.succeeded else f"The receiver answered {result.status_code}."
    )
    delivery.last_attempt_at = now
    delivery.updated_at = now
    if delivery.lease_token != claim.token or delivery.status != DeliveryStatus.PENDING:
        return None
    _clear_lease(delivery)
    delivery.schedule_position += 1
    if result.succeeded:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
        delivery.succeeded_at = now
        return "succeeded"
    if result.status_code == 410:
        _finish_failed(delivery)
        return "gone"
    if result.abort:
        _finish_failed(delivery, ABORTED_ERROR.format(status=result.status_code))
        return "failed"
    delay = retry.retry_delay(
        position=delivery.schedule_position,
        status_code=result.status_code,
        retry_after=result.retry_after,
        schedule=conf.WEBHOOK_RETRY_SCHEDULE,
        jitter=conf.WEBHOOK_RETRY_JITTER,
        retry_after_max=conf.WEBHOOK_RETRY_AFTER_MAX_SECONDS,
        now=now,
    )
    if delay is None:
        _finish_failed(delivery)
    else:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    return "failed"


def _save_recorded(recorded: list[Delivery], advanced: set[str]) -> None:
    """One UPDATE per distinct outcome (a batch that all succeeded is one statement), not one per row."""
    groups: dict[tuple, list[str]] = {}
    for delivery in recorded:
        key = (delivery.pk in advanced, *(getattr(delivery, name) for name in _RECORDED_FIELDS))
        groups.setdefault(key, []).append(delivery.pk)
    for key, ids in groups.items():
        values = dict(zip(_RECORDED_FIELDS, key[1:], strict=True))
        update_rows(
            Delivery,
            where={"pk": ids},
            values=values,
            increments={"attempt_count": 1, "schedule_position": 1 if key[0] else 0},
        )


def deliveries_record_attempts(*, outcomes: list[tuple[Claim, transport.PostResult]]) -> list[Attempt]:
    """Store the attempts and move each delivery on (done, failed, or due again after its next delay);
    keep each endpoint's failing streak, and disable endpoints that answered 410 or failed for too long."""
    now = timezone.now()
    with transaction.atomic():
        ids = [claim.delivery_id for claim, _ in outcomes]
        deliveries = {
            delivery.pk: delivery
            for delivery in lock_rows(Delivery.objects.select_related("endpoint").filter(pk__in=ids))
        }
        attempts: list[Attempt] = []
        recorded: list[Delivery] = []
        endpoints: dict[str, WebhookEndpoint] = {}
        working: set[str] = set()
        failing: set[str] = set()
        gone: set[str] = set()
        advanced: set[str] = set()
        for claim, result in outcomes:
            delivery = deliveries.get(claim.delivery_id)
            if delivery is None:  # the endpoint was deleted meanwhile
                continue
            delivery.attempt_count += 1
            attempts.append(
                new_instance(
                    Attempt,
                    delivery=delivery,
                    number=delivery.attempt_count,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    response_excerpt=result.response_excerpt,
                    error=result.error
                    or (ABORTED_ERROR.format(status=result.status_code) if result.abort else ""),
                    succeeded=result.succeeded,
                    created_at=now,
                )
            )
            outcome = _apply_outcome(delivery, claim, result, now)
            _observe_attempt(claim, delivery, result, outcome, now)
            if outcome is not None:
                advanced.add(delivery.pk)
            recorded.append(delivery)
            endpoints[delivery.endpoint_id] = delivery.endpoint
            if outcome == "succeeded":
                working.add(delivery.endpoint_id)
            elif outcome == "gone":
                gone.add(delivery.endpoint_id)
            elif outcome == "failed":
                failing.add(delivery.endpoint_id)
        bulk_insert(Attempt, attempts)
        _save_recorded(recorded, advanced)
        slots_release([claim for claim, _ in outcomes])
        recovered = [pk for pk in working if endpoints[pk].failing_since is not None]
        if recovered:
            WebhookEndpoint.objects.filter(pk__in=recovered).update(failing_since=None)
        for endpoint_id in gone:
            endpoint_disable(
                endpoint=endpoints[endpoint_id],
                reason=DisabledReason.GONE,
                detail="The receiver answered 410 Gone.",
            )
        for endpoint_id in failing - working - gone:
            _note_endpoint_failure(endpoints[endpoint_id], now)
    return attempts


def _observe_attempt(
    claim: Claim, delivery: Delivery, result: transport.PostResult, outcome: str | None, now: datetime
) -> None:
    """The attempt's metrics and its log line (which names the event, so one signal is followed from
    its request to every delivery with one grep)."""
    label = outcome or "superseded"
    if outcome == "failed" and result.abort:
        label = "aborted"
    metrics.webhook_attempts.labels(label, metrics.attempt_label(delivery.attempt_count)).inc()
    lag = None
    if outcome == "succeeded" and claim.occurred_at is not None:
        lag = max(0.0, (now - claim.occurred_at).total_seconds())
        metrics.webhook_delivery_lag.observe(lag)
    (logger.info if outcome == "succeeded" else logger.warning)(
        "webhook_attempt",
        outcome=label,
        delivery_id=delivery.pk,
        message_id=claim.message_id,
        event_id=claim.event_id,
        customer_id=claim.customer_id,
        endpoint_id=claim.endpoint_id,
        attempt=delivery.attempt_count,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        lag_ms=round(lag * 1000) if lag is not None else None,
        error=result.error or None,
    )


def _note_endpoint_failure(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Start the endpoint's failing streak, or disable it when the streak is old enough."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    if now - endpoint.failing_since >= timedelta(seconds=conf.WEBHOOK_DISABLE_AFTER_FAILING_SECONDS):
        endpoint_disable(
            endpoint=endpoint,
            reason=DisabledReason.FAILING,
            detail=f"Every delivery attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M:%S} UTC.",
        )


# --- Dispatching and replays ----------------------------------------------------------------------------


def _lapsed_before(now: datetime) -> datetime:
    """Queue leases that ran out before this are taken over. A queued delivery's message is lost (a
    broker restart, a killed worker) when its lease ran out while the webhooks queue is short; while the
    queue holds a backlog it may only be waiting its turn, so it gets the longer lease."""
    backlog = queue_depth("webhooks")
    if backlog is None or backlog < conf.WEBHOOK_REQUEUE_MAX_BACKLOG:
        return now
    return now - timedelta(seconds=conf.WEBHOOK_QUEUE_LEASE_MAX_SECONDS - conf.WEBHOOK_QUEUE_LEASE_SECONDS)


def _slow_endpoints_free_slots(now: datetime) -> dict[str, int]:
    """Each slow endpoint (an attempt in flight for ``WEBHOOK_SLOW_ENDPOINT_SECONDS`` or more) and how
    many more of its deliveries may be queued: its limit less those it holds in flight or in a queue."""
    slow_since = now - timedelta(seconds=conf.WEBHOOK_SLOW_ENDPOINT_SECONDS)
    slow = Delivery.objects.filter(
        status=DeliveryStatus.PENDING, in_flight_since__lte=slow_since, lease_expires_at__gt=now
    ).values_list("endpoint_id", flat=True)
    held = (
        Delivery.objects.filter(
            endpoint_id__in=set(slow), status=DeliveryStatus.PENDING, lease_expires_at__gt=now
        )
        .values("endpoint_id")
        .annotate(count=Count("id"))
    )
    limit = max(1, conf.WEBHOOK_ENDPOINT_CONCURRENCY)
    return {row["endpoint_id"]: max(0, limit - row["count"]) for row in held}


def deliveries_dispatch_due(*, batch_size: int | None = None, max_batches: int = 20) -> int:
    """Queue every due delivery whose lease lapsed, in batches taken with SKIP LOCKED; returns the count.
    A slow endpoint gets no more than its free slots, so its backlog waits here rather than in a queue."""
    batch_size = batch_size or conf.WEBHOOK_DISPATCH_BATCH_SIZE
    queued = 0
    lapsed_before = _lapsed_before(timezone.now())
    free_slots = _slow_endpoints_free_slots(timezone.now())
    for _ in range(max_batches):
        now = timezone.now()
        with transaction.atomic():
            due = (
                Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=min(now, lapsed_before)))
                .order_by("next_attempt_at")
            )
            ids = list(
                lock_rows(due.exclude(endpoint_id__in=list(free_slots)), skip_locked=True).values_list(
                    "id", flat=True
                )[:batch_size]
            )
            for endpoint_id, free in free_slots.items():
                if free > 0 and len(ids) < batch_size:
                    taken = list(
                        lock_rows(due.filter(endpoint_id=endpoint_id), skip_locked=True).values_list(
                            "id", flat=True
                        )[: min(free, batch_size - len(ids))]
                    )
                    free_slots[endpoint_id] = free - len(taken)
                    ids += taken
            if not ids:
                break
            token = uuid.uuid4().hex
            Delivery.objects.filter(pk__in=ids).update(
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=conf.WEBHOOK_QUEUE_LEASE_SECONDS),
            )
            _enqueue_after_commit(ids, token)
        queued += len(ids)
        if len(ids) < batch_size:
            break
    return queued


def _replay_fields(now: datetime, token: str) -> dict[str, Any]:
    return {
        "status": DeliveryStatus.PENDING,
        "schedule_position": 0,
        "next_attempt_at": now,
        "lease_token": token,
        "lease_expires_at": now + timedelta(seconds=conf.WEBHOOK_QUEUE_LEASE_SECONDS),
        "in_flight_since": None,
        "updated_at": now,
    }


@transaction.atomic
def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send a succeeded or failed delivery again, with a fresh retry schedule."""
    delivery = lock_rows(Delivery.objects.select_related("endpoint", "message")).get(pk=delivery.pk)
    if not delivery.endpoint.is_active:
        raise WebhookConflict("The endpoint is disabled; re-enable it (is_active=true) before replaying.")
    if delivery.status == DeliveryStatus.PENDING:
        raise WebhookConflict("The delivery is still pending; it will be attempted as scheduled.")
    now, token = timezone.now(), uuid.uuid4().hex
    fields = _replay_fields(now, token)
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.replay_count += 1
    delivery.save()
    _enqueue_after_commit([delivery.pk], token)
    return delivery


@transaction.atomic
def endpoint_replay_failed(*, endpoint: WebhookEndpoint, since: datetime) -> list[str]:
    """Replay every failed delivery of ``endpoint`` created at or after ``since``; returns their ids."""
    if not WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).exists():
        raise WebhookConflict("The endpoint is disabled; re-enable it (is_active=true) before replaying.")
    now, token = timezone.now(), uuid.uuid4().hex
    failed = lock_rows(endpoint.deliveries.filter(status=DeliveryStatus.FAILED, created_at__gte=since))
    ids = list(failed.values_list("id", flat=True))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        Delivery.objects.filter(pk__in=chunk).update(
            replay_count=F("replay_count") + 1, **_replay_fields(now, token)
        )
    _enqueue_after_commit(ids, token)
    return ids
