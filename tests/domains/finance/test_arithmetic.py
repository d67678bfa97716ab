"""The pure modules of the finance app, against hand-computed figures: periods, terms and ARR, retention
rates, forecast arithmetic and discrepancies, value realisation, and the logistic fit."""

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from domains.finance import forecasting, realization, renewal_model
from domains.finance.periods import PeriodError, months_ending, parse_period
from domains.finance.retention import Movements, retention_rates
from domains.finance.terms import annualised_value, arr_on, term_months, whole_months_between


@pytest.mark.parametrize(
    ("text", "key", "start", "end"),
    [
        ("q2_2026", "2026-q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-q2", "2026-q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("Q4-2025", "2025-q4", date(2025, 10, 1), date(2025, 12, 31)),
        ("2026-Q1", "2026-q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-02", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2028-02", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_periods_are_normalised(text, key, start, end):
    period = parse_period(text)
    assert (period.key, period.start, period.end) == (key, start, end)


@pytest.mark.parametrize(
    "text", ["2026", "2026-q5", "q0_2026", "2026-13", "1999-q1", "2101-01", "", "soon", "26-q1"]
)
def test_bad_periods_are_refused(text):
    with pytest.raises(PeriodError):
        parse_period(text)


def test_years_only_where_allowed_and_months_ending():
    assert parse_period("2026", allow_year=True).end == date(2026, 12, 31)
    assert [p.key for p in months_ending(date(2026, 2, 10), 3)] == ["2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 1, 1), date(2026, 12, 31), Fraction(12)),
        (date(2028, 1, 1), date(2028, 12, 31), Fraction(12)),  # leap year: still a year
        (date(2026, 1, 15), date(2027, 1, 14), Fraction(12)),
        (date(2026, 1, 1), date(2028, 12, 31), Fraction(36)),
        (date(2026, 1, 1), date(2026, 1, 15), Fraction(15, 31)),
        (date(2026, 1, 1), date(2026, 2, 14), 1 + Fraction(14, 28)),
        (date(2026, 3, 31), date(2026, 4, 29), Fraction(1)),  # a month from the 31st: to April's end
    ],
)
def test_term_months(start, end, months):
    assert term_months(start, end) == months


def test_annualised_value_and_arr_on():
    assert annualised_value(Decimal("150000"), date(2026, 1, 1), date(2026, 12, 31)) == Decimal("150000.00")
    assert annualised_value(Decimal("450000"), date(2026, 1, 1), date(2028, 12, 31)) == Decimal("150000.00")
    # Half a year of 60 000 is 120 000 a year.
    assert annualised_value(Decimal("60000"), date(2026, 1, 1), date(2026, 6, 30)) == Decimal("120000.00")
    contracts = [
        (date(2026, 1, 1), date(2026, 12, 31), Decimal("100")),
        (date(2026, 6, 1), date(2026, 6, 30), Decimal("50")),
    ]
    assert arr_on(contracts, date(2026, 6, 30)) == Decimal("150")
    assert arr_on(contracts, date(2026, 7, 1)) == Decimal("100")
    assert arr_on(contracts, date(2027, 1, 1)) == 0
    with pytest.raises(ValueError):
        term_months(date(2026, 2, 1), date(2026, 1, 31))


def test_whole_months_between():
    assert whole_months_between(date(2025, 1, 31), date(2025, 2, 28)) == 1
    assert whole_months_between(date(2024, 6, 1), date(2025, 12, 1)) == 18
    assert whole_months_between(date(2024, 6, 2), date(2025, 12, 1)) == 17
    assert whole_months_between(date(2026, 1, 1), date(2025, 1, 1)) == 0


def _movements(**values) -> Movements:
    defaults = {
        name: Decimal("0")
        for name in (
            "starting_arr",
            "ending_arr",
            "churned_arr",
            "contraction_arr",
            "expansion_arr",
            "reactivation_arr",
            "new_arr",
        )
    }
    counts = dict.fromkeys(
        (
            "starting_customers",
            "retained_customers",
            "churned_customers",
            "reactivated_customers",
            "new_customers",
        ),
        0,
    )
    merged = {**defaults, **counts}
    merged.update({k: Decimal(v) if k.endswith("_arr") else v for k, v in values.items()})
    return Movements(**merged)


def test_retention_rates_on_chartmogul_definitions():
    movements = _movements(
        starting_arr="1000",
        churned_arr="100",
        contraction_arr="50",
        expansion_arr="120",
        reactivation_arr="80",
        starting_customers=4,
        retained_customers=3,
    )
    with_reactivation = retention_rates(movements, include_reactivation=True)
    assert with_reactivation.grr == 0.85  # 1 - 150/1000
    assert with_reactivation.nrr == 1.05  # 1 - (150 - 120 - 80)/1000
    assert with_reactivation.logo_retention == 0.75
    assert retention_rates(movements, include_reactivation=False).nrr == 0.97  # 1 - (150 - 120)/1000
    empty = retention_rates(_movements(), include_reactivation=True)
    assert (empty.grr, empty.nrr, empty.logo_retention) == (None, None, None)


def test_forecast_aggregates_and_discrepancies():
    lines = [
        forecasting.LineComputation("cust_a", Decimal("100000"), 0.9, Decimal("50000"), 0.5),
        forecasting.LineComputation("cust_b", Decimal("0"), 0.7, Decimal("10000"), 0.1),
    ]
    assert lines[0].risk_adjusted_value == Decimal("115000.00")
    aggregates = forecasting.aggregate(lines)
    assert aggregates.total_forecasted_revenue == Decimal("160000")
    assert aggregates.risk_adjusted_value == Decimal("116000.00")
    assert aggregates.confidence_level == round(116000 / 160000, 4)
    assert aggregates.customers == 2
    tolerance = forecasting.Tolerance(relative=0.01, absolute=1.0, confidence=0.01)
    found = forecasting.find_discrepancies(
        {"total_forecasted_revenue": 161000, "risk_adjusted_value": 120000, "confidence_level": 0.80},
        aggregates,
        tolerance,
    )
    # 161 000 is within 1 % of 160 000; 120 000 is not within 1 % of 116 000; 0.80 is 0.525 off.
    assert [item["field"] for item in found] == [
        "aggregate_metrics.confidence_level",
        "aggregate_metrics.risk_adjusted_value",
    ]
    risk = found[1]
    assert (risk["submitted"], risk["computed"], risk["difference"], risk["tolerance"]) == (
        120000.0,
        116000.0,
        4000.0,
        1160.0,
    )
    nothing = forecasting.aggregate([])
    assert nothing.confidence_level is None
    [undefined] = forecasting.find_discrepancies({"confidence_level": 0.5}, nothing, tolerance)
    assert undefined["computed"] is None


def test_realization_timeline_and_roi():
    start = date(2024, 6, 1)
    reports = [
        (date(2025, 1, 10), Decimal("90000")),
        (date(2025, 12, 5), Decimal("160000")),
        (date(2024, 1, 1), Decimal("999999")),  # before the contract: not its realisation
    ]
    assert (
        realization.realization_timeline(start=start, contracted_value=Decimal("150000"), reports=reports)
        == "18_months"
    )
    assert (
        realization.realization_timeline(start=start, contracted_value=Decimal("200000"), reports=reports)
        is None
    )
    assert (
        realization.realization_timeline(start=None, contracted_value=Decimal("1"), reports=reports) is None
    )
    assert realization.timeline_label(1) == "1_month"
    assert (
        realization.roi_percentage(realized_value=Decimal("180000"), contracted_value=Decimal("150000"))
        == 120
    )
    assert (
        realization.roi_percentage(realized_value=Decimal("1"), contracted_value=Decimal("200")) == 1
    )  # 0.5 up
    assert realization.roi_percentage(realized_value=None, contracted_value=Decimal("1")) is None
    assert realization.roi_percentage(realized_value=Decimal("1"), contracted_value=Decimal("0")) is None


def _at(day: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=day)


def test_churn_risk_episodes():
    alerts = [
        realization.Alert("evt_1", _at(0), 30),
        realization.Alert("evt_2", _at(5), 25),  # during the first episode
        realization.Alert("evt_3", _at(40), 45),
    ]
    points = [
        realization.ScorePoint(_at(0), 30, "high"),
        realization.ScorePoint(_at(10), 38, "medium"),  # not 10 points up yet
        realization.ScorePoint(_at(20), 41, "high"),  # 11 up but still high
        realization.ScorePoint(_at(30), 52, "medium"),  # recovered
        realization.ScorePoint(_at(40), 45, "medium"),
    ]
    first, second = realization.churn_risk_episodes(alerts, points, recovery_points=10)
    assert (first.alert_event_id, first.ended_at, first.recovery_score) == ("evt_1", _at(30), 52)
    assert (second.alert_event_id, second.ended_at) == ("evt_3", None)
    assert (
        realization.success_contribution(
            churn_prevention_value=Decimal("25000"),
            expansion_revenue=Decimal("30000"),
            current_arr=Decimal("100000"),
        )
        == 0.55
    )
    assert (
        realization.success_contribution(
            churn_prevention_value=Decimal("90000"),
            expansion_revenue=Decimal("30000"),
            current_arr=Decimal("100000"),
        )
        == 1.0
    )
    assert (
        realization.success_contribution(
            churn_prevention_value=Decimal("1"), expansion_revenue=Decimal("0"), current_arr=Decimal("0")
        )
        is None
    )


def test_late_payment_share():
    as_of = date(2026, 6, 1)
    payments = [
        (date(2026, 1, 1), date(2025, 12, 30)),  # early
        (date(2026, 2, 1), date(2026, 2, 3)),  # two days late
        (date(2026, 3, 1), None),  # never paid
        (date(2026, 5, 31), None),  # due yesterday: late without grace, still in its grace with 3 days
        (date(2024, 1, 1), None),  # outside the look-back
    ]
    assert renewal_model.late_payment_share(payments, as_of=as_of, history_days=365, grace_days=0) == 0.75
    assert renewal_model.late_payment_share(
        payments, as_of=as_of, history_days=365, grace_days=3
    ) == pytest.approx(1 / 3)
    assert renewal_model.late_payment_share([], as_of=as_of, history_days=365, grace_days=0) == 0.0


def test_solve_and_brier():
    assert renewal_model.solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]) == pytest.approx([0.8, 1.4])
    with pytest.raises(renewal_model.SingularSystem):
        renewal_model.solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0])
    assert renewal_model.brier_score([0.9, 0.2], [1, 0]) == pytest.approx((0.01 + 0.04) / 2)
    assert renewal_model.brier_score([], []) is None


