"""The in-process registry of event subscribers: apps call ``subscribe()`` in ``AppConfig.ready()``.

Types are named, not checked, when a subscriber registers: the app that declares a type may be loaded
after the one that subscribes to it. The system check ``events.E001`` reports a subscription to a type
that no app declared, unless the subscriber marked it ``optional`` (it reacts to an app that may not be
installed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Event

Handler = Callable[["Event"], None]
ALL_EVENTS = "*"


@dataclass(frozen=True)
class Subscriber:
    """A named handler and the event types it wants (``"*"`` for all).

    The name keys the receipts of its work, so it must be unique and stable across releases.
    """

    name: str
    handler: Handler
    event_types: frozenset[str]
    #: run inside the publishing transaction (see ``subscribe``)
    inline: bool = False
    #: the types may be declared by apps that are not installed
    optional: bool = False

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types


_subscribers: dict[str, Subscriber] = {}
_lock = threading.Lock()


def subscribe(
    name: str,
    handler: Handler,
    *,
    event_types: Iterable[str] = (ALL_EVENTS,),
    inline: bool = False,
    optional: bool = False,
) -> Subscriber:
    """Register ``handler`` under ``name`` for ``event_types``.

    The fan-out calls the handler once per matching event, inside a transaction that also records
    its receipt: its database writes and the receipt commit together, and a failure (any exception)
    rolls both back and is retried with backoff. Delivery is still at least once (a worker may die
    after the handler's external side effects and before the commit), so a handler must be
    idempotent; work it hands to Celery should be enqueued with ``transaction.on_commit``.

    ``inline=True`` is for a handler that only writes rows of its own (e.g. the webhooks' outbox of
    deliveries): ``publish()`` then runs it at once, in a savepoint of the publishing transaction, which
    saves the latency of a trip through the broker. If it fails there, the fan-out retries it as for
    any subscriber. ``publish_many()`` leaves every subscriber to the fan-out.

    Registering the same name again replaces the earlier registration (``ready()`` may run twice).
    """
    from .types import NAME_PATTERN

    if not name or len(name) > 100:
        raise ValueError("A subscriber name is 1 to 100 characters.")
    if not callable(handler):
        raise TypeError("The handler must be callable with one Event.")
    if isinstance(event_types, str):
        event_types = (event_types,)
    wanted = frozenset(event_types)
    if not wanted:
        raise ValueError("A subscriber wants at least one event type (or '*').")
    malformed = [item for item in wanted - {ALL_EVENTS} if not NAME_PATTERN.match(item)]
    if malformed:
        raise ValueError(f"Not event type names: {', '.join(sorted(malformed))}.")
    subscriber = Subscriber(name=name, handler=handler, event_types=wanted, inline=inline, optional=optional)
    with _lock:
        _subscribers[name] = subscriber
    return subscriber


def unsubscribe(name: str) -> None:
    with _lock:
        _subscribers.pop(name, None)


def subscribers_for(event_type: str) -> list[Subscriber]:
    """The subscribers that want ``event_type``, in a stable order (by name)."""
    with _lock:
        matching = [subscriber for subscriber in _subscribers.values() if subscriber.wants(event_type)]
    return sorted(matching, key=lambda subscriber: subscriber.name)


def subscribers() -> list[Subscriber]:
    with _lock:
        return sorted(_subscribers.values(), key=lambda subscriber: subscriber.name)
