"""The computed reports the finance API and admin show, built from the selectors and the pure modules:
one customer's value realisation, the platform's own forecast of a period beside the latest submitted
one (with its calibration once outcomes are known), and the retention of a period."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from domains.customers.models import Customer

from . import expansion, forecasting, realization, renewal_model, selectors
from .conf import conf
from .models import Contract, Forecast, RenewalModelFit
from .periods import Period, months_ending
from .retention import retention_rates
from .terms import arr_on

ZERO = Decimal("0")
PROBABILITY_DIGITS = 4

# How expansion_revenue and the pipeline were found (the sales app may be absent).
SALES_CLOSED_WON = "sales_closed_won"
CONTRACT_ARR_GROWTH = "contract_arr_growth"
SALES_PIPELINE = "sales_pipeline"
SALES_APP_ABSENT = "sales_app_absent"


def model_summary(fit: RenewalModelFit) -> dict[str, Any]:
    return {
        "basis": fit.basis,
        "outcomes": fit.outcomes,
        "training_outcomes": fit.training_outcomes,
        "holdout_outcomes": fit.holdout_outcomes,
        "brier_score": fit.brier_score,
        "baseline_brier_score": fit.baseline_brier_score,
        "coefficients": dict(zip(renewal_model.COEFFICIENT_NAMES, fit.coefficients, strict=True)),
        "fitted_at": fit.fitted_at,
    }


# --- One customer's value ------------------------------------------------------------------------------


def _saves(customer: Customer, arr_rows: list[tuple[date, date, Decimal]]) -> tuple[int, Decimal]:
    """Saves that ended within the attribution window and the ARR they kept."""
    now = timezone.now()
    window = timedelta(days=conf.FINANCE_ATTRIBUTION_WINDOW_DAYS)
    alerts, points = selectors.churn_alerts_and_scores(customer=customer, since=now - 2 * window)
    episodes = realization.churn_risk_episodes(
        alerts, points, recovery_points=conf.FINANCE_SAVE_RECOVERY_POINTS
    )
    count, kept_total = 0, ZERO
    for episode in episodes:
        if episode.ended_at is None or episode.ended_at < now - window:
            continue
        kept = arr_on(arr_rows, episode.ended_at.date())
        if kept <= 0:
            continue  # no contract left when the risk passed: not a save
        count += 1
        kept_total += min(arr_on(arr_rows, episode.started_at.date()), kept)
    return count, kept_total


def customer_value(*, customer: Customer, fit: RenewalModelFit, as_of: date | None = None) -> dict[str, Any]:
    as_of = as_of or selectors.today()
    data = selectors.customer_finance(customer=customer, as_of=as_of)
    in_force = [row for row in data.contracts if row[0] <= as_of <= row[1]]
    contracted = sum((row[2] for row in in_force), ZERO)
    current_arr = sum((row[3] for row in in_force), ZERO)
    realized = data.reports[-1][1] if data.reports else None
    arr_rows = [(start, end, arr) for start, end, _, arr in data.contracts]

    saves, churn_prevention = _saves(customer, arr_rows)
    sales = expansion.expansion_by_customer(customer_ids=[customer.customer_id])
    if sales is not None:
        figures = sales.get(customer.customer_id)
        expansion_revenue = figures.won_value if figures else ZERO
        pipeline = figures.open_value if figures else ZERO
        weighted_pipeline = figures.weighted_open_value if figures else ZERO
        expansion_basis, pipeline_basis = SALES_CLOSED_WON, SALES_PIPELINE
    else:
        window_ago = arr_on(arr_rows, as_of - timedelta(days=conf.FINANCE_ATTRIBUTION_WINDOW_DAYS))
        expansion_revenue = max(ZERO, current_arr - window_ago) if window_ago > 0 else ZERO
        pipeline = weighted_pipeline = None
        expansion_basis, pipeline_basis = CONTRACT_ARR_GROWTH, SALES_APP_ABSENT

    features = renewal_model.RenewalFeatures(
        customer.health_score,
        customer.health_trend,
        customer.adoption_rate,
        renewal_model.late_payment_share(
            data.payments,
            as_of=as_of,
            history_days=conf.FINANCE_PAYMENT_HISTORY_DAYS,
            grace_days=conf.FINANCE_OVERDUE_GRACE_DAYS,
        ),
    )
    return {
        "customer_id": customer.customer_id,
        "value_realization": {
            "contracted_value": contracted,
            "realized_value": realized,
            "roi_percentage": realization.roi_percentage(
                realized_value=realized, contracted_value=contracted
            ),
            "realization_timeline": realization.realization_timeline(
                start=min((row[0] for row in in_force), default=None),
                contracted_value=contracted,
                reports=[(reported_at.date(), value) for reported_at, value in data.reports],
            ),
            "current_arr": current_arr,
        },
        "revenue_attribution": {
            "success_contribution": realization.success_contribution(
                churn_prevention_value=churn_prevention,
                expansion_revenue=expansion_revenue,
                current_arr=current_arr,
            ),
            "churn_prevention_value": churn_prevention,
            "expansion_revenue": expansion_revenue,
            "saves": saves,
            "expansion_revenue_basis": expansion_basis,
        },
        "financial_health": {
            "payment_status": "overdue" if data.has_overdue_payment else "current",
            "renewal_probability": round(
                renewal_model.predict(fit.coefficients, features), PROBABILITY_DIGITS
            ),
            "expansion_pipeline": pipeline,
            "weighted_expansion_pipeline": weighted_pipeline,
            "expansion_pipeline_basis": pipeline_basis,
            "late_payment_share": round(features.late_payment_share, PROBABILITY_DIGITS),
            "renewal_model": model_summary(fit),
        },
    }


# --- Forecasts -----------------------------------------------------------------------------------------


def platform_forecast(*, period: Period, fit: RenewalModelFit) -> dict[str, Any]:
    """The platform's own forecast: every customer with a contract ending in the period, its renewal
    value weighted by the renewal model's probability, plus the open expansion opportunities whose
    timeline falls in the period weighted by their own probabilities (when the sales app is present)."""
    renewing = {
        customer_id: value for customer_id, value in selectors.renewing_customers(period=period).iterator()
    }
    features = selectors.current_renewal_features(
        customers=Contract.objects.filter(selectors.ending_in(period)).values("customer_id")
    )
    pipeline = expansion.expansion_for_period(period_key=period.key)

    def expansion_of(customer_id: str) -> tuple[Decimal, float]:
        figures = (pipeline or {}).get(customer_id)
        if figures is None or figures.open_value <= 0:
            return ZERO, 0.0
        return figures.open_value, float(figures.weighted_open_value / figures.open_value)

    lines = []
    for customer_id, value in renewing.items():
        customer_features = features.get(customer_id)
        probability = renewal_model.predict(fit.coefficients, customer_features) if customer_features else 0.0
        lines.append(
            forecasting.LineComputation(
                customer_id, forecasting.cents(value), probability, *expansion_of(customer_id)
            )
        )
    for customer_id in sorted(set(pipeline or {}) - set(renewing)):
        lines.append(forecasting.LineComputation(customer_id, ZERO, 0.0, *expansion_of(customer_id)))
    aggregates = forecasting.aggregate(lines)
    return {
        **aggregates.as_dict(),
        "expansion_pipeline_basis": SALES_PIPELINE if pipeline is not None else SALES_APP_ABSENT,
        "renewal_model": model_summary(fit),
    }


def period_actuals(*, period: Period, as_of: date | None = None) -> dict[str, Any]:
    outcomes = selectors.period_outcomes(period=period, as_of=as_of).values()
    by_state: dict[bool | None, list] = {True: [], False: [], None: []}
    for outcome in outcomes:
        by_state[outcome.renewed].append(outcome)

    def total(rows) -> float:
        return float(sum((row.value for row in rows), ZERO))

    return {
        "renewal_value": total(outcomes),
        "renewed_value": total(by_state[True]),
        "churned_value": total(by_state[False]),
        "pending_value": total(by_state[None]),
        "customers_renewed": len(by_state[True]),
        "customers_churned": len(by_state[False]),
        "customers_pending": len(by_state[None]),
    }


def forecast_calibration(*, forecast: Forecast, period: Period, as_of: date | None = None) -> dict[str, Any]:
    """How well the submitted renewal probabilities matched what happened: the Brier score over the
    lines whose customer had a contract ending in the period with a known outcome."""
    outcomes = selectors.period_outcomes(period=period, as_of=as_of)
    probabilities, observed = [], []
    for customer_id, probability in forecast.lines.values_list("customer_id", "renewal_probability"):
        outcome = outcomes.get(customer_id)
        if outcome is not None and outcome.renewed is not None:
            probabilities.append(probability)
            observed.append(int(outcome.renewed))
    brier = renewal_model.brier_score(probabilities, observed)
    return {"outcomes_known": len(observed), "brier_score": None if brier is None else round(brier, 6)}


def submitted_forecast(*, forecast: Forecast, period: Period, as_of: date | None = None) -> dict[str, Any]:
    return {
        "forecast_id": forecast.forecast_id,
        "forecast_period": forecast.forecast_period,
        "submitted_at": forecast.created_at,
        "submitted": forecast.submitted,
        "computed": forecast.computed,
        "discrepancies": forecast.discrepancies,
        "calibration": forecast_calibration(forecast=forecast, period=period, as_of=as_of),
    }


def forecast_for_period(*, period: Period, fit: RenewalModelFit) -> dict[str, Any]:
    latest = selectors.forecast_latest(period=period)
    platform = platform_forecast(period=period, fit=fit)
    submitted = submitted_forecast(forecast=latest, period=period) if latest else None
    comparison = None
    if latest is not None:
        comparison = {
            field: round(float(latest.computed.get(field, 0)) - platform[field], 2)
            for field in ("total_forecasted_revenue", "risk_adjusted_value")
        }
    return {
        "forecast_period": period.key,
        "period_start": period.start,
        "period_end": period.end,
        "platform": platform,
        "latest_submitted": submitted,
        "difference": comparison,
        "actuals": period_actuals(period=period),
    }


# --- Retention -----------------------------------------------------------------------------------------


def retention_report(
    *, period: Period, include_reactivation: bool, as_of: date | None = None
) -> dict[str, Any]:
    end = selectors.retention_end(period, as_of=as_of)
    movements = selectors.retention_movements(start=period.start, end=end)
    rates = retention_rates(movements, include_reactivation=include_reactivation)
    return {
        "period": period.key,
        "period_start": period.start,
        "period_end": period.end,
        "measured_on": end,
        "complete": end >= period.end,
        "include_reactivation": include_reactivation,
        "starting_arr": movements.starting_arr,
        "ending_arr": movements.ending_arr,
        "churned_arr": movements.churned_arr,
        "contraction_arr": movements.contraction_arr,
        "expansion_arr": movements.expansion_arr,
        "reactivation_arr": movements.reactivation_arr,
        "new_arr": movements.new_arr,
        "grr": rates.grr,
        "nrr": rates.nrr,
        "logo_retention": rates.logo_retention,
        "starting_customers": movements.starting_customers,
        "retained_customers": movements.retained_customers,
        "churned_customers": movements.churned_customers,
        "reactivated_customers": movements.reactivated_customers,
        "new_customers": movements.new_customers,
    }


def monthly_retention(*, months: int, include_reactivation: bool, as_of: date | None = None) -> list[dict]:
    """Retention of each of the last ``months`` calendar months (the current one under way), oldest
    first: one query per month."""
    as_of = as_of or selectors.today()
    return [
        retention_report(period=period, include_reactivation=include_reactivation, as_of=as_of)
        for period in months_ending(as_of, months)
    ]
