"""Periods of time as sales and finance write them (pure: no ORM, no I/O).

An opportunity's ``timeline`` and a finance ``forecast_period`` are either a calendar quarter or a calendar
month. Accepted spellings, case-insensitive:

| kind    | accepted                               | normalised |
| ------- | -------------------------------------- | ---------- |
| quarter | ``q1_2026``, ``q1-2026``, ``2026-q1``, ``2026_q1`` | ``q1_2026`` |
| month   | ``2026-03``, ``2026_03``               | ``2026-03`` |

Years run from 2000 to 2100. A period spans its first to its last day, both included.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MIN_YEAR, MAX_YEAR = 2000, 2100
_QUARTER_FIRST = re.compile(r"^q(?P<quarter>[1-4])[_-](?P<year>\d{4})$")
_YEAR_FIRST = re.compile(r"^(?P<year>\d{4})[_-]q(?P<quarter>[1-4])$")
_MONTH = re.compile(r"^(?P<year>\d{4})[_-](?P<month>\d{2})$")

FORMATS_HELP = "a quarter (q1_2026 or 2026-q1) or a month (2026-03)"
_YEAR = rf"(20[0-9]{{2}}|{MAX_YEAR})"
#: the spellings ``parse_period`` accepts, exactly as sent (the API takes no surrounding blanks), for the
#: OpenAPI document and the API's fields
PERIOD_PATTERN = rf"^([qQ][1-4][_-]{_YEAR}|{_YEAR}[_-][qQ][1-4]|{_YEAR}[_-](0[1-9]|1[0-2]))$"


class InvalidPeriod(ValueError):
    """Not a quarter or a month in an accepted spelling."""


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end


def _check_year(year: int, text: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidPeriod(f"{text!r}: the year must be between {MIN_YEAR} and {MAX_YEAR}.")


def quarter(year: int, number: int) -> Period:
    first_month = 3 * (number - 1) + 1
    last_month = first_month + 2
    return Period(
        label=f"q{number}_{year}",
        start=date(year, first_month, 1),
        end=date(year, last_month, calendar.monthrange(year, last_month)[1]),
    )


def month(year: int, number: int) -> Period:
    return Period(
        label=f"{year}-{number:02d}",
        start=date(year, number, 1),
        end=date(year, number, calendar.monthrange(year, number)[1]),
    )


def parse_exact_period(text: str) -> Period:
    """The period ``text`` names when it matches ``PERIOD_PATTERN`` as it stands; ``InvalidPeriod``
    otherwise (what the API reads)."""
    if not isinstance(text, str) or not re.fullmatch(PERIOD_PATTERN, text):
        raise InvalidPeriod(f"{text!r} is not {FORMATS_HELP}.")
    return parse_period(text)


def parse_period(text: str) -> Period:
    """The quarter or month ``text`` names; ``InvalidPeriod`` otherwise."""
    if not isinstance(text, str):
        raise InvalidPeriod("A period is a string.")
    cleaned = text.strip().lower()
    match = _QUARTER_FIRST.match(cleaned) or _YEAR_FIRST.match(cleaned)
    if match:
        year = int(match["year"])
        _check_year(year, text)
        return quarter(year, int(match["quarter"]))
    match = _MONTH.match(cleaned)
    if match:
        year, number = int(match["year"]), int(match["month"])
        _check_year(year, text)
        if not 1 <= number <= 12:
            raise InvalidPeriod(f"{text!r}: the month must be 01 to 12.")
        return month(year, number)
    raise InvalidPeriod(f"{text!r} is not {FORMATS_HELP}.")
