"""What the finance app reads: expansion money per customer and per forecast period, hand-computed."""

from decimal import Decimal

import pytest

from domains.sales import services
from domains.sales.periods import InvalidPeriod
from domains.sales.selectors import ExpansionSummary, expansion_pipeline_for_period, expansion_summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(make_customer):
    make_customer("cust_a")
    make_customer("cust_b")
    make_customer("cust_none")
    for customer_id, value, probability, timeline, status in (
        ("cust_a", "50000", "0.75", "q1_2026", "open"),
        ("cust_a", "20000", "0.3", "2026-02", "open"),
        ("cust_a", "10000", "0.9", "q1_2026", "won"),
        ("cust_a", "5000", "0.5", "q1_2026", "lost"),
        ("cust_b", "1000.50", "0.333", "q2_2026", "open"),
    ):
        services.opportunity_create(
            customer_id=customer_id,
            type="upsell",
            product="premium_features",
            value_estimate=Decimal(value),
            probability=Decimal(probability),
            timeline=timeline,
            status=status,
        )


def test_expansion_summary_per_customer(pipeline):
    summaries = expansion_summary()
    assert summaries == {
        # open 50,000 + 20,000; weighted 37,500 + 6,000; won 10,000 (the lost one counts nowhere)
        "cust_a": ExpansionSummary(Decimal("70000.00"), Decimal("43500.00"), Decimal("10000.00")),
        # 1,000.50 * 0.333 = 333.1665 -> 333.17
        "cust_b": ExpansionSummary(Decimal("1000.50"), Decimal("333.17"), Decimal("0.00")),
    }
    assert expansion_summary(customer_ids=["cust_b", "cust_none"]) == {"cust_b": summaries["cust_b"]}
    assert expansion_summary(customer_ids=[]) == {}
    assert all(
        isinstance(value, Decimal) for summary in summaries.values() for value in summary.__dict__.values()
    )


def test_expansion_pipeline_for_a_period(pipeline):
    quarter = expansion_pipeline_for_period(forecast_period="q1_2026")
    # The open ones timed in the quarter, its month included; closed ones are not pipeline.
    assert quarter == {"cust_a": ExpansionSummary(Decimal("70000.00"), Decimal("43500.00"), Decimal("0.00"))}
    assert expansion_pipeline_for_period(forecast_period="2026-q1") == quarter
    assert expansion_pipeline_for_period(forecast_period="2026-02") == {
        "cust_a": ExpansionSummary(Decimal("20000.00"), Decimal("6000.00"), Decimal("0.00"))
    }
    assert expansion_pipeline_for_period(forecast_period="2026-03") == {}
    assert set(expansion_pipeline_for_period(forecast_period="q2_2026")) == {"cust_b"}
    with pytest.raises(InvalidPeriod):
        expansion_pipeline_for_period(forecast_period="next quarter")
    with pytest.raises(ValueError):
        expansion_pipeline_for_period(forecast_period="q5_2026")
