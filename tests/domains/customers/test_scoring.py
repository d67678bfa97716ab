"""The pure health computation: normalisation, weighting, bands, breakdown, trend and churn rules."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.customers import scoring
from domains.customers.scoring import (
    BUILT_IN_SCORECARD,
    LOWER_IS_BETTER,
    RANGE,
    TARGET,
    MeasureSpec,
    ScorecardSpec,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SEED_VALUES = {
    "adoption_rate": 0.6,
    "login_frequency": 12,
    "engagement": 8,
    "nps": 40,
    "payment_status": 1.0,
    "support_tickets": 3,
}


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


# --- Normalisation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [(-100, 0.0), (0, 0.5), (40, 0.7), (100, 1.0), (150, 1.0), (-150, 0.0)]
)
def test_range_normalisation_is_linear_and_clamped(value, expected):
    assert scoring.normalise(value, MeasureSpec("nps", 1, RANGE, min_value=-100, max_value=100)) == expected


def test_range_normalisation_lower_is_better_flips():
    spec = MeasureSpec("support_tickets", 1, RANGE, LOWER_IS_BETTER, min_value=0, max_value=10)
    assert scoring.normalise(0, spec) == 1.0
    assert scoring.normalise(2.5, spec) == 0.75
    assert scoring.normalise(12, spec) == 0.0


def test_target_normalisation():
    higher = MeasureSpec("login_frequency", 1, TARGET, target_value=20)
    assert scoring.normalise(12, higher) == pytest.approx(0.6)
    assert scoring.normalise(20, higher) == 1.0
    assert scoring.normalise(45, higher) == 1.0
    assert scoring.normalise(0, higher) == 0.0
    lower = MeasureSpec("support_tickets", 1, TARGET, LOWER_IS_BETTER, target_value=2)
    assert scoring.normalise(0, lower) == 1.0
    assert scoring.normalise(2, lower) == 1.0
    assert scoring.normalise(4, lower) == 0.5
    assert scoring.normalise(8, lower) == 0.25


@pytest.mark.parametrize(
    "spec",
    [
        MeasureSpec("nps", 1, RANGE, min_value=5, max_value=5),
        MeasureSpec("nps", 1, RANGE, min_value=None, max_value=5),
        MeasureSpec("nps", 1, TARGET, target_value=0),
        MeasureSpec("nps", 1, "cubic", min_value=0, max_value=1),
    ],
)
def test_invalid_normalisations_are_refused(spec):
    with pytest.raises(ValueError):
        scoring.normalise(1, spec)


# --- Score and breakdown --------------------------------------------------------------------------------


def test_weighted_score_and_breakdown_by_hand():
    result = scoring.compute_health(BUILT_IN_SCORECARD, SEED_VALUES)
    # 0.6*25 + 0.6*20 + 0.8*15 + 0.7*15 + 1*15 + (2/3)*10 = 71.17 of 100
    assert result.score == 71
    assert result.risk_level == "medium"
    entries = {entry["measure"]: entry for entry in result.breakdown}
    assert entries["adoption_rate"]["normalised_value"] == 0.6
    assert entries["support_tickets"]["normalised_value"] == pytest.approx(0.6667)
    assert entries["nps"]["weight"] == 15 and entries["nps"]["weight_share"] == 0.15
    assert entries["support_tickets"]["direction"] == LOWER_IS_BETTER
    assert round(sum(entry["contribution"] for entry in result.breakdown), 2) == 71
    assert entries["payment_status"]["contribution"] == pytest.approx(15 * 71 / 71.1667, abs=0.01)


def test_missing_measures_are_left_out_and_the_weights_rescaled():
    result = scoring.compute_health(BUILT_IN_SCORECARD, {"adoption_rate": 0.5, "nps": 0, "engagement": None})
    assert result.score == 50  # (0.5*25 + 0.5*15) / 40
    entries = {entry["measure"]: entry for entry in result.breakdown}
    assert entries["adoption_rate"]["weight_share"] == 0.625
    assert entries["engagement"] == {
        "measure": "engagement",
        "direction": "higher_is_better",
        "raw_value": None,
        "normalised_value": None,
        "weight": 15,
        "weight_share": 0.0,
        "contribution": 0.0,
    }
    assert sum(entry["contribution"] for entry in result.breakdown) == 50


def test_no_known_measure_means_no_score():
    assert scoring.compute_health(BUILT_IN_SCORECARD, {}) is None
    assert scoring.compute_health(BUILT_IN_SCORECARD, {"adoption_rate": None}) is None


def test_worst_and_best_values_give_0_and_100():
    worst = {"adoption_rate": 0, "login_frequency": 0, "engagement": 0, "nps": -100, "payment_status": 0}
    best = {"adoption_rate": 1, "login_frequency": 30, "engagement": 10, "nps": 100, "payment_status": 1}
    assert scoring.compute_health(BUILT_IN_SCORECARD, {**worst, "support_tickets": 1000}).score == 0
    assert scoring.compute_health(BUILT_IN_SCORECARD, {**best, "support_tickets": 0}).score == 100


@settings(max_examples=300, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            "adoption_rate": st.floats(0, 1),
            "login_frequency": st.floats(0, 200),
            "engagement": st.floats(0, 10),
            "nps": st.floats(-100, 100),
            "payment_status": st.sampled_from([0.0, 0.5, 1.0]),
            "support_tickets": st.floats(0, 500),
        },
    ),
    weights=st.lists(st.floats(0.1, 50), min_size=6, max_size=6),
)
def test_contributions_always_add_up_to_the_score(values, weights):
    card = ScorecardSpec(
        name="random",
        measures=tuple(
            MeasureSpec(**{**spec.__dict__, "weight": weight})
            for spec, weight in zip(BUILT_IN_SCORECARD.measures, weights, strict=True)
        ),
    )
    result = scoring.compute_health(card, values)
    if not values:
        assert result is None
        return
    assert 0 <= result.score <= 100
    assert round(sum(entry["contribution"] for entry in result.breakdown), 2) == result.score
    assert all(entry["contribution"] >= 0 for entry in result.breakdown)


def test_breakdown_changes_and_triggers():
    before = scoring.compute_health(BUILT_IN_SCORECARD, SEED_VALUES).breakdown
    after = scoring.compute_health(
        BUILT_IN_SCORECARD, {**SEED_VALUES, "login_frequency": 4, "support_tickets": 8, "nps": 60}
    ).breakdown
    changes = {change["measure"]: change for change in scoring.breakdown_changes(before, after)}
    assert (
        changes["login_frequency"]["previous_raw_value"] == 12
        and changes["login_frequency"]["raw_delta"] == -8
    )
    assert changes["login_frequency"]["contribution_delta"] < 0
    assert changes["nps"]["contribution_delta"] > 0
    assert changes["adoption_rate"]["raw_delta"] == 0
    directions = {entry["measure"]: entry["direction"] for entry in after}
    triggers = scoring.change_triggers(list(changes.values()), directions)
    assert triggers[:2] == ["login_frequency_drop", "support_tickets_increase"]
    assert "nps_improvement" in triggers
    assert scoring.breakdown_changes(None, after) == []
    assert scoring.breakdown_differs(before, after) and not scoring.breakdown_differs(after, after)


# --- Bands ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "level"),
    [(100, "low"), (75, "low"), (74, "medium"), (50, "medium"), (49, "high"), (0, "critical")],
)
def test_default_bands(score, level):
    assert scoring.risk_level_for_score(score) == level


def test_custom_bands_in_any_order():
    bands = ((0, "critical"), (80, "low"), (40, "high"), (60, "medium"))
    assert scoring.risk_level_for_score(79, bands) == "medium"
    assert scoring.risk_level_for_score(39, bands) == "critical"
    assert scoring.risk_level_for_score(80, bands) == "low"


# --- Trend ------------------------------------------------------------------------------------------------


def trend(points, window=30, threshold=3.0):
    return scoring.health_trend(points, now=NOW, window_days=window, threshold_points=threshold)


def test_trend_rising_falling_and_flat():
    assert trend([(days_ago(20), 50), (days_ago(10), 58), (days_ago(0), 66)]) == "improving"
    assert trend([(days_ago(20), 80), (days_ago(10), 75), (days_ago(1), 70)]) == "declining"
    assert trend([(days_ago(20), 70), (days_ago(15), 72), (days_ago(10), 69), (days_ago(1), 71)]) == "stable"


def test_trend_needs_two_points_in_the_window():
    assert trend([(days_ago(1), 40)]) == "stable"
    assert trend([(days_ago(60), 90), (days_ago(1), 40)]) == "stable"  # the 90 is outside the window
    assert trend([(days_ago(60), 90), (days_ago(1), 40)], window=90) == "declining"


def test_trend_reads_two_close_scores_as_their_difference():
    assert trend([(NOW - timedelta(seconds=1), 80), (NOW, 65)]) == "declining"
    assert trend([(NOW - timedelta(seconds=1), 80), (NOW, 82)]) == "stable"


def test_trend_uses_the_fitted_line_not_the_end_points():
    # The last score dips, but the line through all of them still rises by more than the threshold.
    points = [
        (days_ago(25), 50),
        (days_ago(20), 56),
        (days_ago(15), 62),
        (days_ago(10), 68),
        (days_ago(1), 49),
    ]
    assert trend(points, threshold=3) == "stable"
    points = [
        (days_ago(25), 50),
        (days_ago(20), 56),
        (days_ago(15), 62),
        (days_ago(10), 68),
        (days_ago(1), 60),
    ]
    assert trend(points, threshold=3) == "improving"


# --- Churn rules ----------------------------------------------------------------------------------------


def churn(previous_risk, new_risk, new_score, history, alerted_at=None, drop=15, window=30):
    return scoring.assess_churn_risk(
        previous_risk=previous_risk,
        new_risk=new_risk,
        new_score=new_score,
        history=history,
        now=NOW,
        window_days=window,
        drop_points=drop,
        alerted_at=alerted_at,
    )


def test_crossing_into_high_or_critical_is_churn_risk():
    assessment = churn("medium", "high", 45, [(days_ago(2), 52, 1)])
    assert assessment.crossed_into_high_risk and assessment.risk_level == "high"
    assert assessment.drop_points is None
    assert churn("low", "critical", 20, [])
    assert churn("high", "critical", 20, [(days_ago(2), 30, 1)]) is None  # already high: same episode
    assert churn("high", "high", 40, [(days_ago(2), 45, 1)]) is None


def test_a_drop_within_the_window_is_churn_risk():
    history = [(days_ago(20), 85, 1), (days_ago(10), 80, 2), (days_ago(1), 74, 3)]
    assessment = churn("low", "medium", 69, history)
    assert assessment.drop_points == 16 and assessment.peak_score == 85 and assessment.peak_reference == 1
    assert not assessment.crossed_into_high_risk
    assert churn("low", "medium", 71, history) is None  # 14 points is not enough
    assert churn("low", "medium", 69, history, drop=20) is None


def test_a_drop_from_a_peak_outside_the_window_does_not_count():
    assert churn("low", "medium", 60, [(days_ago(40), 90, 1), (days_ago(5), 70, 2)]) is None


def test_one_drop_raises_one_alert():
    history = [(days_ago(20), 85, 1), (days_ago(5), 66, 2)]
    alerted = days_ago(5)  # the 66 raised the alert
    assert churn("medium", "medium", 62, history, alerted_at=alerted) is None
    # A fall of 15 more since the alert is a new drop.
    assert churn("medium", "high", 51, history, alerted_at=alerted).drop_points == 15


def test_indicators_and_actions_come_from_the_measures_that_fell_most():
    before = scoring.compute_health(BUILT_IN_SCORECARD, SEED_VALUES).breakdown
    after = scoring.compute_health(
        BUILT_IN_SCORECARD, {**SEED_VALUES, "login_frequency": 2, "support_tickets": 9, "adoption_rate": 0.55}
    ).breakdown
    fell = scoring.falling_measures(before, after)
    assert fell == ["login_frequency", "support_tickets", "adoption_rate"]
    assessment = scoring.ChurnAssessment("high", True, 18, 71)
    directions = {entry["measure"]: entry["direction"] for entry in after}
    assert scoring.churn_indicators(assessment, fell, directions) == [
        "login_frequency_drop",
        "support_tickets_increase",
        "adoption_rate_drop",
        "health_score_drop",
        "risk_level_high",
    ]
    assert scoring.churn_actions("high", fell) == [
        "schedule_check_in",
        "escalate_support_review",
        "review_feature_adoption",
    ]
    assert scoring.churn_actions("critical", ["payment_status"]) == [
        "finance_follow_up",
        "executive_outreach",
    ]
    assert scoring.churn_actions("high", [], ["assess_training_needs"]) == ["assess_training_needs"]
    assert scoring.churn_actions("high", []) == ["schedule_check_in"]


# --- Scorecard choice -----------------------------------------------------------------------------------


def test_the_most_specific_scorecard_wins():
    default = ScorecardSpec("Default", (), is_default=True)
    enterprise = ScorecardSpec("Enterprise", (), segment="enterprise")
    onboarding = ScorecardSpec("Onboarding", (), lifecycle_stage="onboarding")
    both = ScorecardSpec("Enterprise onboarding", (), segment="enterprise", lifecycle_stage="onboarding")
    cards = [default, enterprise, onboarding, both]

    def pick(segment, stage, options=cards):
        return scoring.choose_scorecard(
            options, segment=segment, lifecycle_stage=stage, fallback=BUILT_IN_SCORECARD
        )

    assert pick("enterprise", "onboarding") is both
    assert pick("small_business", "onboarding") is onboarding
    assert pick("enterprise", "adoption") is enterprise
    assert pick("mid_market", "renewal") is default
    assert pick("mid_market", "renewal", []) is BUILT_IN_SCORECARD


def test_when_nothing_fell_the_weakest_measures_are_named():
    current = scoring.compute_health(BUILT_IN_SCORECARD, {**SEED_VALUES, "payment_status": 0.0}).breakdown
    assert scoring.falling_measures(current, current) == []
    weak = scoring.weakest_measures(current)
    assert weak == ["payment_status", "adoption_rate", "login_frequency"]
    assessment = scoring.ChurnAssessment("high", True, None, None)
    directions = {entry["measure"]: entry["direction"] for entry in current}
    indicators = scoring.churn_indicators(
        assessment, [], directions, weak=["payment_status", "support_tickets"]
    )
    assert indicators == ["payment_status_low", "support_tickets_high", "risk_level_high"]
