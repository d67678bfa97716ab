"""``GET /retention``: GRR and NRR on ChartMogul's definitions against a hand-computed example with a churn,
a contraction, an expansion, a reactivation and a new customer; the reactivation flag; logo retention;
a number of queries that does not grow with the customers; and the error paths."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from domains.finance.periods import quarter_period
from domains.finance.terms import add_months
from tests.conftest import openapi_document, query_parameter_schema

from .conftest import BASE, assert_problem, days

pytestmark = pytest.mark.django_db

RETENTION = f"{BASE}/retention"


def closed_quarter():
    day = days(-120)
    return quarter_period(day.year, (day.month - 1) // 3 + 1)


def year_contract(make_contract, customer, value, start):
    """Twelve calendar months from ``start``: its ARR is its value."""
    return make_contract(customer, value, start, add_months(start, 12) - timedelta(days=1))


@pytest.fixture
def example(make_customer, make_contract):
    """ARR on the first day / on the last day of the quarter, per customer:

    flat 100 000 / 100 000 · churn 50 000 / 0 · contraction 80 000 / 60 000 · expansion 40 000 / 50 000 ·
    reactivation 0 / 30 000 (a contract two years before) · new 0 / 25 000.
    """
    period = closed_quarter()
    inside = add_months(period.start, 1)  # a month into the quarter
    year_contract(make_contract, make_customer("cust_flat"), 100000, add_months(period.start, -6))
    year_contract(make_contract, make_customer("cust_churn"), 50000, add_months(inside, -12))
    shrinking = make_customer("cust_contraction")
    year_contract(make_contract, shrinking, 80000, add_months(inside, -12))
    year_contract(make_contract, shrinking, 60000, inside)
    growing = make_customer("cust_expansion")
    year_contract(make_contract, growing, 40000, add_months(period.start, -6))
    year_contract(make_contract, growing, 10000, inside)  # an add-on
    returning = make_customer("cust_reactivation")
    year_contract(make_contract, returning, 70000, add_months(period.start, -24))
    year_contract(make_contract, returning, 30000, inside)
    year_contract(make_contract, make_customer("cust_new"), 25000, inside)
    return period


def test_grr_and_nrr_against_the_hand_computed_example(finance_api, example):
    body = finance_api.get(RETENTION, {"period": example.key}).json()
    assert body["period"] == example.key and body["complete"] is True
    assert body["measured_on"] == str(example.end) and body["include_reactivation"] is True
    money = {name: body[name] for name in body if name.endswith("_arr")}
    assert money == {
        "starting_arr": 270000,
        "ending_arr": 265000,
        "churned_arr": 50000,
        "contraction_arr": 20000,
        "expansion_arr": 10000,
        "reactivation_arr": 30000,
        "new_arr": 25000,
    }
    assert body["grr"] == 0.7407  # 1 - (50 000 + 20 000) / 270 000
    assert body["nrr"] == 0.8889  # 1 - (70 000 - 10 000 - 30 000) / 270 000
    assert body["logo_retention"] == 0.75  # 3 of the 4 customers with ARR at the start
    counts = {name: body[name] for name in body if name.endswith("_customers")}
    assert counts == {
        "starting_customers": 4,
        "retained_customers": 3,
        "churned_customers": 1,
        "reactivated_customers": 1,
        "new_customers": 1,
    }

    without = finance_api.get(RETENTION, {"period": example.key, "include_reactivation": "false"}).json()
    assert without["nrr"] == 0.7778  # 1 - (70 000 - 10 000) / 270 000
    assert without["grr"] == 0.7407 and without["include_reactivation"] is False


def test_other_forms_of_the_period(finance_api, example):
    quarter, year = example.key.split("-q")[1], example.start.year
    assert finance_api.get(RETENTION, {"period": f"q{quarter}_{year}"}).json()["starting_arr"] == 270000
    month = finance_api.get(RETENTION, {"period": f"{example.start:%Y-%m}"}).json()
    assert month["period"] == f"{example.start:%Y-%m}" and month["starting_arr"] == 270000
    assert month["churned_arr"] == 0  # the churn happens in the quarter's second month
    this_year = finance_api.get(RETENTION, {"period": str(days(0).year)}).json()
    assert this_year["complete"] is False and this_year["measured_on"] == str(days(0))


def test_the_number_of_queries_does_not_grow_with_the_customers(finance_api, make_customer, make_contract):
    period = closed_quarter()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert finance_api.get(RETENTION, {"period": period.key}).status_code == 200
        return len(captured)

    for index in range(3):
        year_contract(make_contract, make_customer(f"cust_few{index}"), 1000, add_months(period.start, -3))
    few = queries()
    for index in range(40):
        year_contract(
            make_contract, make_customer(f"cust_many{index}"), 1000, add_months(period.start, -3 - index % 9)
        )
    assert queries() == few


def test_retention_errors(api, finance_api):
    assert_problem(finance_api.get(RETENTION), 400, "period")
    assert_problem(finance_api.get(RETENTION, {"period": "last-quarter"}), 400, "period")
    assert_problem(finance_api.get(RETENTION, {"period": ""}), 400, "period")
    future = days(400)
    assert_problem(finance_api.get(RETENTION, {"period": f"{future:%Y-%m}"}), 400, "period")
    assert_problem(
        finance_api.get(RETENTION, {"period": "2026-q1", "include_reactivation": "yes"}),
        400,
        "include_reactivation",
    )
    assert_problem(APIClient().get(RETENTION, {"period": "2026-q1"}), 401)
    assert "finance:read" in assert_problem(api(scopes="customers:read").get(RETENTION), 403)["detail"]
    assert_problem(finance_api.post(RETENTION, {}, format="json"), 405)


def test_the_period_says_it_has_started():
    operation = openapi_document()["paths"]["/api/v1/cs-finance/retention"]["get"]
    assert query_parameter_schema(operation, "period")["x-relative-to-now"] == {"latest_seconds": 0}
