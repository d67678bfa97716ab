"""Every write to a customer record. Keyword-only, typed; each owns its transaction and publishes its events
in it (the outbox), so a rolled-back change never reaches a subscriber. A health score given here goes
through the health engine (``health.py``): its risk level and trend are the engine's, never the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from csintegration.api.bulk import BulkItem, BulkItemResult, item_error
from csintegration.db import bulk_insert, bulk_update_values, locked_by_key, model_update, new_instance
from csintegration.events import EventMessage, publish_many

from . import events, health
from .models import Customer, HealthSnapshot, new_customer_id

# Fields a caller may set; everything else (timestamps, id after creation) belongs to the platform.
# health_score goes through the engine; health_trend and risk_level are the engine's alone.
WRITABLE_FIELDS = (
    "name",
    "segment",
    "arr",
    "success_manager",
    "lifecycle_stage",
    "adoption_rate",
    "engagement_score",
    "nps_score",
    "marketing_status",
    "sales_status",
    "product_status",
    "finance_status",
    "operations_status",
)
HEALTH_FIELDS = ("health_score", "health_trend", "risk_level")
#: fields that other domains keep current through their events (projections.py); a write here wins too
PROJECTED_FIELDS = (
    "lifecycle_stage",
    "success_manager",
    "marketing_status",
    "sales_status",
    "product_status",
    "finance_status",
    "operations_status",
)
#: every field an event about the customer carries
EVENT_FIELDS = (*WRITABLE_FIELDS[:4], *HEALTH_FIELDS, *WRITABLE_FIELDS[4:])


class CustomerExists(Exception):
    """A customer with this id exists already."""


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def customer_payload(customer: Customer) -> dict[str, Any]:
    """The customer as events carry it: its fields, JSON-ready."""
    return {name: _json_value(getattr(customer, name)) for name in EVENT_FIELDS}


def _mark_projected(customer: Customer, changed: dict[str, Any], now) -> None:
    """A direct write of a status field is as recent as now: older domain events do not undo it."""
    marks = {name: now.isoformat() for name in changed if name in PROJECTED_FIELDS}
    if marks:
        customer.integration_status_as_of = {**(customer.integration_status_as_of or {}), **marks}


def _update_message(customer: Customer, changed: dict[str, tuple[Any, Any]]) -> EventMessage:
    return EventMessage(
        events.CUSTOMER_UPDATED.name,
        customer.customer_id,
        {
            "changed_fields": sorted(changed),
            "changes": {
                name: {"previous": _json_value(before), "current": _json_value(after)}
                for name, (before, after) in sorted(changed.items())
            },
        },
    )


def _health_changes(outcome: health.HealthOutcome) -> dict[str, tuple[Any, Any]]:
    return {
        name: (before, getattr(outcome.customer, name))
        for name, before in outcome.previous_values.items()
        if name in HEALTH_FIELDS
    }


def _new_customer(customer_id: str, data: dict[str, Any], now) -> Customer:
    customer = new_instance(
        Customer, customer_id=customer_id, **{name: data[name] for name in WRITABLE_FIELDS if name in data}
    )
    if data.get("health_score") is not None:
        customer.health_score = data["health_score"]
    _mark_projected(customer, {name: True for name in PROJECTED_FIELDS if name in data}, now)
    return customer


@transaction.atomic
def customer_create(*, data: dict[str, Any], customer_id: str | None = None) -> Customer:
    """Create a customer; its risk level is its score's band under the scorecard that applies to it.
    Raises ``CustomerExists``."""
    now = timezone.now()
    customer = _new_customer(customer_id or new_customer_id(), data, now)
    (snapshot,) = health.health_initial(customers=[customer])
    try:
        with transaction.atomic():
            customer.save(force_insert=True)
    except IntegrityError:
        raise CustomerExists(customer.customer_id) from None
    snapshot.save()
    publish_many(
        [EventMessage(events.CUSTOMER_CREATED.name, customer.customer_id, customer_payload(customer))]
    )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    """Change the fields ``data`` names; a new health score goes through the health engine. Publishes
    ``customer.updated`` with what changed (and the engine's events). Returns the updated row."""
    now = timezone.now()
    locked = locked_by_key(Customer, [customer.pk]).get(customer.pk)
    if locked is None:
        raise Customer.DoesNotExist(customer.pk)
    changed = model_update(instance=locked, data=data, fields=WRITABLE_FIELDS, save=False)
    if changed:
        _mark_projected(locked, changed, now)
        locked.updated_at = now
        locked.save(update_fields=[*changed, "integration_status_as_of", "updated_at"])
    score = data.get("health_score")
    if score is not None:
        for outcome in health.health_scores_set(scores=[(locked, score)]):
            changed.update(_health_changes(outcome))
    if changed:
        publish_many([_update_message(locked, changed)])
    return locked


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    customer_id, name = customer.customer_id, customer.name
    customer.delete()
    publish_many([EventMessage(events.CUSTOMER_DELETED.name, customer_id, {"name": name})])


CREATED, UPDATED = "created", "updated"


@transaction.atomic
def customer_bulk_upsert(*, items: Sequence[BulkItem]) -> list[BulkItemResult]:
    """Create or update validated records in a constant number of queries per batch.

    An item whose ``customer_id`` exists updates that customer with the fields it names; any other item
    creates one (it then needs a ``name``). An id given twice is an error on its second item. Scores go
    through the health engine in one set-based pass. One ``customer.created`` or ``customer.updated``
    per record that changed.
    """
    now = timezone.now()
    given = [item.data["customer_id"] for item in items if item.data.get("customer_id")]
    existing = locked_by_key(Customer, given)
    results: list[BulkItemResult] = []
    new_customers: list[Customer] = []
    updates: list[tuple[Customer, dict[str, Any]]] = []
    seen: set[str] = set()
    for item in items:
        data = dict(item.data)
        customer_id = data.pop("customer_id", None) or new_customer_id()
        if customer_id in seen:
            results.append(
                item_error(item.index, customer_id, "customer_id", "duplicate", "This id appears twice.")
            )
            continue
        customer = existing.get(customer_id)
        if customer is None and not data.get("name"):
            results.append(
                item_error(item.index, customer_id, "name", "required", "A new customer needs a name.")
            )
            continue
        seen.add(customer_id)
        if customer is None:
            new_customers.append(_new_customer(customer_id, data, now))
            results.append(BulkItemResult(item.index, CREATED, customer_id))
        else:
            updates.append((customer, data))
            results.append(BulkItemResult(item.index, UPDATED, customer_id))

    snapshots = health.health_initial(customers=new_customers)
    bulk_insert(Customer, new_customers)
    bulk_insert(HealthSnapshot, snapshots)
    messages = [
        EventMessage(events.CUSTOMER_CREATED.name, customer.customer_id, customer_payload(customer))
        for customer in new_customers
    ]

    changes: dict[str, dict[str, tuple[Any, Any]]] = {}
    changed_fields: set[str] = set()
    for customer, data in updates:
        changed = model_update(instance=customer, data=data, fields=WRITABLE_FIELDS, save=False)
        if changed:
            _mark_projected(customer, changed, now)
            customer.updated_at = now
            changes[customer.customer_id] = changed
            changed_fields.update(changed)
    # The engine decides the scores; its customer fields and events are written with the batch's own, so
    # that the customers are updated by one statement and the events published by one.
    engine = health.health_scores_decide(
        scores=[(customer, data["health_score"]) for customer, data in updates if "health_score" in data]
    )
    for outcome in engine.outcomes:
        changes.setdefault(outcome.customer.customer_id, {}).update(_health_changes(outcome))
    dirty = {customer.customer_id: customer for customer, _ in updates if customer.customer_id in changes}
    if changed_fields:
        changed_fields.update(("integration_status_as_of", "updated_at"))
    changed_fields.update(engine.fields)
    if changed_fields:
        bulk_update_values(Customer, list(dirty.values()), sorted(changed_fields))
    messages += [
        _update_message(customer, changes[customer.customer_id])
        for customer, _ in updates
        if changes.get(customer.customer_id)
    ]
    published = publish_many([*engine.messages, *messages])
    engine.write(customers=False, published=published[: len(engine.messages)])
    return results


@transaction.atomic
def customers_health_recompute(*, customer_ids: Sequence[str]) -> list[health.HealthOutcome]:
    """Recompute the health of these customers from their signals now (the admin's action), their rows
    locked in key order as the nightly recompute does."""
    locked = locked_by_key(Customer, customer_ids)
    return health.health_recompute_customers(customers=[locked[key] for key in sorted(locked)])
