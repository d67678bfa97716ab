"""The segment filter vocabulary: validation with dotted field paths, and the SQL it selects."""

import pytest

from domains.customers.models import Customer
from domains.marketing.segment_filters import (
    SegmentFilterError,
    describe_filters,
    filters_condition,
    union_condition,
    validate_filters,
)

AT_RISK = {"any": [{"risk_level": ["high", "critical"]}, {"lifecycle_stage": ["at_risk"]}]}


def fields_of(filters) -> list[str]:
    with pytest.raises(SegmentFilterError) as caught:
        validate_filters(filters)
    return [field for field, _ in caught.value.errors]


def test_valid_filters_are_normalised():
    assert validate_filters({"risk_level": "high", "health_score_max": 50.0}) == {
        "risk_level": ["high"],
        "health_score_max": 50,
    }
    assert validate_filters(AT_RISK) == AT_RISK
    assert validate_filters({"lifecycle_stage": ["at_risk", "at_risk"]}) == {"lifecycle_stage": ["at_risk"]}
    assert validate_filters({}) == {}


@pytest.mark.parametrize(
    ("filters", "fields"),
    [
        ({"arr_min": 5}, ["filters.arr_min"]),
        ({"risk_level": "severe"}, ["filters.risk_level"]),
        ({"risk_level": []}, ["filters.risk_level"]),
        ({"health_score_min": 101}, ["filters.health_score_min"]),
        ({"health_score_min": 4.5}, ["filters.health_score_min"]),
        ({"engagement_score_below": True}, ["filters.engagement_score_below"]),
        ({"engagement_score_below": "5"}, ["filters.engagement_score_below"]),
        ({"adoption_rate_max": 2}, ["filters.adoption_rate_max"]),
        ({"any": []}, ["filters.any"]),
        ({"any": {"risk_level": "high"}}, ["filters.any"]),
        ({"any": [{}]}, ["filters.any.0"]),
        ({"any": [{"risk_level": "high"}, {"stage": "x"}]}, ["filters.any.1.stage"]),
        ({"any": [{"any": [{"risk_level": "high"}]}]}, ["filters.any.0.any"]),
        ([1, 2], ["filters"]),
        ({"segment": "galactic", "nps_score_max": -101}, ["filters.segment", "filters.nps_score_max"]),
    ],
)
def test_invalid_filters_name_each_field(filters, fields):
    assert fields_of(filters) == fields


def test_describe_reads_like_the_filters():
    assert describe_filters(AT_RISK) == "(risk_level in (high, critical)) or (lifecycle_stage in (at_risk))"
    assert describe_filters({"segment": ["enterprise"], "engagement_score_below": 5}) == (
        "segment in (enterprise) and engagement_score < 5"
    )
    assert describe_filters({}) == "every customer"


@pytest.mark.django_db
def test_conditions_select_in_sql(make_customer):
    make_customer("cust_high", health_score=30, engagement_score=9)  # risk high by the default bands
    make_customer("cust_stage", health_score=90, lifecycle_stage="at_risk", engagement_score=5)
    make_customer("cust_low_eng", health_score=80, engagement_score=4.9)
    make_customer("cust_no_eng", health_score=80)
    make_customer("cust_fine", health_score=80, engagement_score=7)

    def ids(condition):
        return sorted(Customer.objects.filter(condition).values_list("pk", flat=True))

    assert ids(filters_condition(AT_RISK)) == ["cust_high", "cust_stage"]
    # strictly below 5: 5 itself is out, and a customer without a score matches no bound
    assert ids(filters_condition({"engagement_score_below": 5})) == ["cust_low_eng"]
    assert ids(filters_condition({"engagement_score_max": 5})) == ["cust_low_eng", "cust_stage"]
    assert ids(filters_condition({})) == [
        "cust_fine",
        "cust_high",
        "cust_low_eng",
        "cust_no_eng",
        "cust_stage",
    ]
    union = union_condition({"at_risk": AT_RISK, "low": {"engagement_score_below": 5}})
    assert ids(union) == ["cust_high", "cust_low_eng", "cust_stage"]
    assert ids(union_condition({})) == []
