"""Timelines and forecast periods: accepted spellings, normalisation, bounds."""

from datetime import date

import pytest

from domains.sales.periods import InvalidPeriod, parse_period


@pytest.mark.parametrize("text", ["q1_2026", "Q1_2026", "q1-2026", "2026-q1", "2026_Q1", " q1_2026 "])
def test_quarters_in_every_accepted_spelling(text):
    period = parse_period(text)
    assert (period.label, period.start, period.end) == ("q1_2026", date(2026, 1, 1), date(2026, 3, 31))


def test_months_and_quarter_ends():
    assert parse_period("2026-02").end == date(2026, 2, 28)
    assert parse_period("2028-02").end == date(2028, 2, 29)
    assert parse_period("2026_12").label == "2026-12"
    assert parse_period("q4_2026").end == date(2026, 12, 31)
    assert parse_period("q1_2026").contains(parse_period("2026-03"))
    assert not parse_period("2026-03").contains(parse_period("q1_2026"))


@pytest.mark.parametrize("text", ["q5_2026", "2026-13", "2026-00", "q1_1999", "2101-01", "soon", "", "2026"])
def test_anything_else_is_refused(text):
    with pytest.raises(InvalidPeriod):
        parse_period(text)


def test_a_non_string_is_refused():
    with pytest.raises(InvalidPeriod):
        parse_period(2026)
