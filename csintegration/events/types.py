"""The registry of event types: each app declares the types it publishes in its ``events.py``.

    # domains/<app>/events.py, imported from the app's AppConfig.ready()
    from csintegration.events import register_event_type

    REPORT_PUBLISHED = register_event_type(
        "report_published",
        label="Report published",
        area="finance",
        example={"report_id": "rep_01…", "period": "2026-q1"},
    )

A type's ``area`` names the read scope a receiver needs (``sales`` → ``sales:read``): a webhook endpoint
receives an event only if its client holds that scope, and the event log shows a client only the types
it may read. ``critical`` types have their fan-out on the dedicated ``critical`` queue. The ``example`` is
the payload's own keys (the body adds ``event``, ``customer_id`` and ``timestamp``); the event catalogue
shows it and the OpenAPI document describes the payload from it (or from an explicit ``schema``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: what a name may look like: ``report_published``, ``report.published``
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
NAME_MAX_LENGTH = 64
EXAMPLE_CUSTOMER_ID = "cust_12345"
EXAMPLE_TIMESTAMP = "2025-12-05T08:20:00Z"


@dataclass(frozen=True)
class EventMessage:
    """One event to publish: its type, the customer it is about (None for none or many), the payload's
    own keys, and when it happened (None: now)."""

    event_type: str
    customer_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime | None = None


class UnknownEventType(LookupError):
    """No app registered an event type of this name."""


@dataclass(frozen=True)
class EventType:
    name: str
    label: str
    #: the scope area whose ``:read`` scope a receiver needs
    area: str
    critical: bool = False
    #: the payload's own keys, as an example
    example: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    #: False for events about many customers or none (their ``customer_id`` is null)
    customer_scoped: bool = True
    #: a JSON schema of the payload's own keys; inferred from ``example`` when not given
    schema: dict[str, Any] | None = None

    @property
    def read_scope(self) -> str:
        return f"{self.area}:read"

    def example_body(self) -> dict[str, Any]:
        """A whole delivered body, as a receiver sees it."""
        return {
            "event": self.name,
            "customer_id": EXAMPLE_CUSTOMER_ID if self.customer_scoped else None,
            **self.example,
            "timestamp": EXAMPLE_TIMESTAMP,
        }

    @property
    def schema_component_name(self) -> str:
        """``HealthScoreChangeEvent`` for ``health_score_change``, ``CustomerCreatedEvent`` for
        ``customer.created``."""
        return "".join(part.capitalize() for part in re.split(r"[._]", self.name)) + "Event"

    def body_schema(self) -> dict[str, Any]:
        """The JSON schema of a delivered body."""
        own = self.schema or schema_of(self.example)
        properties = {
            "event": {"type": "string", "enum": [self.name]},
            "customer_id": (
                {"type": "string", "pattern": "^cust_"}
                if self.customer_scoped
                else {"type": "null", "description": "null: about no single customer"}
            ),
            **own.get("properties", {}),
            "timestamp": {"type": "string", "format": "date-time"},
        }
        return {
            "type": "object",
            "title": self.label,
            "description": self.description or self.label,
            "properties": properties,
            "required": ["event", "customer_id", *own.get("required", []), "timestamp"],
        }


def schema_of(value: Any) -> dict[str, Any]:
    """A JSON schema that an example value satisfies (types, keys, and item shapes)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", value):
            return {"type": "string", "format": "date-time"}
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return {"type": "string", "format": "date"}
        return {"type": "string"}
    if value is None:
        return {"description": "may be null"}
    if isinstance(value, list | tuple):
        return {"type": "array", "items": schema_of(value[0]) if value else {}}
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {str(key): schema_of(item) for key, item in value.items()},
            "required": [str(key) for key in value],
        }
    raise TypeError(f"{type(value).__name__} is not a JSON value")


_types: dict[str, EventType] = {}
_lock = threading.Lock()


def _valid_areas() -> set[str]:
    return {scope.split(":", 1)[0] for scope in settings.API_SCOPES if scope.endswith(":read")}


def register_event_type(
    name: str,
    *,
    label: str,
    area: str,
    critical: bool = False,
    example: dict[str, Any] | None = None,
    description: str = "",
    customer_scoped: bool = True,
    schema: dict[str, Any] | None = None,
) -> EventType:
    """Declare an event type (from the publishing app's ``events.py``); returns it.

    Registering the same name again with the same declaration is harmless (``ready()`` may run twice);
    another declaration under a taken name is a configuration error.
    """
    if not NAME_PATTERN.match(name) or len(name) > NAME_MAX_LENGTH:
        raise ImproperlyConfigured(
            f"Event type {name!r}: use lower-case words joined by '_' or '.', at most {NAME_MAX_LENGTH}."
        )
    if area not in _valid_areas():
        raise ImproperlyConfigured(
            f"Event type {name!r}: area {area!r} has no '{area}:read' scope in settings.API_SCOPES."
        )
    example = dict(example or {})
    reserved = {"event", "customer_id", "timestamp"} & set(example)
    if reserved:
        raise ImproperlyConfigured(f"Event type {name!r}: the example may not set {', '.join(reserved)}.")
    schema_of(example)  # a JSON example, or a TypeError now rather than in the catalogue
    declared = EventType(
        name=name,
        label=label,
        area=area,
        critical=critical,
        example=example,
        description=description,
        customer_scoped=customer_scoped,
        schema=schema,
    )
    with _lock:
        existing = _types.get(name)
        if existing is not None and existing != declared:
            raise ImproperlyConfigured(f"Event type {name!r} is already registered differently.")
        _types[name] = declared
    return declared


def unregister_event_type(name: str) -> None:
    """Forget a type (for tests that declare their own)."""
    with _lock:
        _types.pop(name, None)


def event_type_get(name: str) -> EventType:
    """The registered type, or ``UnknownEventType``."""
    try:
        return _types[name]
    except KeyError:
        raise UnknownEventType(name) from None


def event_type_exists(name: str) -> bool:
    return name in _types


def event_types() -> list[EventType]:
    """Every registered type, by name."""
    with _lock:
        return sorted(_types.values(), key=lambda event_type: event_type.name)


def event_type_names() -> list[str]:
    return [event_type.name for event_type in event_types()]


def readable_event_types(scopes: set[str] | frozenset[str]) -> list[EventType]:
    """The types whose read scope is among ``scopes``."""
    return [event_type for event_type in event_types() if event_type.read_scope in scopes]
