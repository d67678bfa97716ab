"""GET /expansion/{customer_id}: the seed's response from stored data, a hand-computed readiness, and the
expansion_ready announcements that follow the customer's inputs (once per crossing, never from a GET)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from csintegration.events.models import Event
from csintegration.events.services import event_dispatch
from domains.customers.models import Customer
from domains.sales.models import ExpansionReadiness

from .conftest import BASE, assert_problem, events_of

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/cs-integration/customers"
PATH = f"{BASE}/expansion/cust_12345"


@pytest.fixture
def acme(make_customer):
    # Readiness 0 milestones: 25*0.8 + 25*0.8 + 15*0.7 + 15*0.4 + 10*0.5 (stable) = 61.5 -> 62
    return make_customer(
        "cust_12345", health_score=80, adoption_rate=0.8, engagement_score=7.0, nps_score=40, arr=120000
    )


def dispatch_pending() -> None:
    """Run the fan-out of what the test published, as the worker would after commit."""
    for event_id in (
        Event.objects.filter(dispatched_at__isnull=True)
        .order_by("occurred_at")
        .values_list("event_id", flat=True)
    ):
        event_dispatch(event_id=event_id)


def reach(client, *milestones: str) -> None:
    for milestone in milestones:
        response = client.post(
            f"{BASE}/milestones", {"customer_id": "cust_12345", "milestone": milestone}, format="json"
        )
        assert response.status_code == 201, response.content


def test_the_seed_shape_from_stored_data(sales_api, acme):
    opportunities = [
        {
            "type": "upsell",
            "product": "premium_features",
            "value_estimate": 50000,
            "probability": 0.75,
            "timeline": "q1_2026",
        },
        {
            "type": "cross_sell",
            "product": "analytics_addon",
            "value_estimate": 100000,
            "probability": 0.2,
            "timeline": "q2_2026",
        },
        {
            "type": "upsell",
            "product": "seats",
            "value_estimate": 9000,
            "probability": 0.5,
            "timeline": "q1_2026",
            "status": "won",
        },
    ]
    for body in opportunities:
        sales_api.post(f"{BASE}/opportunities", {"customer_id": "cust_12345", **body}, format="json")
    reach(sales_api, "achieved_roi_target", "executive_sponsorship", "expansion_requested_by_customer")

    response = sales_api.get(PATH)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "customer_id",
        "expansion_readiness",
        "opportunities",
        "success_evidence",
        "pipeline",
    }
    readiness = body["expansion_readiness"]
    # 61.5 + 10 (three milestones in 180 days, the target) = 71.5 -> 72 (points: see test_scoring.py)
    assert readiness["score"] == 72 and readiness["threshold"] == 70 and readiness["ready"] is True
    assert readiness["readiness_factors"] == [
        "high_product_adoption",
        "strong_health_score",
        "strong_engagement",
    ]
    assert readiness["factor_points"] == {
        "high_product_adoption": 20.14,
        "strong_health_score": 20.14,
        "strong_engagement": 10.57,
    }
    assert readiness["model"] == "Default" and len(readiness["breakdown"]) == 6
    assert round(sum(entry["points"] for entry in readiness["breakdown"]), 2) == 72
    # Open ones only, the most valuable (value * probability) first: 37,500 before 20,000.
    assert [
        (o["product"], o["value_estimate"], o["probability"], o["timeline"]) for o in body["opportunities"]
    ] == [
        ("premium_features", 50000, 0.75, "q1_2026"),
        ("analytics_addon", 100000, 0.2, "q2_2026"),
    ]
    assert body["success_evidence"] == [
        "expansion_requested_by_customer",
        "executive_sponsorship",
        "achieved_roi_target",
    ]
    assert body["pipeline"] == {"open_value": 150000, "weighted_open_value": 57500, "won_value": 9000}


def test_a_healthy_adopting_customer_is_readier_than_a_failing_one(sales_api, make_customer):
    make_customer("cust_healthy", health_score=90, adoption_rate=0.9, engagement_score=9, nps_score=70)
    make_customer("cust_failing", health_score=20, adoption_rate=0.1, engagement_score=1, nps_score=-50)
    healthy = sales_api.get(f"{BASE}/expansion/cust_healthy").json()["expansion_readiness"]
    failing = sales_api.get(f"{BASE}/expansion/cust_failing").json()["expansion_readiness"]
    assert healthy["score"] > failing["score"]
    # 25*0.9 + 25*0.9 + 15*0.9 + 15*0.7 + 5 = 74 ; 25*0.1 + 25*0.2 + 15*0.1 + 0 + 5 = 14
    assert (healthy["score"], failing["score"]) == (74, 14)
    assert failing["readiness_factors"] == [] and failing["ready"] is False


def test_expansion_ready_is_published_once_per_crossing(sales_api, acme):
    reach(sales_api, "achieved_roi_target", "executive_sponsorship")  # 62 -> 65 -> 68: not yet
    assert not events_of("expansion_ready")
    reach(sales_api, "business_review_completed")  # 72: crosses
    [first] = events_of("expansion_ready", "cust_12345")
    assert first.payload == {
        "event": "expansion_ready",
        "customer_id": "cust_12345",
        "opportunity_type": None,
        "value_estimate": None,
        "probability": None,
        "success_factors": ["high_product_adoption", "strong_health_score", "strong_engagement"],
        "opportunity_id": None,
        "product": None,
        "readiness_score": 72,
        "threshold": 70,
        "timestamp": first.payload["timestamp"],
    }
    # The projection: the customer is in the expansion pipeline.
    assert (
        sales_api.get(f"{CUSTOMERS}/cust_12345").json()["integration_status"]["sales"] == "expansion_pipeline"
    )

    # Still above: more inputs, reads and re-evaluations announce nothing.
    for body in (
        {
            "type": "upsell",
            "product": "premium_features",
            "value_estimate": 50000,
            "probability": 0.75,
            "timeline": "q1_2026",
        },
        {
            "type": "cross_sell",
            "product": "analytics_addon",
            "value_estimate": 100000,
            "probability": 0.2,
            "timeline": "q2_2026",
        },
    ):
        sales_api.post(f"{BASE}/opportunities", {"customer_id": "cust_12345", **body}, format="json")
    for _ in range(3):
        assert sales_api.get(PATH).json()["expansion_readiness"]["ready"] is True
    assert len(events_of("expansion_ready")) == 1

    # The health falls (through the customer API and the health engine): below the threshold, re-armed.
    assert sales_api.patch(f"{CUSTOMERS}/cust_12345", {"health_score": 50}, format="json").status_code == 200
    dispatch_pending()
    state = ExpansionReadiness.objects.get(pk="cust_12345")
    assert state.score < 70 and state.above_threshold is False
    assert len(events_of("expansion_ready")) == 1

    # It rises again: a second crossing, a second announcement, with the best open opportunity.
    sales_api.patch(f"{CUSTOMERS}/cust_12345", {"health_score": 95}, format="json")
    dispatch_pending()
    dispatch_pending()
    first_again, second = events_of("expansion_ready", "cust_12345")
    assert first_again.event_id == first.event_id
    assert {
        key: second.payload[key] for key in ("opportunity_type", "value_estimate", "probability", "product")
    } == {
        "opportunity_type": "upsell",
        "value_estimate": 50000,
        "probability": 0.75,
        "product": "premium_features",
    }
    state.refresh_from_db()
    assert state.crossings == 2 and state.last_event_id == second.event_id and state.above_threshold


def test_reading_publishes_and_stores_nothing(sales_api, make_customer):
    make_customer("cust_ready", health_score=100, adoption_rate=1, engagement_score=10, nps_score=100)
    body = sales_api.get(f"{BASE}/expansion/cust_ready").json()
    assert body["expansion_readiness"]["ready"] is True
    assert not events_of("expansion_ready") and not ExpansionReadiness.objects.exists()


def test_unrelated_customer_changes_do_not_evaluate(sales_api, acme):
    sales_api.patch(f"{CUSTOMERS}/cust_12345", {"name": "Acme Renamed"}, format="json")
    dispatch_pending()
    assert not ExpansionReadiness.objects.exists()
    sales_api.patch(f"{CUSTOMERS}/cust_12345", {"success_metrics": {"nps_score": 100}}, format="json")
    dispatch_pending()
    # 61.5 + 15*0.6 = 70.5 -> 71: the NPS change alone crossed the threshold.
    assert ExpansionReadiness.objects.get().score == 71
    assert len(events_of("expansion_ready")) == 1


def test_errors(api, sales_api):
    assert_problem(sales_api.get(f"{BASE}/expansion/cust_nobody"), 404)
    assert_problem(sales_api.get(f"{BASE}/expansion/not-an-id"), 404)
    assert_problem(APIClient().get(PATH), 401)
    assert "sales:read" in assert_problem(api(scopes="sales:write").get(PATH), 403)["detail"]
    assert_problem(sales_api.post(PATH, {}, format="json"), 405)
    assert Customer.objects.count() == 0


def test_the_answers_cost_does_not_grow_with_the_customers_data(sales_api, acme):
    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert sales_api.get(PATH).status_code == 200
        return len(queries)

    reach(sales_api, "achieved_roi_target")
    cost()  # warm: the token and the readiness model are cached after a first call
    small = cost()
    reach(sales_api, "executive_sponsorship", "business_review_completed", "reference_provided")
    for index in range(8):
        body = {
            "type": "upsell",
            "product": f"p{index}",
            "value_estimate": 1000,
            "probability": 0.5,
            "timeline": "q1_2026",
        }
        sales_api.post(f"{BASE}/opportunities", {"customer_id": "cust_12345", **body}, format="json")
    assert cost() == small
