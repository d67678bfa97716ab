"""Publishing customer events in the caller's transaction: one, or many in a bounded number of queries."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from csintegration import events

#: (event type, customer id, payload, occurred_at or None for now)
Message = tuple[str, str | None, dict[str, Any], datetime | None]


def publish_all(messages: Sequence[Message]) -> list[str]:
    """Publish ``messages`` in order and return their event ids."""
    if not messages:
        return []
    if len(messages) == 1:
        event_type, customer_id, payload, occurred_at = messages[0]
        return [
            events.publish(
                event_type, customer_id=customer_id, payload=payload, occurred_at=occurred_at
            ).event_id
        ]
    return [event.event_id for event in events.publish_many(list(messages))]
