"""Opportunities: create, list with filters, read, change and close through the state machine, and every
error path."""

import pytest
from rest_framework.test import APIClient

from domains.sales.models import Opportunity
from domains.sales.periods import PERIOD_PATTERN
from tests.conftest import openapi_document, query_parameter_schema

from .conftest import BASE, assert_problem, error_fields, events_of

pytestmark = pytest.mark.django_db

OPPORTUNITIES = f"{BASE}/opportunities"
SEED_OPPORTUNITY = {
    "customer_id": "cust_12345",
    "type": "upsell",
    "product": "premium_features",
    "value_estimate": 50000,
    "probability": 0.75,
    "timeline": "q1_2026",
}


@pytest.fixture
def acme(make_customer):
    return make_customer("cust_12345")


def test_create_and_read_an_opportunity(sales_api, acme):
    created = sales_api.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["opportunity_id"].startswith("opp_")
    assert created["Location"].endswith(f"{OPPORTUNITIES}/{body['opportunity_id']}")
    assert {key: body[key] for key in SEED_OPPORTUNITY} == SEED_OPPORTUNITY
    assert body["status"] == "open" and body["closed_at"] is None
    assert sales_api.get(f"{OPPORTUNITIES}/{body['opportunity_id']}").json() == body
    [event] = events_of("opportunity_created", "cust_12345")
    assert (
        event.payload["opportunity_id"] == body["opportunity_id"] and event.payload["value_estimate"] == 50000
    )
    stored = Opportunity.objects.get()
    assert (str(stored.timeline_start), str(stored.timeline_end)) == ("2026-01-01", "2026-03-31")


def test_the_timeline_is_normalised(sales_api, acme):
    body = dict(SEED_OPPORTUNITY, timeline="2026-Q2")
    assert sales_api.post(OPPORTUNITIES, body, format="json").json()["timeline"] == "q2_2026"
    monthly = dict(SEED_OPPORTUNITY, timeline="2026_03")
    assert sales_api.post(OPPORTUNITIES, monthly, format="json").json()["timeline"] == "2026-03"


def test_closing_an_opportunity(sales_api, acme):
    opportunity_id = sales_api.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json").json()["opportunity_id"]
    path = f"{OPPORTUNITIES}/{opportunity_id}"
    changed = sales_api.patch(path, {"probability": 0.9, "timeline": "2026-02"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["probability"] == 0.9 and changed.json()["timeline"] == "2026-02"
    won = sales_api.patch(path, {"status": "won", "value_estimate": 48000}, format="json")
    assert won.status_code == 200
    assert won.json()["status"] == "won" and won.json()["closed_at"] and won.json()["value_estimate"] == 48000
    [event] = events_of("opportunity_won", "cust_12345")
    assert event.payload["value_estimate"] == 48000 and event.payload["status"] == "won"

    # Closed: nothing changes any more; the same status again changes nothing and is fine.
    body = assert_problem(
        sales_api.patch(path, {"status": "open"}, format="json"), 409, "transition-not-allowed"
    )
    assert body["allowed_statuses"] == []
    assert_problem(sales_api.patch(path, {"status": "lost"}, format="json"), 409, "transition-not-allowed")
    body = assert_problem(
        sales_api.patch(path, {"product": "other"}, format="json"), 409, "opportunity-closed"
    )
    assert body["allowed_statuses"] == []
    assert sales_api.patch(path, {"status": "won"}, format="json").status_code == 200
    assert Opportunity.objects.get().product == "premium_features"
    assert not events_of("opportunity_lost")


def test_an_open_opportunity_may_be_lost_and_not_reopened(sales_api, acme):
    opportunity_id = sales_api.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json").json()["opportunity_id"]
    path = f"{OPPORTUNITIES}/{opportunity_id}"
    assert sales_api.patch(path, {"status": "lost"}, format="json").json()["status"] == "lost"
    assert len(events_of("opportunity_lost", "cust_12345")) == 1
    assert_problem(sales_api.patch(path, {"status": "open"}, format="json"), 409)


def test_an_opportunity_recorded_closed(sales_api, acme):
    body = sales_api.post(OPPORTUNITIES, dict(SEED_OPPORTUNITY, status="won"), format="json").json()
    assert body["status"] == "won" and body["closed_at"]
    assert len(events_of("opportunity_created")) == 1 and len(events_of("opportunity_won")) == 1


def test_the_list_filters(sales_api, acme, make_customer):
    make_customer("cust_other")
    for body in (
        SEED_OPPORTUNITY,
        dict(SEED_OPPORTUNITY, type="cross_sell", timeline="2026-02"),
        dict(SEED_OPPORTUNITY, timeline="q2_2026", status="lost"),
        dict(SEED_OPPORTUNITY, customer_id="cust_other"),
    ):
        assert sales_api.post(OPPORTUNITIES, body, format="json").status_code == 201

    def ids(query: str) -> int:
        response = sales_api.get(f"{OPPORTUNITIES}?{query}")
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert ids("") == 4
    assert ids("customer_id=cust_12345") == 3
    assert ids("customer_id=cust_12345&status=open") == 2
    assert ids("status=open&status=lost") == 4
    assert ids("type=cross_sell") == 1
    assert ids("period=q1_2026") == 3  # the quarter holds its month's opportunity
    assert ids("period=2026-02") == 1
    assert ids("ordering=-value_estimate&page_size=1") == 1
    page = sales_api.get(f"{OPPORTUNITIES}?page_size=2").json()
    assert page["next"] and len(page["results"]) == 2


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "type=resale",
        "period=q9_2026",
        "customer_id=nope",
        "status=",
        "ordering=product",
        "page_size=0",
    ],
)
def test_a_bad_filter_is_a_400(sales_api, query):
    assert_problem(sales_api.get(f"{OPPORTUNITIES}?{query}"), 400)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"customer_id": "cust_nobody"}, {"customer_id"}),
        ({"customer_id": "12345"}, {"customer_id"}),
        ({"type": "resale"}, {"type"}),
        ({"probability": 1.5}, {"probability"}),
        ({"probability": "0.5"}, {"probability"}),
        ({"probability": 1.00005}, {"probability"}),
        ({"value_estimate": 1e12}, {"value_estimate"}),
        ({"value_estimate": -5}, {"value_estimate"}),
        ({"value_estimate": True}, {"value_estimate"}),
        ({"timeline": "next year"}, {"timeline"}),
        ({"status": "pending"}, {"status"}),
        ({"product": ""}, {"product"}),
    ],
)
def test_invalid_opportunities_are_400s(sales_api, acme, change, fields):
    assert (
        error_fields(sales_api.post(OPPORTUNITIES, dict(SEED_OPPORTUNITY, **change), format="json")) == fields
    )
    assert not Opportunity.objects.exists()


