"""``POST /forecast`` (signed) recomputes the aggregates from its lines and the stored contracts and lists
the discrepancies; ``GET /forecast/{period}`` gives the platform's own forecast beside the latest one
submitted, with its calibration once outcomes are known."""

import datetime as dt
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from domains.finance import renewal_model, selectors, services
from domains.finance.models import Forecast, ForecastLine
from domains.finance.periods import quarter_period
from tests.conftest import sign_request_kwargs

from .conftest import BASE, assert_problem, days, events_of, signed_post
from .fake_sales import ExpansionSummary

pytestmark = pytest.mark.django_db

FORECAST = f"{BASE}/forecast"
SEED_FORECAST = {
    "forecast_period": "q2_2026",
    "customer_forecasts": [
        {
            "customer_id": "cust_12345",
            "renewal_probability": 0.95,
            "expansion_probability": 0.70,
            "expansion_value": 50000,
            "risk_factors": ["contract_renewal_timing"],
        }
    ],
    "aggregate_metrics": {
        "total_forecasted_revenue": 2500000,
        "confidence_level": 0.88,
        "risk_adjusted_value": 2200000,
    },
}


@pytest.fixture
def seed_contracts(make_customer, make_contract):
    """cust_12345 renews 200 000 within 2026-q2; cust_other renews 80 000 then but has no line."""
    customer = make_customer("cust_12345", health_score=85)
    make_contract(customer, 200000, date(2025, 6, 1), date(2026, 5, 31))
    make_contract(customer, 999, date(2024, 6, 1), date(2025, 5, 31))  # ends outside the period
    make_contract(make_customer("cust_other"), 80000, date(2025, 4, 1), date(2026, 3, 31))  # q1: outside
    make_contract(make_customer("cust_silent"), 80000, date(2025, 7, 1), date(2026, 6, 30))
    return customer


def test_the_seed_request_is_recomputed_and_its_discrepancies_listed(finance_api, seed_contracts):
    response = signed_post(finance_api, FORECAST, SEED_FORECAST)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["forecast_id"].startswith("fc_")
    assert (body["forecast_period"], body["period_start"], body["period_end"]) == (
        "2026-q2",
        "2026-04-01",
        "2026-06-30",
    )
    assert body["submitted"] == {
        "total_forecasted_revenue": 2500000,
        "confidence_level": 0.88,
        "risk_adjusted_value": 2200000,
    }
    computed = body["computed"]
    # 200 000 renewing + 50 000 expansion; 200 000 x 0.95 + 50 000 x 0.70; 225 000 / 250 000.
    assert computed["total_forecasted_revenue"] == 250000
    assert computed["risk_adjusted_value"] == 225000
    assert computed["confidence_level"] == 0.9
    assert computed["renewal_value"] == 200000 and computed["expansion_value"] == 50000
    assert computed["customers"] == 1
    assert computed["unforecast_renewal_value"] == 80000 and computed["unforecast_customers"] == 1
    assert body["discrepancies"] == [
        {
            "field": "aggregate_metrics.total_forecasted_revenue",
            "submitted": 2500000,
            "computed": 250000,
            "difference": 2250000,
            "tolerance": 2500,
        },
        {
            "field": "aggregate_metrics.confidence_level",
            "submitted": 0.88,
            "computed": 0.9,
            "difference": -0.02,
            "tolerance": 0.01,
        },
        {
            "field": "aggregate_metrics.risk_adjusted_value",
            "submitted": 2200000,
            "computed": 225000,
            "difference": 1975000,
            "tolerance": 2250,
        },
    ]
    [line] = body["lines"]
    assert line == {
        "customer_id": "cust_12345",
        "renewal_value": 200000,
        "renewal_probability": 0.95,
        "expansion_value": 50000,
        "expansion_probability": 0.7,
        "risk_adjusted_value": 225000,
        "risk_factors": ["contract_renewal_timing"],
    }

    forecast = Forecast.objects.get(pk=body["forecast_id"])
    assert forecast.submitted_by == finance_api.integration.client.client_id
    stored = ForecastLine.objects.get(forecast=forecast)
    assert stored.renewal_value == Decimal("200000.00") and stored.risk_adjusted_value == Decimal("225000.00")

    [event] = events_of("forecast_submitted")
    assert event.customer_id is None
    assert {key for key in event.payload if key not in ("event", "customer_id", "timestamp")} == {
        "forecast_id",
        "forecast_period",
        "submitted",
        "computed",
        "discrepancies",
    }
    assert event.payload["forecast_id"] == body["forecast_id"]
    assert event.payload["computed"] == body["computed"]
    assert event.payload["discrepancies"] == body["discrepancies"]


