"""The condition language of automation rules: each operator, groups, negation, absent values, the
changed_by operator for drops and rises, and the validation the admin runs on save."""

import math

import pytest

from domains.operations.conditions import (
    MISSING,
    change,
    dig,
    evaluate,
    referenced_attributes,
    validate_conditions,
)

DATA = {
    "payload": {
        "previous_score": 80,
        "new_score": 55,
        "change_reason": "decreased_usage",
        "trigger_events": ["login_frequency_drop", "support_ticket_increase"],
        "risk_level": "high",
        "nested": {"items": [{"value": 3}]},
        "flag": True,
    },
    "customer": {"segment": "enterprise", "arr": 150000.0, "nps_score": None, "health_score": 55},
    "signals": {"login_frequency": 7.0, "support_tickets": 6.0},
    "signals_past": {"login_frequency": 12.0, "support_tickets": 0.0},
}


def lookup(attr):
    root, _, rest = attr.partition(".")
    if root not in DATA:
        return MISSING
    return dig(DATA[root], rest.split(".")) if rest else DATA[root]


def holds(condition) -> bool:
    assert validate_conditions(condition) == [], validate_conditions(condition)
    return evaluate(condition, lookup).matched


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"attr": "customer.segment", "op": "eq", "value": "enterprise"}, True),
        ({"attr": "customer.segment", "value": "enterprise"}, True),  # eq is the default
        ({"attr": "customer.segment", "op": "eq", "value": "mid_market"}, False),
        ({"attr": "payload.new_score", "op": "eq", "value": 55.0}, True),  # numbers compare as numbers
        ({"attr": "payload.flag", "op": "eq", "value": 1}, False),  # a boolean only equals a boolean
        ({"attr": "payload.flag", "op": "eq", "value": True}, True),
        ({"attr": "customer.nps_score", "op": "eq", "value": None}, True),
        ({"attr": "customer.segment", "op": "ne", "value": "mid_market"}, True),
        ({"attr": "customer.segment", "op": "ne", "value": "enterprise"}, False),
        ({"attr": "payload.new_score", "op": "gt", "value": 54}, True),
        ({"attr": "payload.new_score", "op": "gt", "value": 55}, False),
        ({"attr": "payload.new_score", "op": "gte", "value": 55}, True),
        ({"attr": "payload.new_score", "op": "lt", "value": 56}, True),
        ({"attr": "payload.new_score", "op": "lt", "value": 55}, False),
        ({"attr": "payload.new_score", "op": "lte", "value": 55}, True),
        ({"attr": "payload.new_score", "op": "gt", "value": "50"}, False),  # no number against a string
        ({"attr": "payload.risk_level", "op": "gt", "value": "critical"}, True),  # strings order as strings
        ({"attr": "payload.risk_level", "op": "in", "value": ["high", "critical"]}, True),
        ({"attr": "payload.risk_level", "op": "in", "value": ["low"]}, False),
        ({"attr": "payload.trigger_events", "op": "contains", "value": "login_frequency_drop"}, True),
        ({"attr": "payload.trigger_events", "op": "contains", "value": "nps_drop"}, False),
        ({"attr": "payload.change_reason", "op": "contains", "value": "usage"}, True),
        ({"attr": "payload.new_score", "op": "contains", "value": 5}, False),
        ({"attr": "payload.change_reason", "op": "regex", "value": "^decreased_(usage|adoption)$"}, True),
        ({"attr": "payload.change_reason", "op": "regex", "value": "^increased"}, False),
        ({"attr": "payload.nested.items.0.value", "op": "eq", "value": 3}, True),  # nested keys, list index
        ({"attr": "customer.segment", "value": "enterprise", "negate": True}, False),
        ({"attr": "customer.segment", "value": "mid_market", "negate": True}, True),
    ],
)
def test_each_operator(condition, expected):
    assert holds(condition) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # a drop of at least 20 (80 → 55 is a drop of 25)
        (
            {"attr": "payload.new_score", "op": "changed_by", "from": "payload.previous_score", "value": -20},
            True,
        ),
        (
            {"attr": "payload.new_score", "op": "changed_by", "from": "payload.previous_score", "value": -25},
            True,
        ),
        (
            {"attr": "payload.new_score", "op": "changed_by", "from": "payload.previous_score", "value": -26},
            False,
        ),
        # a rise of at least 20 (it fell)
        (
            {"attr": "payload.new_score", "op": "changed_by", "from": "payload.previous_score", "value": 20},
            False,
        ),
        # the other way round, it is a rise of 25
        (
            {"attr": "payload.previous_score", "op": "changed_by", "from": "payload.new_score", "value": 25},
            True,
        ),
        # relative: logins 12 → 7 is a fall of 41.7 %
        (
            {
                "attr": "signals.login_frequency",
                "op": "changed_by",
                "from": "signals_past.login_frequency",
                "value": -0.3,
                "relative": True,
            },
            True,
        ),
        (
            {
                "attr": "signals.login_frequency",
                "op": "changed_by",
                "from": "signals_past.login_frequency",
                "value": -0.5,
                "relative": True,
            },
            False,
        ),
        # from 0 tickets to 6 is an (infinite) rise
        (
            {
                "attr": "signals.support_tickets",
                "op": "changed_by",
                "from": "signals_past.support_tickets",
                "value": 0.5,
                "relative": True,
            },
            True,
        ),
    ],
)
def test_changed_by_measures_drops_and_rises(condition, expected):
    assert holds(condition) is expected


