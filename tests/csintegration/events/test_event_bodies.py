"""An event's body is normalised to plain JSON once, as it is published: a body already plain is copied as
it is, any other goes through ``json`` (its Decimals, datetimes and tuples made JSON); both give what the
round trip through ``json`` gives, so a subscriber receives the same body either way."""

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from csintegration.events.services import _NOT_PLAIN, _json_default, _plain_json, iso_utc
from domains.customers.models import HealthTrend, RiskLevel

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def _round_trip(value):
    return json.loads(json.dumps(value, default=_json_default))


@given(JSON)
def test_a_plain_body_is_copied_to_what_the_round_trip_gives(value):
    copied = _plain_json(value)
    assert copied == _round_trip(value)
    assert json.dumps(copied) == json.dumps(_round_trip(value))


def test_the_copy_is_deep():
    nested = {"changes": {"arr": {"previous": 1, "current": 2}}, "list": [[1]]}
    copied = _plain_json(nested)
    nested["changes"]["arr"]["current"] = 3
    nested["list"][0].append(2)
    assert copied == {"changes": {"arr": {"previous": 1, "current": 2}}, "list": [[1]]}


def test_a_choice_is_its_value_as_json_makes_it():
    body = {"trend": HealthTrend.STABLE, "risk": [RiskLevel.HIGH]}
    assert _plain_json(body) == _round_trip(body) == {"trend": "stable", "risk": ["high"]}
    assert type(_plain_json(body)["trend"]) is str


def test_what_json_would_change_is_left_to_the_round_trip():
    class Label(str):
        pass

    for value in (
        {"arr": Decimal("5.50")},
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"ids": ("a", "b")},
        {1: "integer key"},
        {"segment": Label("enterprise")},
        {"ratio": math.nan},
        [{"deep": {"x": Decimal("1")}}],
    ):
        assert _plain_json(value) is _NOT_PLAIN, value


def test_times_are_utc_with_z_to_the_millisecond_when_they_have_a_fraction():
    assert iso_utc(datetime(2026, 12, 3, 13, 5, 9, tzinfo=UTC)) == "2026-12-03T13:05:09Z"
    assert iso_utc(datetime(2026, 12, 3, 13, 5, 9, 123987, tzinfo=UTC)) == "2026-12-03T13:05:09.123Z"
    assert iso_utc(datetime(2026, 12, 3, 13, 5, 9, 400, tzinfo=UTC)) == "2026-12-03T13:05:09.000Z"
