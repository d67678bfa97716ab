"""Celery tasks of the product domain: thin wrappers that call a service and can safely run twice."""

import logging

from celery import shared_task
from django.db import DatabaseError

from . import aggregates, services

logger = logging.getLogger(__name__)

RETRYING = {
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 30,
    "retry_backoff_max": 900,
    "max_retries": 5,
    "acks_late": True,
    "ignore_result": True,
}


@shared_task(name="product.sync_adoption_profiles", **RETRYING)
def sync_adoption_profiles() -> dict:
    """Bring customer changes (health, segment, stage) since the last run into the adoption figures."""
    stats = aggregates.profiles_catch_up()
    if stats.changed or stats.removed:
        logger.info("Adoption profiles synced: %s", stats.as_dict())
    return stats.as_dict()


@shared_task(name="product.nightly_rollover", **RETRYING)
def nightly_rollover() -> dict:
    """The night's work, each step idempotent: prune usage past retention, sync then rebuild the
    aggregates (rolling off adoption older than the longest window, recording any drift corrected),
    refresh the adoption rates whose adoption lapsed, take today's adoption snapshots, and re-rank the
    open feedback by its customers' current ARR and health."""
    summary = {
        "usage_pruned": aggregates.usage_prune(),
        "profiles": aggregates.profiles_catch_up().as_dict(),
        "rebuild": aggregates.aggregates_rebuild().as_dict(),
        "lapsed_rates_sent": services.lapsed_adoption_rates_refresh(),
        "snapshots": services.adoption_snapshots_take(),
        "feedback_rescored": services.feedback_priorities_refresh(),
    }
    logger.info("Product nightly rollover: %s", summary)
    return summary


@shared_task(name="product.recompute_feature_adoption", **RETRYING)
def recompute_feature_adoption(feature_id: str) -> dict:
    """A feature's threshold changed: recompute its adoption from the usage, then the adoption rates."""
    rows = aggregates.feature_adoption_recompute(feature_id=feature_id)
    sent = services.adoption_rates_refresh()
    return {"feature_id": feature_id, "rows": rows, "rates_sent": sent}


@shared_task(name="product.recompute_adoption_rates", **RETRYING)
def recompute_adoption_rates() -> dict:
    """The set of active features or a window changed: every adoption rate moves."""
    return {"rates_sent": services.adoption_rates_refresh()}


@shared_task(name="product.rebuild_adoption_aggregates", **RETRYING)
def rebuild_adoption_aggregates() -> dict:
    """The admin's "rebuild now": sync the profiles, then rebuild every aggregate."""
    aggregates.profiles_catch_up()
    return aggregates.aggregates_rebuild().as_dict()
