"""Periodic jobs declared by the apps: each adds its own entries from ``AppConfig.ready()``.

django-celery-beat copies them into its tables when beat starts, where the admin can edit, disable or
reschedule them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def register_periodic_task(
    name: str, *, task: str, schedule: Any, options: dict[str, Any] | None = None
) -> None:
    """Run ``task`` on ``schedule`` (seconds, or a ``crontab``) under beat, as the entry ``name``."""
    entry: dict[str, Any] = {"task": task, "schedule": schedule}
    if options:
        entry["options"] = dict(options)
    settings.CELERY_BEAT_SCHEDULE[name] = entry
    from csintegration.celery import app

    # The Celery app may have read its configuration already (it copies the settings it reads).
    if app.conf.beat_schedule is not settings.CELERY_BEAT_SCHEDULE:
        app.conf.beat_schedule[name] = entry