def test_aggregates_within_tolerance_are_no_discrepancy(finance_api, seed_contracts):
    body = {
        **SEED_FORECAST,
        "forecast_period": "2026-05",  # a month holds the renewal too
        "aggregate_metrics": {
            "total_forecasted_revenue": 251000,
            "confidence_level": 0.905,
            "risk_adjusted_value": 224000,
        },
    }
    response = signed_post(finance_api, FORECAST, body)
    assert response.status_code == 201, response.content
    assert response.json()["forecast_period"] == "2026-05"
    assert response.json()["discrepancies"] == []
    without_metrics = {key: value for key, value in SEED_FORECAST.items() if key != "aggregate_metrics"}
    answered = signed_post(finance_api, FORECAST, {**without_metrics, "forecast_period": "2026-Q2"}).json()
    assert answered["submitted"] == {} and answered["discrepancies"] == []
    assert answered["forecast_period"] == "2026-q2"


def test_a_line_without_a_renewal_in_the_period_has_none(finance_api, seed_contracts):
    body = {**SEED_FORECAST, "forecast_period": "2026-q3"}
    computed = signed_post(finance_api, FORECAST, body).json()["computed"]
    assert computed["renewal_value"] == 0 and computed["total_forecasted_revenue"] == 50000
    assert computed["risk_adjusted_value"] == 35000 and computed["confidence_level"] == 0.7


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"forecast_period": "q5_2026"}, "forecast_period"),
        ({"forecast_period": "2026"}, "forecast_period"),
        ({"forecast_period": 2026}, "forecast_period"),
        ({"customer_forecasts": []}, "customer_forecasts"),
        (
            {"customer_forecasts": [{"customer_id": "cust_12345", "renewal_probability": 1.5}]},
            "customer_forecasts.0.renewal_probability",
        ),
        (
            {"customer_forecasts": [{"customer_id": "cust_12345", "renewal_probability": "high"}]},
            "customer_forecasts.0.renewal_probability",
        ),
        ({"customer_forecasts": [{"customer_id": "cust_12345"}]}, "customer_forecasts.0.renewal_probability"),
        (
            {
                "customer_forecasts": [
                    {"customer_id": "cust_12345", "renewal_probability": 0.5, "expansion_value": -1}
                ]
            },
            "customer_forecasts.0.expansion_value",
        ),
        (
            {
                "customer_forecasts": [
                    {"customer_id": "cust_12345", "renewal_probability": 0.5, "risk_factors": ["no spaces"]}
                ]
            },
            "customer_forecasts.0.risk_factors.0",
        ),
        (
            {
                "customer_forecasts": [
                    {"customer_id": "cust_12345", "renewal_probability": 0.5},
                    {"customer_id": "cust_nobody", "renewal_probability": 0.5},
                ]
            },
            "customer_forecasts.1.customer_id",
        ),
        (
            {
                "customer_forecasts": [
                    {"customer_id": "cust_12345", "renewal_probability": 0.5},
                    {"customer_id": "cust_12345", "renewal_probability": 0.6},
                ]
            },
            "customer_forecasts.1.customer_id",
        ),
        ({"aggregate_metrics": {"confidence_level": 2}}, "aggregate_metrics.confidence_level"),
        (
            {"aggregate_metrics": {"total_forecasted_revenue": "lots"}},
            "aggregate_metrics.total_forecasted_revenue",
        ),
    ],
)
def test_invalid_forecasts_are_400_with_dotted_fields(finance_api, seed_contracts, change, field):
    assert_problem(
        signed_post(finance_api, FORECAST, {**SEED_FORECAST, **change}), 400, field, "validation-error"
    )
    assert not Forecast.objects.exists() and events_of("forecast_submitted") == []


