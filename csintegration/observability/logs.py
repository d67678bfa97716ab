"""Structured logs (structlog): one line per request and per task, in JSON with ``LOG_FORMAT=json`` or
human-readable on the console (the default, as under ``make run``).

Every line carries the context bound for its request or task: ``request_id`` (from the request, and
carried into every task the request starts), ``task_id``/``task`` in a worker, and what a line adds
(``event_id``, ``delivery_id``, ``customer_id``). A request's line lists the events it published, each
fan-out and delivery line names its event, so one signal is followed from request to delivery with one
grep of its request id or event id. The standard library's loggers go through the same renderer.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import structlog

#: the ids of the events published by the current request (for its log line)
request_events: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "request_events", default=None
)


def note_published(event_ids: list[str]) -> None:
    """Remember events published during the current request, for its log line."""
    current = request_events.get()
    if current is not None:
        current.extend(event_ids)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: every logger through structlog's formatter, JSON or console."""
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.dict_tracebacks,
            renderer,
        ]
    else:
        processors = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(colors=False),
        ]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": processors,
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            # Our request and task lines say it once; Celery's own per-task lines would say it again.
            "celery.app.trace": {"level": "WARNING"},
            "celery.worker.strategy": {"level": "WARNING"},
            "celery.beat": {"level": "WARNING"},
            "kombu.connection": {"level": "ERROR"},
        },
    }


def bind(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def unbind(*names: str) -> None:
    structlog.contextvars.unbind_contextvars(*names)


logging.captureWarnings(True)
