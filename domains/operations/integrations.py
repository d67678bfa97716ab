"""The other domains' public functions this app calls, each looked up when needed and treated as absent
when its app is not installed or does not (yet) offer it. Nothing else of another domain is imported."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _marketing_services() -> Any | None:
    try:
        from domains.marketing import services
    except ImportError:
        return None
    return services


def campaign_enroll_for_trigger() -> Callable[..., str | None] | None:
    """``domains.marketing.services.campaign_enroll_for_trigger(*, customer_id, campaign_type,
    trigger_type, reason) -> campaign_id | None``, or None when marketing does not offer it."""
    services = _marketing_services()
    function = getattr(services, "campaign_enroll_for_trigger", None) if services else None
    return function if callable(function) else None


def journey_move() -> tuple[Callable[..., Any], type[Exception]] | None:
    """``domains.marketing.services.journey_move(*, customer_id, stage, reason, changed_by)`` and the
    ``JourneyTransitionNotAllowed`` it raises (with ``allowed``), or None when marketing does not offer it."""
    services = _marketing_services()
    if services is None:
        return None
    function = getattr(services, "journey_move", None)
    refused = getattr(services, "JourneyTransitionNotAllowed", None)
    if not callable(function) or not (isinstance(refused, type) and issubclass(refused, Exception)):
        return None
    return function, refused


def marketing_campaigns_available() -> bool:
    return campaign_enroll_for_trigger() is not None


def marketing_journey_available() -> bool:
    return journey_move() is not None
