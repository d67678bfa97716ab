"""The demo data: journeys the state machine allows, campaigns over 90 days whose figures are computed
from their rows, and idempotence."""

import itertools

import pytest

from domains.customers.demo import seed_demo_customers
from domains.marketing.demo import seed_demo_marketing
from domains.marketing.models import JOURNEY_TRANSITIONS, Campaign, CampaignMember, Journey, JourneyEntry

pytestmark = pytest.mark.django_db


def test_the_demo_is_alive_consistent_and_idempotent(settings):
    seed_demo_customers(customers=300)
    summary = seed_demo_marketing(customers=300)
    assert summary.startswith("300 journeys")
    assert Journey.objects.count() == 300
    for journey in Journey.objects.select_related("customer"):
        assert journey.stage == journey.customer.lifecycle_stage
    for customer_id in Journey.objects.values_list("pk", flat=True)[:300]:
        stays = list(JourneyEntry.objects.filter(customer_id=customer_id).order_by("entered_at"))
        for before, after in itertools.pairwise(stays):
            assert after.stage in JOURNEY_TRANSITIONS[before.stage]
            assert before.left_at == after.entered_at
        assert stays[-1].left_at is None

    campaigns = list(Campaign.objects.order_by("created_at"))
    assert len(campaigns) == 9
    assert {c.status for c in campaigns} == {"active", "completed", "cancelled"}
    for campaign in campaigns:
        assert campaign.audience_size > 0
        assert (
            campaign.audience_size
            == CampaignMember.objects.filter(campaign=campaign, source="audience").count()
        )
        if campaign.status == "completed":
            assert campaign.measured_impact["comparison"] == "holdout"
            assert (
                campaign.measured_impact["members"]["size"] == campaign.audience_size - campaign.holdout_count
            )
    # the fourth retention campaign's estimate learnt from the three finished before it
    retention = [c for c in campaigns if c.campaign_type == "retention"]
    assert [c.estimated_impact["basis"] for c in retention] == ["prior", "prior", "prior", "history"]
    assert retention[-1].estimated_impact["campaigns_measured"] == 3
    assert CampaignMember.objects.filter(source="trigger").exists()

    again = seed_demo_marketing(customers=300)
    assert again.startswith("0 journeys") and "0 campaigns added" in again
    assert Campaign.objects.count() == 9
