"""One strict datetime for every API input: RFC 3339 (the ISO 8601 profile of the internet).

Accepted: ``YYYY-MM-DDTHH:MM:SS[.fraction]`` with ``Z`` or a ``±HH:MM`` offset, nothing else: no date
alone, no missing offset (a time without one means nothing to a server), no week dates, no ``24:00``.

- The year is 1970 to 9998: every time the platform records is after the Unix epoch (webhooks carry
  Unix seconds), years before 1000 would print with fewer than four digits, which is not RFC 3339, and
  up to 9998 any offset still lands within year 9999 in UTC, the last that Python and Django hold.
- The offset is at most ±14:00, the widest in use on Earth; PostgreSQL refuses larger ones (``+16:40``
  was a 500 ``DataError``).
- A fraction of up to 9 digits is read (Go's RFC3339Nano writes 9); the platform keeps microseconds.

``RFC3339_PATTERN`` is the same rule as a regular expression, published in the OpenAPI document.

A date alone (``RFC3339DateField``) is RFC 3339's ``full-date``, ``YYYY-MM-DD`` and nothing else (Python
would also read ``20250131`` and week dates), within the years the field admits, which its published
pattern states.
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import django_filters
from django import forms
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

RFC3339_PATTERN = (
    r"^(19[7-9]\d|[2-8]\d{3}|9[0-8]\d{2}|99[0-8]\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?"
    r"(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$"
)
_RFC3339 = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?(?P<offset>Z|[+-]\d{2}:\d{2})$"
)
_STRICT = re.compile(RFC3339_PATTERN)
MESSAGE = (
    "Use an RFC 3339 time such as 2025-01-31T09:30:00Z: year 1970 to 9998, "
    "'Z' or an offset of at most ±14:00."
)
SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": RFC3339_PATTERN,
    "example": "2025-01-31T09:30:00Z",
}


def parse_rfc3339(value: str) -> datetime | None:
    """The instant ``value`` names, in UTC, or None if it is not a strict RFC 3339 time."""
    if not isinstance(value, str) or not _STRICT.fullmatch(value):
        return None
    parts = _RFC3339.fullmatch(value)
    if parts is None:  # pragma: no cover - _STRICT implies it
        return None
    offset = parts["offset"]
    if offset == "Z":
        zone = UTC
    else:
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
    try:
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"]),
            int((parts["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        ).astimezone(UTC)
    except ValueError:  # 2025-02-30
        return None


@extend_schema_field(SCHEMA)
class RFC3339DateTimeField(serializers.DateTimeField):
    """A serializer field that reads only strict RFC 3339 times (and writes them in UTC with ``Z``)."""

    default_error_messages = {"invalid": MESSAGE}

    def to_internal_value(self, value):
        parsed = parse_rfc3339(value)
        if parsed is None:
            self.fail("invalid")
        return parsed


class _RFC3339FormField(forms.Field):
    default_error_messages = {"invalid": MESSAGE}

    def to_python(self, value):
        if value in (None, ""):
            return None
        parsed = parse_rfc3339(value)
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


@extend_schema_field(SCHEMA)
class RFC3339DateTimeFilter(django_filters.Filter):
    """A query filter on a time, read as strictly as :class:`RFC3339DateTimeField`."""

    field_class = _RFC3339FormField


def year_range_pattern(first: int, last: int) -> str:
    """A regular expression (no anchors) matching exactly the four-digit years ``first`` to ``last``:
    whole decades as ``197\\d``, the ends of the range digit by digit."""
    if not 1000 <= first <= last <= 9999:
        raise ValueError(f"Years {first} to {last} are not four-digit years in order.")
    parts = []
    for decade in range(first // 10, last // 10 + 1):
        low, high = max(first, decade * 10) % 10, min(last, decade * 10 + 9) % 10
        digits = r"\d" if (low, high) == (0, 9) else str(low) if low == high else f"[{low}-{high}]"
        parts.append(f"{decade}{digits}")
    return "|".join(parts)


def full_date_pattern(first_year: int, last_year: int) -> str:
    return f"^({year_range_pattern(first_year, last_year)})-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$"


class RFC3339DateField(serializers.DateField):
    """A date as ``YYYY-MM-DD`` from ``first_year`` to ``last_year`` (both included), read as sent."""

    default_error_messages = {"invalid": "Use a date such as 2025-01-31, in the years {first} to {last}."}

    def __init__(self, *, first_year: int = 1970, last_year: int = 9998, **kwargs) -> None:
        self.first_year, self.last_year = first_year, last_year
        self.pattern = re.compile(full_date_pattern(first_year, last_year))
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        if isinstance(value, str) and self.pattern.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:  # 2025-02-30
                pass
        self.fail("invalid", first=self.first_year, last=self.last_year)

    def schema(self) -> dict:
        return {"type": "string", "format": "date", "pattern": self.pattern.pattern, "example": "2025-01-31"}


class RFC3339DateFieldSchema(OpenApiSerializerFieldExtension):
    target_class = RFC3339DateField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return self.target.schema()


#: the OpenAPI extension naming the window, relative to the server's clock, of a time or date that a
#: field takes: ``{"earliest_seconds": -86400, "latest_seconds": 300}`` (either may be absent). JSON
#: Schema cannot say "not in the future", yet a client, or a test tool, needs to know.
RELATIVE_TO_NOW = "x-relative-to-now"
#: how far ahead of the server's clock a reported time may be
CLOCK_SKEW = timedelta(minutes=5)

ClockWindow = tuple[timedelta | None, timedelta | None]


class WithinClock:
    """A validator: a time lies within ``[now + earliest, now + latest]``, a date within
    ``[today + earliest, today + latest]`` (UTC; whole days), either end open when None. ``window`` is
    the pair, or a callable giving it (read at each call, so tunables count as they are now). The
    schema publishes it as ``x-relative-to-now`` (``PlatformAutoSchema``).

    The messages may name the bound: ``"Older than the usage kept ({bound} at the earliest)."``."""

    def __init__(
        self,
        window: ClockWindow | Callable[[], ClockWindow],
        *,
        too_early: tuple[str, str] = ("This time is in the past.", "past"),
        too_late: tuple[str, str] = ("This time is in the future.", "future"),
    ) -> None:
        self.window, self.too_early, self.too_late = window, too_early, too_late

    def bounds(self) -> ClockWindow:
        return self.window() if callable(self.window) else self.window

    def __call__(self, value):
        earliest, latest = self.bounds()
        if isinstance(value, datetime):
            now = datetime.now(UTC)
            low, high = (None if e is None else now + e for e in (earliest, latest))
        else:
            today = datetime.now(UTC).date()
            low, high = (None if e is None else today + timedelta(days=e.days) for e in (earliest, latest))
        for bound, refused, (message, code) in (
            (low, low is not None and value < low, self.too_early),
            (high, high is not None and value > high, self.too_late),
        ):
            if refused:
                shown = (
                    bound.isoformat()
                    if isinstance(bound, date) and not isinstance(bound, datetime)
                    else bound
                )
                raise serializers.ValidationError(message.format(bound=shown), code=code)
        return value

    def schema(self) -> dict:
        earliest, latest = self.bounds()
        return {
            RELATIVE_TO_NOW: {
                name: int(offset.total_seconds())
                for name, offset in (("earliest_seconds", earliest), ("latest_seconds", latest))
                if offset is not None
            }
        }


#: a reported time may not lie in the future (beyond the clock skew a client may have)
not_in_future = WithinClock((None, CLOCK_SKEW))


def relative_to_now_schema(field) -> dict:
    """The ``x-relative-to-now`` of a field's ``WithinClock`` validator, if it has one."""
    for validator in getattr(field, "validators", ()):
        if isinstance(validator, WithinClock):
            return validator.schema()
    return {}
