"""Reporting periods (quarters, months, years): parsing the forms clients send, and their dates.

Accepted, case-insensitive: ``2026-q2`` and ``q2_2026`` (or ``q2-2026``) for a quarter, ``2026-03`` for a
month, and, where a caller allows it, ``2026`` for a year. The normal form is ``2026-q2``, ``2026-03``,
``2026``. Years run from 2000 to 2100.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

QUARTER, MONTH, YEAR = "quarter", "month", "year"
MIN_YEAR, MAX_YEAR = 2000, 2100

_PATTERN = re.compile(
    r"^(?:(?P<qy>\d{4})-q(?P<q>[1-4])"
    r"|q(?P<q2>[1-4])[_-](?P<qy2>\d{4})"
    r"|(?P<my>\d{4})-(?P<m>0[1-9]|1[0-2])"
    r"|(?P<y>\d{4}))$",
    re.IGNORECASE,
)
_YEAR = r"(20[0-9]{2}|2100)"
#: the same forms, for the OpenAPI document of a parameter (quarters and months; or any period)
QUARTER_OR_MONTH_PATTERN = rf"^({_YEAR}-[qQ][1-4]|[qQ][1-4][_-]{_YEAR}|{_YEAR}-(0[1-9]|1[0-2]))$"
ANY_PERIOD_PATTERN = rf"^({_YEAR}-[qQ][1-4]|[qQ][1-4][_-]{_YEAR}|{_YEAR}-(0[1-9]|1[0-2])|{_YEAR})$"


class PeriodError(ValueError):
    """Not a period this platform understands."""


@dataclass(frozen=True)
class Period:
    key: str
    kind: str
    #: the first and the last day of the period (both inclusive)
    start: date
    end: date

    def __str__(self) -> str:
        return self.key

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(f"{year:04d}-{month:02d}", MONTH, date(year, month, 1), date(year, month, last))


def quarter_period(year: int, quarter: int) -> Period:
    first_month = 3 * (quarter - 1) + 1
    last_month = first_month + 2
    end = date(year, last_month, calendar.monthrange(year, last_month)[1])
    return Period(f"{year:04d}-q{quarter}", QUARTER, date(year, first_month, 1), end)


def year_period(year: int) -> Period:
    return Period(f"{year:04d}", YEAR, date(year, 1, 1), date(year, 12, 31))


def parse_period(text: str, *, allow_year: bool = False) -> Period:
    """The period ``text`` names; raises ``PeriodError`` with a message a client can act on."""
    forms = "2026-q2, q2_2026 or 2026-03" + (" (or a year, 2026)" if allow_year else "")
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None or (match["y"] and not allow_year):
        raise PeriodError(f"Not a period; use a quarter or a month such as {forms}.")
    year = int(match["qy"] or match["qy2"] or match["my"] or match["y"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"The year must be from {MIN_YEAR} to {MAX_YEAR}.")
    if match["q"] or match["q2"]:
        return quarter_period(year, int(match["q"] or match["q2"]))
    if match["m"]:
        return month_period(year, int(match["m"]))
    return year_period(year)


def months_ending(last: date, count: int) -> list[Period]:
    """The ``count`` calendar months up to and including the month of ``last``, oldest first."""
    periods = []
    year, month = last.year, last.month
    for _ in range(count):
        periods.append(month_period(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(periods))
