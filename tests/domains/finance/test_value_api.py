"""``GET /value/{customer_id}``: the seed's response computed from stored contracts, value reports,
payments and the health history, with the sales app absent (what this tree holds) and present (a fake
of its two public reads)."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from csintegration.events.models import Event
from domains.customers import health
from domains.customers.models import HealthSnapshot
from domains.finance import services
from domains.finance.terms import add_months

from .conftest import BASE, assert_problem, days, events_of
from .fake_sales import ExpansionSummary

pytestmark = pytest.mark.django_db


def value_of(client, customer_id: str) -> dict:
    response = client.get(f"{BASE}/value/{customer_id}")
    assert response.status_code == 200, response.content
    return response.json()


def a_year_from(start):
    """The last day of a twelve-month term (so that its ARR is its value exactly)."""
    return add_months(start, 12) - timedelta(days=1)


def report_health(customer_id: str, previous: int, new: int) -> None:
    health.health_change_record(
        customer_id=customer_id,
        previous_score=previous,
        new_score=new,
        change_reason="test",
        trigger_events=[],
        recommended_actions=[],
    )


def test_the_seed_shape_from_stored_contracts_and_reports(
    finance_api, make_customer, make_contract, sales_absent
):
    customer = make_customer("cust_12345", health_score=85)
    start = add_months(days(0), -20)
    make_contract(customer, 150000, start, add_months(start, 36) - timedelta(days=1))
    make_contract(customer, 99999, add_months(start, -40), add_months(start, -28))  # long over
    reached = add_months(start, 18) + timedelta(days=3)
    for reported, value in ((add_months(start, 6), 60000), (reached, 155000), (days(-1), 180000)):
        services.value_report_create(
            customer=customer,
            realized_value=Decimal(value),
            reported_at=datetime.combine(reported, time(12), tzinfo=UTC),
        )
    body = value_of(finance_api, "cust_12345")
    assert set(body) == {"customer_id", "value_realization", "revenue_attribution", "financial_health"}
    realization = body["value_realization"]
    assert realization == {
        "contracted_value": 150000,
        "realized_value": 180000,
        "roi_percentage": 120,
        "realization_timeline": "18_months",
        "current_arr": 50000,
    }
    attribution = body["revenue_attribution"]
    assert attribution["churn_prevention_value"] == 0 and attribution["saves"] == 0
    assert attribution["expansion_revenue_basis"] == "contract_arr_growth"
    finance = body["financial_health"]
    assert finance["payment_status"] == "current"
    assert 0 < finance["renewal_probability"] < 1
    assert finance["expansion_pipeline"] is None and finance["expansion_pipeline_basis"] == "sales_app_absent"
    assert finance["renewal_model"]["basis"] == "prior"


def test_without_a_report_or_a_contract_the_figures_are_null(finance_api, make_customer):
    make_customer("cust_empty")
    realization = value_of(finance_api, "cust_empty")["value_realization"]
    assert realization == {
        "contracted_value": 0,
        "realized_value": None,
        "roi_percentage": None,
        "realization_timeline": None,
        "current_arr": 0,
    }
    assert value_of(finance_api, "cust_empty")["revenue_attribution"]["success_contribution"] is None


def test_a_churn_risk_episode_that_ended_is_a_save_worth_the_arr_kept(
    finance_api, make_customer, make_contract, sales_absent
):
    customer = make_customer("cust_saved", health_score=80)
    make_contract(customer, 100000, days(-100), a_year_from(days(-100)))
    report_health("cust_saved", 80, 30)  # high risk: churn_risk_detected
    assert len(events_of("churn_risk_detected", "cust_saved")) == 1
    report_health("cust_saved", 30, 38)  # better, but not 10 points up
    assert value_of(finance_api, "cust_saved")["revenue_attribution"]["saves"] == 0
    report_health("cust_saved", 38, 62)  # medium and 32 points up: the episode ended
    attribution = value_of(finance_api, "cust_saved")["revenue_attribution"]
    assert attribution["saves"] == 1 and attribution["churn_prevention_value"] == 100000
    assert attribution["success_contribution"] == 1.0  # the whole ARR was at stake and kept

    # The same episode seen from more than a year later no longer counts.
    old = timedelta(days=400)
    for event in Event.objects.filter(customer_id="cust_saved"):
        Event.objects.filter(pk=event.pk).update(occurred_at=event.occurred_at - old)
    for snapshot in HealthSnapshot.objects.filter(customer=customer):
        HealthSnapshot.objects.filter(pk=snapshot.pk).update(observed_at=snapshot.observed_at - old)
    assert value_of(finance_api, "cust_saved")["revenue_attribution"]["saves"] == 0


def test_an_episode_without_a_contract_left_is_no_save(finance_api, make_customer, make_contract):
    customer = make_customer("cust_lost", health_score=80)
    make_contract(customer, 100000, days(-400), days(-36))
    report_health("cust_lost", 80, 20)
    report_health("cust_lost", 20, 70)
    attribution = value_of(finance_api, "cust_lost")["revenue_attribution"]
    assert attribution["saves"] == 0 and attribution["churn_prevention_value"] == 0


def test_expansion_without_the_sales_app_is_the_contracts_arr_growth(
    finance_api, make_customer, make_contract, sales_absent
):
    customer = make_customer("cust_grows")
    renewal = days(-34)
    make_contract(customer, 100000, add_months(renewal, -12), renewal - timedelta(days=1))  # a year's terms
    make_contract(customer, 120000, renewal, a_year_from(renewal))
    attribution = value_of(finance_api, "cust_grows")["revenue_attribution"]
    assert attribution["expansion_revenue"] == 20000
    assert attribution["success_contribution"] == round(20000 / 120000, 2)


def test_with_the_sales_app_present_its_figures_are_used(
    finance_api, make_customer, make_contract, sales_present
):
    customer = make_customer("cust_sales")
    make_contract(customer, 100000, days(-10), a_year_from(days(-10)))
    sales_present.SUMMARIES["cust_sales"] = ExpansionSummary(
        Decimal("75000"), Decimal("40000"), Decimal("30000")
    )
    body = value_of(finance_api, "cust_sales")
    assert body["revenue_attribution"]["expansion_revenue"] == 30000
    assert body["revenue_attribution"]["expansion_revenue_basis"] == "sales_closed_won"
    assert body["revenue_attribution"]["success_contribution"] == 0.3
    assert body["financial_health"]["expansion_pipeline"] == 75000
    assert body["financial_health"]["weighted_expansion_pipeline"] == 40000
    assert body["financial_health"]["expansion_pipeline_basis"] == "sales_pipeline"
    assert ("expansion_summary", ["cust_sales"]) in sales_present.CALLS
    # A customer the sales app knows nothing of has no pipeline, not an unknown one.
    make_customer("cust_no_deals")
    assert value_of(finance_api, "cust_no_deals")["financial_health"]["expansion_pipeline"] == 0


def test_payment_status_and_history_feed_the_renewal_probability(finance_api, make_customer):
    customer = make_customer("cust_payer", health_score=70)
    before = value_of(finance_api, "cust_payer")["financial_health"]
    services.payment_create(customer=customer, amount=100, due_date=days(-40))
    after = value_of(finance_api, "cust_payer")["financial_health"]
    assert after["payment_status"] == "overdue" and after["late_payment_share"] == 1.0
    # The prior's payment coefficient is negative: an unpaid invoice lowers the probability.
    assert after["renewal_probability"] < before["renewal_probability"]


def test_value_errors(api, finance_api, make_customer):
    make_customer("cust_12345")
    path = f"{BASE}/value/cust_12345"
    assert_problem(APIClient().get(path), 401)
    assert (
        "finance:read" in assert_problem(api(scopes="customers:read finance:write").get(path), 403)["detail"]
    )
    assert_problem(finance_api.get(f"{BASE}/value/cust_nobody"), 404)
    assert_problem(finance_api.get(f"{BASE}/value/acct_12345"), 404)
    assert_problem(finance_api.post(path, {}, format="json"), 405)
