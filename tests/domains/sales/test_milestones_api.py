"""Milestones: recorded once per kind, they achieve success-plan goals and count towards readiness."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from domains.sales.models import Milestone, SuccessGoal, SuccessPlan

from .conftest import BASE, SEED_HANDOFF, assert_problem, error_fields, events_of, signed_post

pytestmark = pytest.mark.django_db

MILESTONES = f"{BASE}/milestones"


@pytest.fixture
def acme(make_customer):
    return make_customer("cust_12345")


def test_record_a_milestone(sales_api, acme):
    response = sales_api.post(
        MILESTONES,
        {"customer_id": "cust_12345", "milestone": "achieved_roi_target", "note": "QBR"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["milestone_id"].startswith("ms_") and body["achieved_at"].endswith("Z")
    assert body["recorded_by"] == sales_api.integration.client.client_id
    assert sales_api.get(f"{MILESTONES}/{body['milestone_id']}").json() == body
    [event] = events_of("milestone_achieved", "cust_12345")
    assert event.payload["milestone"] == "achieved_roi_target" and event.payload["goals_achieved"] == []


def test_a_milestone_achieves_the_matching_goals(sales_api, acme):
    signed_post(sales_api, f"{BASE}/handoff/cust_12345", SEED_HANDOFF)
    for milestone in ("achieved_roi_target", "executive_sponsorship"):
        sales_api.post(MILESTONES, {"customer_id": "cust_12345", "milestone": milestone}, format="json")
    goals = dict(SuccessGoal.objects.values_list("criterion", "status"))
    assert goals == {"adoption_target": "open", "roi_target": "achieved"}
    assert events_of("milestone_achieved")[0].payload["goals_achieved"] == ["roi_target"]
    handoff = sales_api.get(f"{BASE}/handoff/cust_12345").json()
    roi = next(goal for goal in handoff["success_plan"]["goals"] if goal["criterion"] == "roi_target")
    assert roi["status"] == "achieved" and roi["milestone_id"].startswith("ms_")
    assert SuccessPlan.objects.get().status == "active"  # tasks and a goal are still open


def test_each_kind_is_reached_once(sales_api, acme):
    body = {"customer_id": "cust_12345", "milestone": "executive_sponsorship"}
    assert sales_api.post(MILESTONES, body, format="json").status_code == 201
    assert_problem(sales_api.post(MILESTONES, body, format="json"), 409, "milestone-exists")
    assert Milestone.objects.count() == 1 and len(events_of("milestone_achieved")) == 1


def test_the_list_filters(sales_api, acme, make_customer):
    make_customer("cust_other")
    earlier = (timezone.now() - timedelta(days=40)).isoformat()
    sales_api.post(
        MILESTONES,
        {"customer_id": "cust_12345", "milestone": "onboarding_completed", "achieved_at": earlier},
        format="json",
    )
    sales_api.post(
        MILESTONES, {"customer_id": "cust_12345", "milestone": "achieved_roi_target"}, format="json"
    )
    sales_api.post(
        MILESTONES, {"customer_id": "cust_other", "milestone": "achieved_roi_target"}, format="json"
    )

    def count(query: str) -> int:
        response = sales_api.get(f"{MILESTONES}?{query}")
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert count("") == 3
    assert count("customer_id=cust_12345") == 2
    assert count("milestone=achieved_roi_target") == 2
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert count(f"achieved_after={since}") == 2
    assert count(f"achieved_before={since}") == 1
    for bad in ("milestone=won_lottery", "achieved_after=yesterday", "customer_id=x", "ordering=note"):
        assert_problem(sales_api.get(f"{MILESTONES}?{bad}"), 400)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"customer_id": "cust_nobody", "milestone": "achieved_roi_target"}, {"customer_id"}),
        ({"customer_id": "cust_12345", "milestone": "won_lottery"}, {"milestone"}),
        ({"customer_id": "cust_12345"}, {"milestone"}),
        ({"milestone": "achieved_roi_target"}, {"customer_id"}),
        (
            {
                "customer_id": "cust_12345",
                "milestone": "achieved_roi_target",
                "achieved_at": "2999-01-01T00:00:00Z",
            },
            {"achieved_at"},
        ),
        ({"customer_id": "cust_12345", "milestone": "achieved_roi_target", "note": "x" * 501}, {"note"}),
    ],
)
def test_invalid_milestones_are_400s(sales_api, acme, body, fields):
    assert error_fields(sales_api.post(MILESTONES, body, format="json")) == fields
    assert not Milestone.objects.exists()


def test_errors_of_reads_and_scopes(api, sales_api):
    assert_problem(sales_api.get(f"{MILESTONES}/ms_missing"), 404)
    assert_problem(APIClient().get(MILESTONES), 401)
    reader = api(scopes="sales:read")
    body = {"customer_id": "cust_12345", "milestone": "achieved_roi_target"}
    assert "sales:write" in assert_problem(reader.post(MILESTONES, body, format="json"), 403)["detail"]
    assert_problem(sales_api.post(MILESTONES, data="milestone", content_type="text/plain"), 415)
