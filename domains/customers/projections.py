"""``integration_status`` (and the stage and success manager) as a projection of the other domains' events.

The customers app subscribes to the events below, declared and published by the apps that own them,
and keeps each customer's record current, instead of those apps writing into customers. An event is
about its ``customer_id``, or about every id in its payload's ``customer_ids`` (a campaign's enrolment).
A field is changed only by an event that happened at or after the moment its stored value was set
(events are delivered at least once and in no guaranteed order), and a direct write through the
customer API counts as such a moment. Changes made here are announced by the event that caused them,
not by a second ``customer.updated``.

| event (publishing app)                 | customer fields                                             |
| -------------------------------------- | ----------------------------------------------------------- |
| handoff_completed (sales)              | sales handed_off, stage onboarding, its success_manager     |
| expansion_ready (sales)                | sales expansion_pipeline                                    |
| journey_stage_changed (marketing)      | stage: the payload's ``to_stage``                           |
| campaign_triggered (marketing)         | marketing active                                            |
| campaign_members_enrolled (marketing)  | marketing active, for each of ``customer_ids``              |
| payment_overdue (finance)              | finance overdue                                             |
| payments_current (finance)             | finance current                                             |
| task_escalated (operations)            | operations escalated                                        |
| escalation_resolved (operations)       | operations supported                                        |
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from csintegration.db import bulk_update_values, locked_by_key
from csintegration.events import subscribe

from .models import (
    Customer,
    FinanceStatus,
    LifecycleStage,
    MarketingStatus,
    OperationsStatus,
    SalesStatus,
)

logger = logging.getLogger(__name__)
SUBSCRIBER = "customers.projections"


def _success_manager(payload: dict[str, Any]) -> dict[str, Any]:
    manager = payload.get("success_manager")
    if not isinstance(manager, str):
        return {}
    try:
        validate_email(manager)
    except ValidationError:
        return {}
    return {"success_manager": manager}


def _stage(payload: dict[str, Any]) -> dict[str, Any]:
    stage = payload.get("to_stage")
    return {"lifecycle_stage": stage} if stage in LifecycleStage.values else {}


def _fixed(**fields: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda payload: dict(fields)


@dataclass(frozen=True)
class Projection:
    event_type: str
    #: the payload → the customer fields to set
    fields: Callable[[dict[str, Any]], dict[str, Any]]


PROJECTIONS: dict[str, Projection] = {
    projection.event_type: projection
    for projection in (
        Projection(
            "handoff_completed",
            lambda payload: {
                "sales_status": SalesStatus.HANDED_OFF,
                "lifecycle_stage": LifecycleStage.ONBOARDING,
                **_success_manager(payload),
            },
        ),
        Projection("expansion_ready", _fixed(sales_status=SalesStatus.EXPANSION_PIPELINE)),
        Projection("journey_stage_changed", _stage),
        Projection("campaign_triggered", _fixed(marketing_status=MarketingStatus.ACTIVE)),
        Projection("campaign_members_enrolled", _fixed(marketing_status=MarketingStatus.ACTIVE)),
        Projection("payment_overdue", _fixed(finance_status=FinanceStatus.OVERDUE)),
        Projection("payments_current", _fixed(finance_status=FinanceStatus.CURRENT)),
        Projection("task_escalated", _fixed(operations_status=OperationsStatus.ESCALATED)),
        Projection("escalation_resolved", _fixed(operations_status=OperationsStatus.SUPPORTED)),
    )
}


def _customer_ids(event) -> list[str]:
    if event.customer_id:
        return [event.customer_id]
    ids = event.payload.get("customer_ids")
    return [value for value in ids if isinstance(value, str)] if isinstance(ids, list) else []


def _as_of(customer: Customer, name: str) -> datetime | None:
    value = (customer.integration_status_as_of or {}).get(name)
    return parse_datetime(value) if isinstance(value, str) else None


def project_event(event) -> int:
    """Apply one event to the customers it is about; returns how many records changed."""
    projection = PROJECTIONS.get(event.event_type)
    if projection is None:
        return 0
    fields = projection.fields(event.payload)
    if not fields:
        logger.warning("%s %s carries nothing to project.", event.event_type, event.event_id)
        return 0
    customers = locked_by_key(Customer, _customer_ids(event))
    touched: list[Customer] = []
    changed_fields: set[str] = set()
    stamp, now = event.occurred_at.isoformat(), timezone.now()
    for customer in customers.values():
        applies = False
        for name, value in fields.items():
            as_of = _as_of(customer, name)
            if as_of is not None and as_of > event.occurred_at:
                continue  # a later write or event already set it
            customer.integration_status_as_of = {**(customer.integration_status_as_of or {}), name: stamp}
            applies = True
            if getattr(customer, name) != value:
                setattr(customer, name, value)
                customer.updated_at = now
                changed_fields.add(name)
        if applies:
            touched.append(customer)
    if touched:
        # updated_at is written for all touched rows: unchanged ones keep the value they were loaded with.
        columns = [*sorted(changed_fields), "integration_status_as_of", "updated_at"]
        bulk_update_values(Customer, touched, columns)
    return sum(1 for customer in touched if customer.updated_at == now)


def subscribe_projections() -> None:
    # Inline: the record is current when the publishing request commits; the publishing apps may not
    # be installed, hence optional.
    subscribe(SUBSCRIBER, project_event, event_types=list(PROJECTIONS), inline=True, optional=True)