def test_patch_errors(sales_api, acme, make_customer):
    make_customer("cust_other")
    opportunity_id = sales_api.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json").json()["opportunity_id"]
    path = f"{OPPORTUNITIES}/{opportunity_id}"
    assert error_fields(sales_api.patch(path, {"customer_id": "cust_other"}, format="json")) == {
        "customer_id"
    }
    assert error_fields(sales_api.patch(path, {"probability": -0.1}, format="json")) == {"probability"}
    assert_problem(sales_api.patch(f"{OPPORTUNITIES}/opp_missing", {"status": "won"}, format="json"), 404)
    assert_problem(sales_api.get(f"{OPPORTUNITIES}/opp_missing"), 404)
    assert_problem(sales_api.put(path, SEED_OPPORTUNITY, format="json"), 405)
    assert_problem(sales_api.patch(path, data="{", content_type="application/json"), 400, "malformed-request")
    assert_problem(sales_api.patch(path, data="status=won", content_type="text/plain"), 415)


def test_tokens_and_scopes(api, acme):
    assert_problem(APIClient().get(OPPORTUNITIES), 401)
    reader = api(scopes="sales:read")
    assert reader.get(OPPORTUNITIES).status_code == 200
    assert (
        "sales:write"
        in assert_problem(reader.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json"), 403)["detail"]
    )
    assert_problem(api(scopes="customers:read").get(OPPORTUNITIES), 403)


def test_periods_are_read_as_the_schema_states_them(sales_api, acme):
    document = openapi_document()
    timeline = document["components"]["schemas"]["OpportunityRequest"]["properties"]["timeline"]
    assert timeline["pattern"] == PERIOD_PATTERN
    listing = document["paths"][OPPORTUNITIES]["get"]
    assert query_parameter_schema(listing, "period")["pattern"] == PERIOD_PATTERN
    assert query_parameter_schema(listing, "customer_id")["pattern"] == "^cust_[A-Za-z0-9_-]{1,59}$"
    # As sent: a blank around the period is not in the pattern, so not taken.
    for timeline in (" q1_2026", "q1_2026 ", "q1_1999", "2101-01", "2026-13"):
        refused = sales_api.post(OPPORTUNITIES, dict(SEED_OPPORTUNITY, timeline=timeline), format="json")
        assert_problem(refused, 400)
        assert error_fields(refused) == {"timeline"}
    assert_problem(sales_api.get(OPPORTUNITIES, {"period": " 2026-02"}), 400)
    assert sales_api.get(OPPORTUNITIES, {"period": "Q1-2100"}).status_code == 200


def test_an_opportunity_stays_with_its_customer(sales_api, acme):
    created = sales_api.post(OPPORTUNITIES, SEED_OPPORTUNITY, format="json").json()
    url = f"{OPPORTUNITIES}/{created['opportunity_id']}"
    same = sales_api.patch(url, {"customer_id": created["customer_id"], "product": "More"}, format="json")
    assert same.status_code == 200, same.content
    moved = sales_api.patch(url, {"customer_id": "cust_other"}, format="json")
    assert_problem(moved, 400)
    assert error_fields(moved) == {"customer_id"}
    patched = openapi_document()["components"]["schemas"]["PatchedOpportunityRequest"]
    assert patched["properties"]["customer_id"]["readOnly"] is True


def test_numbers_are_rounded_to_their_places_within_the_range_the_schema_states(sales_api, acme):
    # As every amount of the platform (csintegration.api.fields.StrictDecimalField): JSON Schema cannot
    # say "4 decimals" of a binary float, so the schema states the range and extra digits are rounded.
    body = dict(SEED_OPPORTUNITY, probability=0.123456, value_estimate=123.456)
    created = sales_api.post(OPPORTUNITIES, body, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["probability"], created.json()["value_estimate"]) == (0.1235, 123.46)
    properties = openapi_document()["components"]["schemas"]["OpportunityRequest"]["properties"]
    assert (properties["probability"]["minimum"], properties["probability"]["maximum"]) == (0.0, 1.0)
    assert properties["value_estimate"]["maximum"] == 999999999999.99
