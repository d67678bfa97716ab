"""The readiness model and the crossing rule, against hand-computed figures (pure: no database)."""

import pytest

from domains.sales import scoring
from domains.sales.scoring import FactorSpec, ReadinessInputs, ReadinessSpec
from domains.sales.selectors import BUILT_IN_MODEL

# The default model: adoption 25, health 25, engagement 15, NPS 15 (0 to 100), trend 10, milestones 10
# (3 for full marks); threshold 70.
MODEL = BUILT_IN_MODEL


def test_a_hand_computed_customer():
    inputs = ReadinessInputs(
        adoption_rate=0.8,
        health_score=80,
        engagement_score=7.0,
        nps_score=40,
        health_trend="stable",
        recent_milestones=3,
    )
    readiness = scoring.compute_readiness(MODEL, inputs)
    # 25*0.8 + 25*0.8 + 15*0.7 + 15*0.4 + 10*0.5 + 10*1 = 20 + 20 + 10.5 + 6 + 5 + 10 = 71.5 -> 72
    assert readiness.score == 72
    points = {result.factor: result.points for result in readiness.factors}
    # 71.5 apportioned to 72.00 by largest remainder: 20/71.5*72 = 20.139…, 10/71.5*72 = 10.069…
    assert points == {
        "adoption": 20.14,
        "health": 20.14,
        "engagement": 10.57,
        "nps": 6.04,
        "trend": 5.04,
        "milestones": 10.07,
    }
    assert round(sum(points.values()), 2) == 72
    # Listed: normalised at least 0.6 (NPS 0.4 and trend 0.5 are not), by points, three at most.
    assert readiness.readiness_factors == [
        "high_product_adoption",
        "strong_health_score",
        "strong_engagement",
    ]
    assert readiness.factor_points == {
        "high_product_adoption": 20.14,
        "strong_health_score": 20.14,
        "strong_engagement": 10.57,
    }
    entry = next(result for result in readiness.factors if result.factor == "nps")
    assert entry.as_dict() == {
        "factor": "nps",
        "label": "promoter_nps",
        "raw_value": 40.0,
        "normalised_value": 0.4,
        "weight": 15,
        "weight_share": 0.15,
        "points": 6.04,
    }


def test_the_seed_customer_reads_as_the_seed_shows_it():
    seed = ReadinessInputs(
        adoption_rate=0.75,
        health_score=85,
        engagement_score=8.2,
        nps_score=45,
        health_trend="improving",
        recent_milestones=3,
    )
    readiness = scoring.compute_readiness(MODEL, seed)
    # 18.75 + 21.25 + 12.3 + 6.75 + 10 + 10 = 79.05 -> 79
    assert readiness.score == 79
    assert readiness.readiness_factors == [
        "strong_health_score",
        "high_product_adoption",
        "strong_engagement",
    ]


def test_missing_evidence_earns_nothing_and_keeps_its_weight():
    known = ReadinessInputs(adoption_rate=1.0, health_score=100, engagement_score=10, nps_score=None)
    readiness = scoring.compute_readiness(MODEL, known)
    # adoption 25 + health 25 + engagement 15; NPS unknown (0 of 15), trend unknown, no milestones.
    assert readiness.score == 65
    nps = next(result for result in readiness.factors if result.factor == "nps")
    assert nps.raw_value is None and nps.normalised_value is None and nps.points == 0


def test_a_healthy_adopting_customer_is_readier_than_a_failing_one():
    healthy = ReadinessInputs(0.9, 88, 8.5, 60, "improving", 2)
    failing = ReadinessInputs(0.2, 30, 2.5, -40, "declining", 0)
    high = scoring.compute_readiness(MODEL, healthy).score
    low = scoring.compute_readiness(MODEL, failing).score
    assert high > MODEL.threshold > low
    # NPS below 0 is clamped to no marks, a decline earns none: 25*0.2 + 25*0.3 + 15*0.25 = 16.25 -> 16
    assert low == 16
    assert scoring.compute_readiness(MODEL, failing).readiness_factors == []


def test_target_and_range_normalisation():
    spec = FactorSpec("milestones", 1, "m", "target", target_value=4)
    assert scoring.normalise(2, spec) == 0.5
    assert scoring.normalise(9, spec) == 1.0
    ranged = FactorSpec("nps", 1, "n", "range", min_value=-100, max_value=100)
    assert scoring.normalise(0, ranged) == 0.5
    assert scoring.normalise(-150, ranged) == 0.0
    with pytest.raises(ValueError):
        scoring.normalise(1, FactorSpec("nps", 1, "n", "range", min_value=5, max_value=5))
    with pytest.raises(ValueError):
        scoring.normalise(1, FactorSpec("nps", 1, "n", "target", target_value=0))


def test_a_model_of_its_own():
    spec = ReadinessSpec(
        name="Adoption only",
        threshold=50,
        top_factors=1,
        strong_share=0.0,
        factors=(
            FactorSpec("adoption", 3, "adoption", "range", 0, 1),
            FactorSpec("trend", 1, "trend", "range", 0, 1),
        ),
    )
    readiness = scoring.compute_readiness(spec, ReadinessInputs(adoption_rate=0.5, health_trend="improving"))
    # (3*0.5 + 1*1) / 4 * 100 = 62.5 -> 63; points 37.5 and 25 scaled to 63: 37.8 and 25.2
    assert readiness.score == 63
    assert [(r.factor, r.points) for r in readiness.factors] == [("adoption", 37.8), ("trend", 25.2)]
    assert readiness.readiness_factors == ["adoption"]
    assert scoring.compute_readiness(ReadinessSpec(name="empty", factors=()), ReadinessInputs()).score == 0


@pytest.mark.parametrize(
    ("above", "score", "margin", "expected"),
    [
        (False, 69, 0, (False, False, False)),
        (False, 70, 0, (True, True, False)),  # crosses: announce
        (True, 95, 0, (True, False, False)),  # still above: nothing again
        (True, 70, 0, (True, False, False)),
        (True, 69, 0, (False, False, True)),  # fell below: re-armed
        (True, 66, 5, (True, False, False)),  # within the margin: not re-armed
        (True, 64, 5, (False, False, True)),
    ],
)
def test_the_crossing_rule(above, score, margin, expected):
    decision = scoring.decide_crossing(above=above, score=score, threshold=70, rearm_margin=margin)
    assert (decision.above, decision.announce, decision.rearmed) == expected


def test_one_announcement_per_crossing_over_a_series():
    above, announced = False, []
    for score in (50, 71, 80, 72, 69, 75, 90, 40, 40, 70):
        decision = scoring.decide_crossing(above=above, score=score, threshold=70)
        above = decision.above
        announced.append(decision.announce)
    assert announced == [False, True, False, False, False, True, False, False, False, True]
