"""Demo data of webhooks for ``seed_demo``: a week of deliveries to one demo endpoint, so the dashboard's
delivery figures and a customer's deliveries show something. Idempotent: created once.

The endpoint's host is under ``.invalid`` (RFC 6761: it never resolves) and the endpoint is disabled, so
nothing is ever sent from a demo instance; register a real receiver to see live deliveries (README).
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from csintegration.clients.models import IntegrationClient
from csintegration.events.models import Event

from . import signing
from .models import Attempt, Delivery, DeliveryStatus, DisabledReason, Message, WebhookEndpoint

DEMO_URL = "https://receiver.demo.invalid/cs-hub"
DEMO_DAYS = 7
DELIVERIES_PER_DAY = 120
EVENT_TYPES = ("health_score_change", "churn_risk_detected", "customer.updated", "journey_stage_changed")


@transaction.atomic
def seed_demo_webhooks(*, demo_client_id: str | None = None, **options) -> str:
    if WebhookEndpoint.objects.filter(url=DEMO_URL).exists():
        return "demo deliveries already there"
    client = IntegrationClient.objects.filter(client_id=demo_client_id).first() if demo_client_id else None
    if client is None:
        return "no demo client to own an endpoint"
    # The customers the event log knows (the customers app's demo data has published their alerts).
    customer_ids = sorted(
        set(Event.objects.filter(customer_id__startswith="cust_demo").values_list("customer_id", flat=True))
    )
    if not customer_ids:
        return "no demo customer in the event log"
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        client=client,
        url=DEMO_URL,
        event_types=["*"],
        description="Demo receiver (disabled: its host never resolves). Its deliveries are demo data.",
        secret=signing.new_secret(),
        is_active=False,
        disabled_reason=DisabledReason.MANUAL,
        disabled_at=now,
    )
    rng = random.Random(20261202)
    messages, deliveries, attempts = [], [], []
    for number in range(DEMO_DAYS * DELIVERIES_PER_DAY):
        occurred = now - timedelta(seconds=rng.uniform(60, DEMO_DAYS * 86400))
        event_type = rng.choices(EVENT_TYPES, weights=(6, 1, 3, 1))[0]
        customer_id = rng.choice(customer_ids)
        message = Message(
            event_id=f"evt_demo_webhook_{number:05d}",
            event_type=event_type,
            customer_id=customer_id,
            body=json.dumps({"event": event_type, "customer_id": customer_id}),
            occurred_at=occurred,
        )
        outcome = rng.choices((DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED), weights=(94, 6))[0]
        tries = 1 if outcome == DeliveryStatus.SUCCEEDED and rng.random() < 0.9 else rng.randint(2, 8)
        lag = rng.lognormvariate(0, 0.8) + (0 if tries == 1 else 300 * (tries - 1))
        finished = occurred + timedelta(seconds=lag)
        delivery = Delivery(
            message=message,
            endpoint=endpoint,
            event_type=event_type,
            status=outcome,
            attempt_count=tries,
            schedule_position=tries,
            last_status_code=200 if outcome == DeliveryStatus.SUCCEEDED else rng.choice((500, 502, 503, 404)),
            last_error="" if outcome == DeliveryStatus.SUCCEEDED else "receiver answered an error",
            last_attempt_at=finished,
            succeeded_at=finished if outcome == DeliveryStatus.SUCCEEDED else None,
        )
        messages.append(message)
        deliveries.append((delivery, occurred))
        for attempt in range(1, tries + 1):
            success = outcome == DeliveryStatus.SUCCEEDED and attempt == tries
            attempts.append(
                Attempt(
                    delivery=delivery,
                    number=attempt,
                    status_code=200 if success else delivery.last_status_code or 503,
                    duration_ms=rng.randint(40, 900),
                    succeeded=success,
                )
            )
    Message.objects.bulk_create(messages, batch_size=1000)
    Delivery.objects.bulk_create([delivery for delivery, _ in deliveries], batch_size=1000)
    Attempt.objects.bulk_create(attempts, batch_size=1000)
    # created_at is auto_now_add: set each delivery's to its event's hour, a query per hour of history.
    by_day: dict[int, list[str]] = {}
    for delivery, occurred in deliveries:
        by_day.setdefault(int((now - occurred).total_seconds() // 3600), []).append(delivery.pk)
    for hours, ids in by_day.items():
        Delivery.objects.filter(pk__in=ids).update(created_at=now - timedelta(hours=hours, minutes=30))
    failed = sum(1 for delivery, _ in deliveries if delivery.status == DeliveryStatus.FAILED)
    return f"{len(deliveries)} deliveries ({failed} failed) to a disabled demo endpoint over {DEMO_DAYS} days"