def test_holdout_split_is_deterministic_and_near_its_share():
    keys = [f"ctr_{index}" for index in range(4000)]
    first = [renewal_model.is_holdout(key, 20) for key in keys]
    assert first == [renewal_model.is_holdout(key, 20) for key in keys]
    assert 0.17 < sum(first) / len(keys) < 0.23


def test_logistic_fit_recovers_known_coefficients():
    rng = random.Random(7)
    truth = (-1.5, 3.0, 0.5, 1.2, -2.0)
    rows, outcomes = [], []
    for _ in range(6000):
        features = renewal_model.RenewalFeatures(
            health_score=rng.uniform(0, 100),
            health_trend=rng.choice(["improving", "stable", "declining"]),
            adoption_rate=rng.uniform(0, 1),
            late_payment_share=rng.choice([0.0, 0.0, 0.25, 0.5, 1.0]),
        )
        rows.append(features.vector())
        outcomes.append(int(rng.random() < renewal_model.predict(truth, features)))
    fit = renewal_model.fit_logistic(rows, outcomes, ridge=0.0)
    assert fit.converged
    for estimate, expected in zip(fit.coefficients, truth, strict=True):
        assert estimate == pytest.approx(expected, abs=0.35)
    # At the optimum the gradient of the log-likelihood vanishes: Σ x (y - p) = 0 for each feature.
    for index in range(len(truth)):
        gradient = sum(
            x[index]
            * (y - renewal_model.logistic(sum(b * v for b, v in zip(fit.coefficients, x, strict=True))))
            for x, y in zip(rows, outcomes, strict=True)
        )
        assert abs(gradient) < 1e-6
    # The ridge shrinks the coefficients (never the intercept's freedom).
    ridged = renewal_model.fit_logistic(rows, outcomes, ridge=500.0)
    assert sum(b * b for b in ridged.coefficients[1:]) < sum(b * b for b in fit.coefficients[1:])


def test_logistic_is_stable_at_the_extremes():
    assert renewal_model.logistic(1000) == 1.0
    assert renewal_model.logistic(-1000) == pytest.approx(0.0)
    assert math.isclose(renewal_model.logistic(0), 0.5)
    unknown = renewal_model.RenewalFeatures(50, "unknown", None, 0.0)
    assert unknown.vector() == (1.0, 0.5, 0.0, renewal_model.NEUTRAL_ADOPTION, 0.0)
