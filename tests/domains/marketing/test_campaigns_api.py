"""Campaigns end to end with real tokens: the seed's example, audiences resolved from segments, members
enrolled with snapshots and made active through events, holdouts, estimates, and every error path."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.marketing.models import Campaign, CampaignMember
from tests.conftest import openapi_document

from .conftest import BASE, assert_problem, dispatch_pending, error_fields, events_of

pytestmark = pytest.mark.django_db
CAMPAIGNS = f"{BASE}/campaigns"

# The seed's example, as it is (its response, which carries the request's fields).
SEED_CAMPAIGN = {
    "campaign_id": "camp_67890",
    "trigger_type": "health_decline",
    "campaign_type": "retention",
    "target_audience": {"customer_segments": ["at_risk", "low_engagement"], "size": 1250},
    "estimated_impact": {"retention_improvement": "15-20%", "engagement_lift": "25%"},
}


@pytest.fixture
def audience(make_customer):
    """at_risk: a, b, c; low_engagement: a, c, d; union a b c d; e and f in neither."""
    make_customer("cust_a", health_score=20, engagement_score=3, adoption_rate=0.2)
    make_customer("cust_b", health_score=40, engagement_score=8, adoption_rate=0.5)
    make_customer("cust_c", health_score=80, engagement_score=4, lifecycle_stage="at_risk")
    make_customer("cust_d", health_score=85, engagement_score=1)
    make_customer("cust_e", health_score=90, engagement_score=9)
    make_customer("cust_f", health_score=70)


def test_the_seed_example_creates_a_campaign_of_the_real_audience(marketing_api, audience):
    response = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["campaign_id"].startswith("camp_") and body["campaign_id"] != "camp_67890"
    assert response["Location"].endswith(f"{CAMPAIGNS}/{body['campaign_id']}")
    assert body["trigger_type"] == "health_decline" and body["campaign_type"] == "retention"
    assert body["target_audience"] == {"customer_segments": ["at_risk", "low_engagement"], "size": 4}
    assert body["members"] == 4 and body["holdout_size"] == 0 and body["status"] == "active"
    assert body["estimated_impact"] == {
        "retention_improvement": "15-20%",
        "engagement_lift": "25%",
        "basis": "prior",
        "campaigns_measured": 0,
        "retention_improvement_range": [15.0, 20.0],
        "engagement_lift_range": [25.0, 25.0],
    }

    members = CampaignMember.objects.filter(campaign_id=body["campaign_id"]).order_by("customer_id")
    assert [
        (m.customer_id, m.group, m.baseline_health_score, m.baseline_engagement_score) for m in members
    ] == [
        ("cust_a", "treatment", 20, 3.0),
        ("cust_b", "treatment", 40, 8.0),
        ("cust_c", "treatment", 80, 4.0),
        ("cust_d", "treatment", 85, 1.0),
    ]
    assert members[0].baseline_adoption_rate == 0.2 and members[2].baseline_lifecycle_stage == "at_risk"

    # The members' marketing status is active when the request has committed (the projection of
    # campaign_members_enrolled runs in the same transaction); the others are untouched.
    statuses = dict(Customer.objects.values_list("customer_id", "marketing_status"))
    assert statuses == {
        "cust_a": "active",
        "cust_b": "active",
        "cust_c": "active",
        "cust_d": "active",
        "cust_e": "not_enrolled",
        "cust_f": "not_enrolled",
    }
    [enrolled] = events_of("campaign_members_enrolled")
    assert enrolled.customer_id is None
    assert enrolled.payload["customer_ids"] == ["cust_a", "cust_b", "cust_c", "cust_d"]
    assert enrolled.payload["campaign_id"] == body["campaign_id"]
    [created] = events_of("campaign_created")
    assert created.payload["audience_size"] == 4 and created.payload["members"] == 4


def test_the_marketing_status_shows_in_the_customer_api(api, audience):
    client = api(scopes="marketing:write customers:read")
    assert client.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").status_code == 201
    record = client.get("/api/v1/cs-integration/customers/cust_a").json()
    assert record["integration_status"]["marketing"] == "active"
    assert client.get("/api/v1/cs-integration/customers/cust_e").json()["integration_status"][
        "marketing"
    ] == ("not_enrolled")


def test_size_is_the_real_count_and_moves_with_the_customers(marketing_api, audience):
    first = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()
    customer_services.customer_create(customer_id="cust_g", data={"name": "G", "health_score": 10})
    second = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()
    assert first["target_audience"]["size"] == 4
    assert second["target_audience"]["size"] == 5
    # a campaign keeps the audience it was created with
    assert marketing_api.get(f"{CAMPAIGNS}/{first['campaign_id']}").json()["target_audience"]["size"] == 4
    only_risk = marketing_api.post(
        CAMPAIGNS, {**SEED_CAMPAIGN, "target_audience": {"customer_segments": ["at_risk"]}}, format="json"
    ).json()
    assert only_risk["target_audience"]["size"] == 4  # a, b, c, g


def test_a_large_audience_is_enrolled_in_chunks_and_projected_by_the_fan_out(
    marketing_api, make_customer, settings
):
    settings.MARKETING_ENROLMENT_EVENT_CHUNK = 2
    for index in range(25):
        make_customer(f"cust_many{index:02d}", health_score=10)
    body = marketing_api.post(
        CAMPAIGNS,
        {
            "trigger_type": "churn_risk",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": ["at_risk"]},
        },
        format="json",
    ).json()
    assert body["target_audience"]["size"] == 25 and body["members"] == 25
    chunks = events_of("campaign_members_enrolled")
    assert sorted(len(event.payload["customer_ids"]) for event in chunks) == [1] + [2] * 12
    assert sorted(i for event in chunks for i in event.payload["customer_ids"]) == [
        f"cust_many{index:02d}" for index in range(25)
    ]
    # More events than a request projects inline: the fan-out does it.
    assert Customer.objects.filter(marketing_status="active").count() == 0
    dispatch_pending(["campaign_members_enrolled"])
    assert Customer.objects.filter(marketing_status="active").count() == 25


def test_a_holdout_is_enrolled_with_a_snapshot_but_not_treated(marketing_api, make_customer):
    for index in range(10):
        make_customer(f"cust_h{index}", health_score=10 + index)
    body = marketing_api.post(
        CAMPAIGNS,
        {
            "name": "Holdout test",
            "trigger_type": "churn_risk",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": ["at_risk"]},
            "holdout_share": 0.3,
        },
        format="json",
    ).json()
    assert body["target_audience"]["size"] == 10
    assert body["holdout_size"] == 3 and body["members"] == 7 and body["holdout_share"] == 0.3
    held = set(
        CampaignMember.objects.filter(campaign_id=body["campaign_id"], group="holdout").values_list(
            "customer_id", flat=True
        )
    )
    assert len(held) == 3
    [enrolled] = events_of("campaign_members_enrolled")
    assert held.isdisjoint(enrolled.payload["customer_ids"]) and len(enrolled.payload["customer_ids"]) == 7
    assert set(Customer.objects.filter(marketing_status="active").values_list("pk", flat=True)).isdisjoint(
        held
    )


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (
            {"target_audience": {"customer_segments": ["at_risk", "nobody_has_this"]}},
            {"target_audience.customer_segments"},
        ),
        ({"target_audience": {"customer_segments": []}}, {"target_audience.customer_segments"}),
        ({"target_audience": {"customer_segments": ["Not A Key"]}}, {"target_audience.customer_segments.0"}),
        ({"target_audience": None}, {"target_audience"}),
        ({"campaign_type": "spam"}, {"campaign_type"}),
        ({"trigger_type": "health decline!"}, {"trigger_type"}),
        ({"holdout_share": 0.9}, {"holdout_share"}),
        ({"holdout_share": "0.1"}, {"holdout_share"}),
        ({"ends_at": "2020-01-01T00:00:00Z"}, {"ends_at"}),
    ],
)
def test_invalid_campaigns_are_400_with_dotted_fields(marketing_api, audience, change, fields):
    response = marketing_api.post(CAMPAIGNS, {**SEED_CAMPAIGN, **change}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert error_fields(response) == fields
    if "nobody_has_this" in str(change):
        assert "nobody_has_this" in body["detail"]
    assert not Campaign.objects.exists() and not CampaignMember.objects.exists()
    assert not events_of("campaign_created")


def test_guards_and_not_found(marketing_api, api):
    assert_problem(APIClient().post(CAMPAIGNS, SEED_CAMPAIGN, format="json"), 401)
    reader = api(scopes="marketing:read")
    assert (
        "marketing:write"
        in assert_problem(reader.post(CAMPAIGNS, SEED_CAMPAIGN, format="json"), 403)["detail"]
    )
    assert_problem(api(scopes="marketing:write").get(CAMPAIGNS), 403)
    assert_problem(marketing_api.get(f"{CAMPAIGNS}/camp_missing"), 404)
    assert_problem(marketing_api.patch(f"{CAMPAIGNS}/camp_missing", {"name": "x"}, format="json"), 404)
    assert_problem(marketing_api.post(CAMPAIGNS, data="[", content_type="application/json"), 400)


def test_list_filters_and_detail(marketing_api, audience):
    retention = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()
    expansion = marketing_api.post(
        CAMPAIGNS,
        {**SEED_CAMPAIGN, "campaign_type": "expansion", "trigger_type": "expansion_readiness"},
        format="json",
    ).json()
    listed = marketing_api.get(CAMPAIGNS).json()["results"]
    assert [c["campaign_id"] for c in listed] == [expansion["campaign_id"], retention["campaign_id"]]
    assert "measured_impact" not in listed[0]
    only = marketing_api.get(CAMPAIGNS, {"campaign_type": "retention"}).json()["results"]
    assert [c["campaign_id"] for c in only] == [retention["campaign_id"]]
    assert (
        marketing_api.get(CAMPAIGNS, {"trigger_type": "expansion_readiness"}).json()["results"][0][
            "campaign_id"
        ]
        == expansion["campaign_id"]
    )
    assert_problem(marketing_api.get(CAMPAIGNS, {"status": "sleeping"}), 400)
    detail = marketing_api.get(f"{CAMPAIGNS}/{retention['campaign_id']}").json()
    assert detail["segment_filters"]["low_engagement"] == {"engagement_score_below": 5}
    assert detail["measured_impact"]["members"]["size"] == 4
    assert detail["measured_impact"]["comparison"] is None  # nobody entered the segments since


def test_patch_renames_and_finishes_through_the_state_machine(marketing_api, audience):
    campaign = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()
    path = f"{CAMPAIGNS}/{campaign['campaign_id']}"
    ends_at = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    renamed = marketing_api.patch(path, {"name": "Renamed", "ends_at": ends_at.isoformat()}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert renamed.json()["ends_at"] == ends_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    completed = marketing_api.patch(path, {"status": "completed"}, format="json")
    assert completed.status_code == 200, completed.content
    frozen = completed.json()["measured_impact"]
    assert completed.json()["status"] == "completed" and completed.json()["completed_at"]
    [finished] = events_of("campaign_completed")
    assert (
        finished.payload["status"] == "completed"
        and finished.payload["campaign_id"] == campaign["campaign_id"]
    )

    # frozen: a later change of the members does not move a completed campaign's measured impact
    customer_services.customer_update(customer=Customer.objects.get(pk="cust_a"), data={"health_score": 90})
    assert marketing_api.get(path).json()["measured_impact"] == frozen

    again = marketing_api.patch(path, {"status": "cancelled"}, format="json")
    body = assert_problem(again, 409, "campaign-status-not-allowed")
    assert body["allowed_statuses"] == [] and "completed" in body["detail"]
    assert_problem(marketing_api.patch(path, {"status": "active"}, format="json"), 409)
    assert_problem(marketing_api.patch(path, {"status": "sleeping"}, format="json"), 400)


def test_a_campaign_past_its_end_completes_by_itself(marketing_api, audience):
    from domains.marketing.tasks import complete_due_campaigns

    campaign = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()
    Campaign.objects.filter(pk=campaign["campaign_id"]).update(ends_at=timezone.now() - timedelta(minutes=1))
    assert complete_due_campaigns() == [campaign["campaign_id"]]
    assert Campaign.objects.get(pk=campaign["campaign_id"]).status == "completed"
    assert complete_due_campaigns() == []


def test_a_retried_post_with_its_idempotency_key_enrols_once(marketing_api, audience):
    first = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json", HTTP_IDEMPOTENCY_KEY="camp-retry-1")
    again = marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json", HTTP_IDEMPOTENCY_KEY="camp-retry-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["campaign_id"] == first.json()["campaign_id"]
    assert Campaign.objects.count() == 1 and CampaignMember.objects.count() == 4
    assert len(events_of("campaign_members_enrolled")) == 1


def test_the_end_of_a_campaign_says_it_lies_after_now():
    schemas = openapi_document()["components"]["schemas"]
    for name in ("CampaignCreateRequest", "PatchedCampaignUpdateRequest"):
        assert schemas[name]["properties"]["ends_at"]["x-relative-to-now"] == {"earliest_seconds": 0}


def test_enrolling_a_group_that_can_hold_no_one_inserts_nothing(marketing_api, audience):
    # A queryset Django knows to be empty (``none()``, ``pk__in=[]``) has no SQL: it was a 500.
    from django.utils import timezone

    from domains.customers.models import Customer
    from domains.marketing import services
    from domains.marketing.models import Campaign

    campaign = Campaign.objects.get(
        pk=marketing_api.post(CAMPAIGNS, SEED_CAMPAIGN, format="json").json()["campaign_id"]
    )
    for nobody in (Customer.objects.none(), Customer.objects.filter(pk__in=[])):
        assert (
            services._insert_members(
                campaign=campaign, customers=nobody, group="holdout", source="segment", now=timezone.now()
            )
            == []
        )