def test_change_is_none_unless_both_are_numbers():
    assert change(55, 80, relative=False) == -25
    assert change(7, 12, relative=True) == pytest.approx(-5 / 12)
    assert change(3, 0, relative=True) == math.inf and change(0, 0, relative=True) == 0
    assert change("55", 80, relative=False) is None and change(True, 0, relative=False) is None


def test_groups_nest_and_stop_early():
    condition = {
        "or": [
            {"attr": "customer.segment", "value": "small_business"},
            {
                "and": [
                    {"attr": "payload.risk_level", "value": "high"},
                    {"attr": "payload.new_score", "op": "lt", "value": 60},
                ]
            },
        ]
    }
    assert holds(condition)
    assert not holds({**condition, "negate": True})
    assert not holds(
        {
            "and": [
                {"attr": "payload.risk_level", "value": "high"},
                {"attr": "customer.arr", "op": "lt", "value": 1},
            ]
        }
    )
    read = []

    def recording(attr):
        read.append(attr)
        return lookup(attr)

    evaluate(
        {
            "and": [
                {"attr": "customer.segment", "value": "mid_market"},
                {"attr": "payload.new_score", "value": 1},
            ]
        },
        recording,
    )
    assert read == ["customer.segment"]  # the first member decided


def test_an_absent_value_never_fires_a_rule_unless_if_present():
    absent = {"attr": "signals.nps", "op": "lt", "value": 0}
    assert not holds(absent)
    assert not holds({**absent, "negate": True})  # not "true because negated": the value is unknown
    assert holds({**absent, "if_present": True})
    no_customer = {"attr": "account.segment", "value": "x"}
    assert evaluate(no_customer, lookup).matched is False
    past_missing = {
        "attr": "signals.login_frequency",
        "op": "changed_by",
        "from": "signals_past.nps",
        "value": -1,
    }
    assert not holds(past_missing) and holds({**past_missing, "if_present": True})


def test_an_empty_condition_matches_everything():
    assert evaluate({}, lookup).matched and evaluate(None, lookup).matched


def test_labels_record_what_was_measured():
    condition = {
        "and": [
            {
                "attr": "payload.new_score",
                "op": "changed_by",
                "from": "payload.previous_score",
                "value": -20,
                "label": "health_score_drop",
            },
            {"attr": "payload.risk_level", "op": "in", "value": ["high"], "label": "risk_level"},
        ]
    }
    result = evaluate(condition, lookup)
    assert result.matched
    assert result.labelled == {"health_score_drop": 25.0, "risk_level": "high"}
    assert result.observed == {
        "payload.new_score": 55,
        "payload.previous_score": 80,
        "payload.risk_level": "high",
    }
    assert referenced_attributes(condition) == {
        "payload.new_score",
        "payload.previous_score",
        "payload.risk_level",
    }


@pytest.mark.parametrize(
    ("conditions", "path", "fragment"),
    [
        ([], "conditions", "is an object"),
        ({"attr": "payload.x", "op": "like", "value": 1}, "conditions.op", "Unknown operator"),
        ({"op": "eq", "value": 1}, "conditions.attr", "needs 'attr'"),
        ({"attr": "payload..x", "value": 1}, "conditions.attr", "dotted attribute path"),
        ({"attr": "account.x", "value": 1}, "conditions.attr", "starts with one of"),
        ({"attr": "payload.x"}, "conditions.value", "needs a value"),
        ({"attr": "payload.x", "op": "in", "value": "high"}, "conditions.value", "list"),
        ({"attr": "payload.x", "op": "gt", "value": [1]}, "conditions.value", "number or a string"),
        (
            {"attr": "payload.x", "op": "regex", "value": "(unclosed"},
            "conditions.value",
            "Not a regular expression",
        ),
        ({"attr": "payload.x", "op": "changed_by", "value": -20}, "conditions.from", "needs 'from'"),
        (
            {"attr": "payload.x", "op": "changed_by", "from": "payload.y", "value": 0},
            "conditions.value",
            "non-zero",
        ),
        ({"attr": "payload.x", "value": 1, "relative": True}, "conditions.relative", "changed_by only"),
        ({"attr": "payload.x", "value": 1, "negate": "yes"}, "conditions.negate", "true or false"),
        ({"attr": "payload.x", "value": 1, "colour": "red"}, "conditions", "Unknown keys colour"),
        ({"and": []}, "conditions.and", "non-empty list"),
        ({"and": [{"attr": "payload.x", "value": 1}], "or": []}, "conditions", "exactly one"),
        (
            {"or": [{"attr": "payload.x", "value": 1}, {"attr": "payload.y", "op": "nope", "value": 1}]},
            "conditions.or.1.op",
            "Unknown operator",
        ),
    ],
)
def test_validation_names_the_dotted_path(conditions, path, fragment):
    errors = validate_conditions(conditions, roots=("payload", "customer", "signals", "signals_past"))
    assert any(error_path == path and fragment in message for error_path, message in errors), errors


def test_validation_limits_size_and_depth():
    deep = {"attr": "payload.x", "value": 1}
    for _ in range(7):
        deep = {"and": [deep]}
    assert any("nest" in message for _, message in validate_conditions(deep))
    wide = {"or": [{"attr": "payload.x", "value": index} for index in range(51)]}
    assert any("At most 50" in message for _, message in validate_conditions(wide))
