"""Log filters: housekeeping that runs every few seconds logs at DEBUG, not INFO.

Beat's "Sending due task" and a worker's "received"/"succeeded" lines for the periodic jobs scheduled
more often than every ``FREQUENT_SECONDS`` (the outbox sweep, the webhook dispatcher, the heartbeat)
would otherwise fill the console and the log store; their failures still log at WARNING or ERROR.
"""

import logging
from datetime import timedelta

from django.conf import settings

FREQUENT_SECONDS = 300
_CELERY_LOGGERS = frozenset({"celery.beat", "celery.app.trace", "celery.worker.strategy"})


def frequent_task_names() -> frozenset[str]:
    """The tasks of the beat schedule that run every ``FREQUENT_SECONDS`` or more often."""
    names = set()
    for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values():
        schedule = entry.get("schedule")
        if isinstance(schedule, timedelta):
            schedule = schedule.total_seconds()
        if isinstance(schedule, int | float) and schedule <= FREQUENT_SECONDS:
            names.add(entry["task"])
    return frozenset(names)


def _task_name(record: logging.LogRecord) -> str | None:
    if isinstance(record.args, dict):  # worker lines: "Task %(name)s[%(id)s] received"
        return record.args.get("name")
    if record.name == "celery.beat" and isinstance(record.args, tuple) and len(record.args) == 2:
        return record.args[1]  # "Scheduler: Sending due task %s (%s)", entry name and task name
    return None


class QuietHousekeepingFilter(logging.Filter):
    """Turns the INFO lines of frequent housekeeping tasks into DEBUG lines."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._tasks: frozenset[str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name not in _CELERY_LOGGERS:
            return True
        if self._tasks is None:
            self._tasks = frequent_task_names()
        if _task_name(record) not in self._tasks:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
