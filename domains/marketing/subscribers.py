"""How the marketing domain reacts to the other domains' events (registered in ``apps.py``). Each handler is
idempotent: events are delivered at least once and in no guaranteed order."""

from __future__ import annotations

import logging

from csintegration.events import subscribe
from domains.customers.models import Customer

from . import services

logger = logging.getLogger(__name__)

#: the CS signals on which the automatic trigger rules are evaluated
CS_SIGNAL_EVENTS = ("health_score_change", "churn_risk_detected", "expansion_ready")


def on_cs_signal(event) -> None:
    """Evaluate the automatic trigger rules for the customer the signal is about."""
    if not event.customer_id:
        return
    try:
        joined = services.campaign_triggers_apply(customer_id=event.customer_id)
    except Customer.DoesNotExist:
        return
    if joined:
        logger.info("%s enrolled %s into %s", event.event_type, event.customer_id, ", ".join(joined))


def on_handoff_completed(event) -> None:
    """The sales handoff moved the customer to onboarding: the journey history records it."""
    if not event.customer_id:
        return
    handoff_id = event.payload.get("handoff_id")
    reason = f"sales handoff {handoff_id}" if isinstance(handoff_id, str) else "sales handoff"
    services.journey_record_handoff(
        customer_id=event.customer_id, event_id=event.event_id, occurred_at=event.occurred_at, reason=reason
    )


def on_customer_created(event) -> None:
    """A new customer's journey begins at the stage it was created with."""
    stage = event.payload.get("lifecycle_stage")
    if event.customer_id and isinstance(stage, str):
        services.journey_start(
            customer_id=event.customer_id, stage=stage, event_id=event.event_id, occurred_at=event.occurred_at
        )


def on_customer_updated(event) -> None:
    """A stage written directly to the customer record joins the journey history."""
    changed = event.payload.get("changed_fields") or []
    if not event.customer_id or "lifecycle_stage" not in changed:
        return
    previous = ((event.payload.get("changes") or {}).get("lifecycle_stage") or {}).get("previous")
    services.journey_sync_from_record(
        customer_id=event.customer_id,
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        previous_stage=previous if isinstance(previous, str) else None,
    )


def subscribe_marketing() -> None:
    # expansion_ready and handoff_completed are declared by the sales app, which may be absent.
    subscribe("marketing.campaign_triggers", on_cs_signal, event_types=CS_SIGNAL_EVENTS, optional=True)
    subscribe(
        "marketing.journey_handoffs", on_handoff_completed, event_types=["handoff_completed"], optional=True
    )
    subscribe("marketing.journey_starts", on_customer_created, event_types=["customer.created"])
    subscribe("marketing.journey_record_changes", on_customer_updated, event_types=["customer.updated"])
