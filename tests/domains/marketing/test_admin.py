"""The back-office: segments with an audience preview before saving, campaigns with their measured impact,
trigger rules, the journey moved by staff, and the marketing panel of the customer's page."""

import pytest

from domains.customers.models import Customer
from domains.marketing import services
from domains.marketing.models import Campaign, CampaignMember, JourneyEntry, Segment, TriggerRule

pytestmark = pytest.mark.django_db
ADMIN = "/admin/marketing"


@pytest.fixture
def customers(make_customer):
    make_customer("cust_a1", name="Acme Low", health_score=20, engagement_score=2, arr=90000)
    make_customer("cust_a2", name="Globex Mid", health_score=45, engagement_score=6, arr=50000)
    make_customer("cust_a3", name="Initech Fine", health_score=90, engagement_score=9, arr=10000)


def segment_form(**overrides):
    form = {
        "key": "enterprise_weak",
        "name": "Weak",
        "description": "",
        "filters": '{"health_score_max": 50}',
    }
    form.update(overrides)
    return form


def test_segments_list_with_their_live_size(staff_client, customers):
    page = staff_client.get(f"{ADMIN}/segment/").content.decode()
    assert "at_risk" in page and "low_engagement" in page
    assert "(risk_level in (high, critical)) or (lifecycle_stage in (at_risk))" in page


def test_a_segment_is_previewed_before_it_is_saved(staff_client, customers):
    preview = staff_client.post(f"{ADMIN}/segment/add/", {**segment_form(), "_preview": "Preview audience"})
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Audience preview (not saved)" in page
    assert "<strong>2</strong> customers match health_score ≤ 50" in page
    assert page.index("Acme Low") < page.index("Globex Mid")  # by ARR
    assert "Initech Fine" not in page
    assert not Segment.objects.filter(key="enterprise_weak").exists()

    saved = staff_client.post(f"{ADMIN}/segment/add/", segment_form())
    assert saved.status_code == 302, saved.content.decode()[:3000]
    segment = Segment.objects.get(key="enterprise_weak")
    assert segment.filters == {"health_score_max": 50}
    change = staff_client.get(f"{ADMIN}/segment/{segment.pk}/change/").content.decode()
    assert "2 customers now" in change


def test_invalid_filters_are_refused_in_the_admin(staff_client):
    response = staff_client.post(f"{ADMIN}/segment/add/", segment_form(filters='{"arr_min": 3}'))
    assert response.status_code == 200
    assert "filters.arr_min: Unknown filter" in response.content.decode()
    assert not Segment.objects.filter(key="enterprise_weak").exists()


def test_builtin_segments_are_not_deleted(staff_client):
    at_risk = Segment.objects.get(key="at_risk")
    assert staff_client.post(f"{ADMIN}/segment/{at_risk.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Segment.objects.filter(key="at_risk").exists()


def test_a_campaign_is_created_and_measured_in_the_admin(staff_client, customers):
    response = staff_client.post(
        f"{ADMIN}/campaign/add/",
        {
            "name": "Admin retention",
            "campaign_type": "retention",
            "trigger_type": "health_decline",
            "segments": ["at_risk", "low_engagement"],
            "holdout_share": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Admin retention")
    assert campaign.audience_size == 2 and campaign.created_by == "staff:operator"
    assert CampaignMember.objects.filter(campaign=campaign).count() == 2
    page = staff_client.get(f"{ADMIN}/campaign/{campaign.pk}/change/").content.decode()
    assert "Measured" in page and "difference in differences" in page
    assert "retention 15-20%, engagement 25% (prior)" in page

    done = staff_client.post(
        f"{ADMIN}/campaign/", {"action": "complete_campaigns", "_selected_action": [campaign.pk]}
    )
    assert done.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "completed" and campaign.measured_impact is not None


def test_a_rule_threshold_is_checked(staff_client):
    rule = TriggerRule.objects.get(signal="low_adoption")
    form = {
        "name": rule.name,
        "signal": "low_adoption",
        "threshold": "3",
        "campaign_type": "adoption",
        "trigger_type": "low_adoption",
        "priority": "50",
        "is_active": "on",
    }
    refused = staff_client.post(f"{ADMIN}/triggerrule/{rule.pk}/change/", form)
    assert refused.status_code == 200 and "Use a threshold from 0 to 1" in refused.content.decode()
    saved = staff_client.post(f"{ADMIN}/triggerrule/{rule.pk}/change/", {**form, "threshold": "0.4"})
    assert saved.status_code == 302
    assert TriggerRule.objects.get(pk=rule.pk).threshold == 0.4


def test_staff_move_a_journey_and_the_customer_page_shows_marketing(staff_client, customers):
    services.campaign_create(
        campaign_type="retention", trigger_type="health_decline", segment_keys=["at_risk"]
    )
    move = f"{ADMIN}/journey/move/cust_a1/"
    form = staff_client.get(move).content.decode()
    assert "The journey allows: adoption, at_risk, churned" in form
    refused = staff_client.post(move, {"stage": "renewal", "reason": ""})
    assert (
        refused.status_code == 200 and "does not move from onboarding to renewal" in refused.content.decode()
    )
    moved = staff_client.post(move, {"stage": "at_risk", "reason": "champion left"})
    assert moved.status_code == 302
    assert Customer.objects.get(pk="cust_a1").lifecycle_stage == "at_risk"
    entry = JourneyEntry.objects.filter(customer_id="cust_a1").order_by("-entered_at").first()
    assert (entry.changed_by, entry.reason) == ("staff:operator", "champion left")

    page = staff_client.get("/admin/customers/customer/cust_a1/change/").content.decode()
    assert "Marketing: journey and campaigns" in page
    assert "Journey: <strong>at_risk</strong>" in page and "champion left" in page
    assert "Retention campaign" in page  # its membership
    assert "risk_level is critical" in page  # a recommendation
