"""The retry policy of deliveries, pure (no ORM, no settings): when the next try is due, if any."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_delay(
    *,
    position: int,
    status_code: int | None,
    retry_after: str | None,
    schedule: Sequence[float],
    jitter: float,
    retry_after_max: float,
    now: datetime,
) -> float | None:
    """Seconds until the next try after the ``position``-th failed one, or None when none is left.

    The delay is the schedule's entry ± ``jitter`` (a fraction); a ``Retry-After`` sent with a 429 or
    503 lengthens it, up to ``retry_after_max``.
    """
    if position > len(schedule):
        return None
    base = float(schedule[position - 1])
    delay = base * random.uniform(1 - jitter, 1 + jitter) if jitter else base
    if status_code in (429, 503) and retry_after:
        asked = parse_retry_after(retry_after, now=now)
        if asked is not None and asked > delay:
            delay = min(asked, float(retry_after_max))
    return delay


def parse_retry_after(value: str, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to Python, not to float()
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())
