"""The pure computations: Pearson from sums against NumPy, the health-impact band, the rules, adoption from
daily counts and the priority score."""

import random
from datetime import date, timedelta

import numpy
import pytest

from domains.product import adoption, priority


@pytest.mark.parametrize("seed", range(20))
def test_pearson_from_sums_is_numpys_corrcoef(seed):
    rng = random.Random(seed)
    n = rng.randint(3, 400)
    x = [rng.randint(0, 1) for _ in range(n)]
    y = [rng.randint(0, 100) for _ in range(n)]
    if len(set(x)) < 2 or len(set(y)) < 2:
        x[0], x[1], y[0], y[1] = 0, 1, 0, 100
    r = adoption.pearson_from_sums(
        n,
        sum(x),
        sum(y),
        sum(v * v for v in x),
        sum(v * v for v in y),
        sum(a * b for a, b in zip(x, y, strict=True)),
    )
    assert r == pytest.approx(numpy.corrcoef(x, y)[0, 1], abs=1e-12)


def test_pearson_is_undefined_for_constants_and_tiny_samples():
    assert adoption.pearson_from_sums(1, 1, 50, 1, 2500, 50) is None
    assert adoption.pearson_from_sums(3, 3, 150, 3, 7500, 150) is None  # x constant
    assert adoption.pearson_from_sums(3, 1, 150, 1, 7500, 50) is None  # y constant


@pytest.mark.parametrize(
    ("link", "band"),
    [
        (0.82, "high"),
        (0.5, "high"),
        (0.31, "medium"),
        (0.1, "low"),
        (0.05, "none"),
        (-0.05, "none"),
        (-0.1, "negative"),
        (None, "unknown"),
    ],
)
def test_health_impact_bands(link, band):
    assert adoption.health_impact(link, [0.5, 0.3, 0.1]) == band


POLICY = adoption.RulePolicy(
    low_adoption_share=0.5, segment_gap=0.15, weak_link=0.3, falling_drop=0.05, min_customers=10
)


def figures(overall, segments, link, customers=100):
    return adoption.AdoptionFigures(
        customers=customers,
        adopters=int(overall * customers),
        overall_adoption=overall,
        segment_adoption=segments,
        segment_customers={name: customers // 3 for name in segments},
        adoption_success_link=link,
        retention_correlation=None,
        retention_customers=customers,
        churned_customers=0,
    )


def test_no_rule_fires_on_healthy_adoption():
    healthy = figures(0.8, {"enterprise": 0.85, "mid_market": 0.8, "small_business": 0.75}, 0.6)
    previous = adoption.PreviousAdoption(date(2025, 11, 5), 100, 78)
    assert adoption.improvement_opportunities(healthy, previous, POLICY).labels == []


def test_each_rule_and_its_reason():
    weak = figures(0.4, {"enterprise": 0.7, "mid_market": 0.45, "small_business": 0.2}, 0.1)
    previous = adoption.PreviousAdoption(date(2025, 11, 5), 100, 60)
    insights = adoption.improvement_opportunities(weak, previous, POLICY)
    assert insights.labels == [
        "feature_discovery",
        "enhanced_onboarding",
        "training_content",
        "re_engagement_campaign",
    ]
    assert [(o.rule, o.segment) for o in insights.opportunities] == [
        ("low_overall_adoption", None),
        ("low_segment_adoption", "mid_market"),
        ("low_segment_adoption", "small_business"),
        ("weak_success_link", None),
        ("falling_adoption", None),
    ]
    # A segment well below the overall share, though above the low bar.
    gap = figures(0.8, {"enterprise": 0.9, "mid_market": 0.85, "small_business": 0.6}, 0.5)
    [found] = adoption.improvement_opportunities(gap, None, POLICY).opportunities
    assert (found.rule, found.segment, found.threshold) == ("low_segment_adoption", "small_business", 0.65)
    # Too few customers: nothing is read into the figures.
    tiny = figures(0.1, {"enterprise": 0.1}, 0.0, customers=5)
    assert adoption.improvement_opportunities(tiny, None, POLICY).labels == []


def test_adopted_from_daily():
    today = date(2025, 12, 5)
    daily = {today: 2, today - timedelta(days=3): 1, today - timedelta(days=10): 4}
    assert adoption.adopted_from_daily(daily, 1) == today
    assert adoption.adopted_from_daily(daily, 3) == today - timedelta(days=3)
    assert adoption.adopted_from_daily(daily, 7) == today - timedelta(days=10)
    assert adoption.adopted_from_daily(daily, 8) is None
    assert adoption.adopted_from_daily(daily, 7, since=today - timedelta(days=5)) is None
    assert adoption.adopted_in_window(today - timedelta(days=29), today, 30)
    assert not adoption.adopted_in_window(today - timedelta(days=30), today, 30)


def test_adoption_rate():
    assert adoption.adoption_rate(3, 4) == 0.75
    assert adoption.adoption_rate(0, 0) is None


def test_the_priority_score_formula():
    score = priority.priority_score(
        priority="critical",
        business_impact="renewal_blocker",
        arr=1_000_000,
        health_score=0,
        weights=[0.35, 0.25, 0.25, 0.15],
        arr_cap=1_000_000,
    )
    assert score.score == 100.0
    low = priority.priority_score(
        priority="low",
        business_impact="nice_to_have",
        arr=0,
        health_score=100,
        weights=[1, 1, 1, 1],
        arr_cap=1e6,
    )
    assert low.score == 12.5  # (0.25 + 0.25 + 0 + 0) / 4
    assert set(low.terms) == {"priority", "business_impact", "arr", "health_risk"}
    assert priority.arr_term(10_000_000, 1_000_000) == 1.0
    with pytest.raises(ValueError):
        priority.priority_score(
            priority="low",
            business_impact="nice_to_have",
            arr=0,
            health_score=1,
            weights=[0, 0, 0, 0],
            arr_cap=1,
        )