def test_the_number_of_lines_is_bounded(settings, finance_api, make_customer):
    settings.FINANCE_FORECAST_MAX_LINES = 2
    lines = [
        {"customer_id": make_customer(f"cust_{index}").pk, "renewal_probability": 0.5} for index in range(3)
    ]
    body = {"forecast_period": "2026-q2", "customer_forecasts": lines}
    assert_problem(signed_post(finance_api, FORECAST, body), 400, "customer_forecasts")


def test_a_forecast_must_be_signed(api, finance_api, seed_contracts):
    raw = json.dumps(SEED_FORECAST).encode()
    unsigned = finance_api.post(FORECAST, data=raw, content_type="application/json")
    assert_problem(unsigned, 401, slug="signature-required")
    # A body that is not the one whose digest was signed.
    tampered = json.dumps({**SEED_FORECAST, "forecast_period": "2026-q3"}).encode()
    headers = sign_request_kwargs(finance_api.integration, "POST", FORECAST, raw)
    assert_problem(finance_api.post(FORECAST, data=tampered, content_type="application/json", **headers), 400)
    # The same signature twice is a replay.
    good = sign_request_kwargs(finance_api.integration, "POST", FORECAST, raw)
    assert finance_api.post(FORECAST, data=raw, content_type="application/json", **good).status_code == 201
    replay = finance_api.post(FORECAST, data=raw, content_type="application/json", **good)
    assert_problem(replay, 401, slug="signature-invalid")
    # Another client's signature is refused too; without a token it is a 401, with only finance:read a 403.
    other = api(scopes="finance:write")
    foreign = sign_request_kwargs(other.integration, "POST", FORECAST, raw)
    assert_problem(finance_api.post(FORECAST, data=raw, content_type="application/json", **foreign), 401)
    assert_problem(APIClient().post(FORECAST, data=raw, content_type="application/json"), 401)
    reader = api(scopes="finance:read")
    assert "finance:write" in assert_problem(signed_post(reader, FORECAST, SEED_FORECAST), 403)["detail"]
    assert Forecast.objects.count() == 1
    assert_problem(signed_post(finance_api, FORECAST, None, raw=b"{broken"), 400)


