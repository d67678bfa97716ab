"""Contract terms as calendar months, and the annualised value (ARR) of a contract.

A contract runs from its ``start_date`` through its ``end_date`` (both inclusive). Its term in months is
counted on the calendar: whole months from the start date, then the remaining days as a share of the
month they fall in; so 2026-01-01 to 2026-12-31 is 12 months, 2026-01-15 to 2027-01-14 is 12 months, and
2026-01-01 to 2026-01-15 is 15/31 of a month. ARR = contracted value * 12 ÷ term in months: a year's
contract is worth its value a year whatever the month lengths and leap days.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the end of a shorter month (Jan 31 + 1 = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_months(start: date, end: date) -> Fraction:
    """The months from ``start`` through ``end`` (inclusive), exactly, as described above."""
    if end < start:
        raise ValueError("A term ends on or after its start.")
    stop = end + timedelta(days=1)
    whole = (stop.year - start.year) * 12 + (stop.month - start.month)
    if add_months(start, whole) > stop:
        whole -= 1
    anchor = add_months(start, whole)
    remainder = (stop - anchor).days
    if remainder == 0:
        return Fraction(whole)
    span = (add_months(start, whole + 1) - anchor).days
    return whole + Fraction(remainder, span)


def annualised_value(contracted_value: Decimal, start: date, end: date) -> Decimal:
    """ARR of a contract worth ``contracted_value`` over its term, to the cent."""
    months = term_months(start, end)
    arr = Decimal(contracted_value) * 12 * months.denominator / months.numerator
    return arr.quantize(CENT, rounding=ROUND_HALF_UP)


def whole_months_between(start: date, later: date) -> int:
    """Whole calendar months from ``start`` to ``later`` (0 when ``later`` is less than a month on)."""
    if later <= start:
        return 0
    months = (later.year - start.year) * 12 + (later.month - start.month)
    if add_months(start, months) > later:
        months -= 1
    return max(months, 0)


def arr_on(contracts: Iterable[tuple[date, date, Decimal]], day: date) -> Decimal:
    """The ARR in force on ``day``: the sum over the (start, end, arr) contracts that cover it."""
    return sum((arr for start, end, arr in contracts if start <= day <= end), Decimal("0"))