def _past_quarter():
    """A quarter that ended more than the renewal grace ago, so its outcomes are known."""
    day = days(-200)
    return quarter_period(day.year, (day.month - 1) // 3 + 1)


def test_the_platform_forecast_beside_the_latest_submitted_with_its_calibration(
    finance_api, make_customer, make_contract, sales_absent
):
    period = _past_quarter()
    renews = make_customer("cust_renews", health_score=90, adoption_rate=0.8)
    churns = make_customer("cust_churns", health_score=20, adoption_rate=0.1)
    make_contract(renews, 100000, period.start - timedelta(days=300), period.start + timedelta(days=10))
    make_contract(renews, 110000, period.start + timedelta(days=11), period.start + timedelta(days=400))
    make_contract(churns, 50000, period.start - timedelta(days=300), period.end - timedelta(days=5))
    make_customer("cust_unrelated")

    empty = finance_api.get(f"{FORECAST}/{period.key}").json()
    assert empty["latest_submitted"] is None and empty["difference"] is None
    platform = empty["platform"]
    prior = services.renewal_prior()
    features = selectors.current_renewal_features(customers=["cust_renews", "cust_churns"])
    expected = round(
        100000 * renewal_model.predict(prior, features["cust_renews"])
        + 50000 * renewal_model.predict(prior, features["cust_churns"]),
        2,
    )
    assert platform["total_forecasted_revenue"] == 150000 and platform["customers"] == 2
    assert platform["risk_adjusted_value"] == pytest.approx(expected, abs=0.02)
    assert platform["confidence_level"] == round(platform["risk_adjusted_value"] / 150000, 4)
    assert platform["expansion_pipeline_basis"] == "sales_app_absent" and platform["expansion_value"] == 0
    assert platform["renewal_model"]["basis"] == "prior"
    assert empty["actuals"] == {
        "renewal_value": 150000,
        "renewed_value": 100000,
        "churned_value": 50000,
        "pending_value": 0,
        "customers_renewed": 1,
        "customers_churned": 1,
        "customers_pending": 0,
    }

    submitted = {
        "forecast_period": period.key,
        "customer_forecasts": [
            {"customer_id": "cust_renews", "renewal_probability": 0.9},
            {"customer_id": "cust_churns", "renewal_probability": 0.4},
        ],
    }
    assert signed_post(finance_api, FORECAST, submitted).status_code == 201
    body = finance_api.get(f"{FORECAST}/{period.key}").json()
    latest = body["latest_submitted"]
    assert latest["computed"]["risk_adjusted_value"] == 110000  # 100 000 x 0.9 + 50 000 x 0.4
    # (0.9 - 1)² and (0.4 - 0)², averaged.
    assert latest["calibration"] == {"outcomes_known": 2, "brier_score": pytest.approx((0.01 + 0.16) / 2)}
    assert body["difference"]["risk_adjusted_value"] == round(110000 - platform["risk_adjusted_value"], 2)
    assert body["difference"]["total_forecasted_revenue"] == 0


def test_the_platform_forecast_counts_the_sales_pipeline_when_present(
    finance_api, make_customer, make_contract, sales_present
):
    customer = make_customer("cust_12345", health_score=85)
    make_contract(customer, 200000, date(2025, 6, 1), date(2026, 5, 31))
    make_customer("cust_upsell")
    sales_present.PIPELINES["2026-q2"] = {
        "cust_12345": ExpansionSummary(Decimal("50000"), Decimal("35000"), Decimal("0")),
        "cust_upsell": ExpansionSummary(Decimal("10000"), Decimal("2500"), Decimal("0")),
    }
    platform = finance_api.get(f"{FORECAST}/q2_2026").json()["platform"]
    assert platform["expansion_pipeline_basis"] == "sales_pipeline"
    assert platform["expansion_value"] == 60000
    assert platform["risk_adjusted_expansion_value"] == 37500
    assert platform["customers"] == 2 and platform["renewal_value"] == 200000
    assert ("expansion_pipeline_for_period", "2026-q2") in sales_present.CALLS


def test_forecast_period_errors(api, finance_api):
    assert_problem(finance_api.get(f"{FORECAST}/2026-q9"), 400, "forecast_period")
    assert_problem(finance_api.get(f"{FORECAST}/2026"), 400, "forecast_period")
    assert_problem(finance_api.get(f"{FORECAST}/1999-01"), 400, "forecast_period")
    assert_problem(APIClient().get(f"{FORECAST}/2026-q2"), 401)
    assert (
        "finance:read"
        in assert_problem(api(scopes="finance:write").get(f"{FORECAST}/2026-q2"), 403)["detail"]
    )
    assert_problem(finance_api.get(f"{FORECAST}/2026-q2/extra"), 404)
    assert_problem(finance_api.get(FORECAST), 405)


def test_a_retried_forecast_with_its_idempotency_key_is_stored_once(finance_api, seed_contracts):
    raw = json.dumps(SEED_FORECAST).encode()
    now = dt.datetime.now(dt.UTC)
    answers = []
    for created in (now - dt.timedelta(seconds=1), now):  # each try signed anew
        headers = sign_request_kwargs(finance_api.integration, "POST", FORECAST, raw, created=created)
        answers.append(
            finance_api.post(
                FORECAST, data=raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="fc-q2", **headers
            )
        )
    first, retry = answers
    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true" and retry.json() == first.json()
    assert Forecast.objects.count() == 1 and len(events_of("forecast_submitted")) == 1
