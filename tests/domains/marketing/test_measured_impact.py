"""Measured impact (a difference in differences against the holdout or later segment entrants) and the
estimate of new campaigns, against hand-computed fixtures."""

from datetime import UTC, datetime

import pytest

from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.marketing import impact, selectors, services
from domains.marketing.models import Campaign, CampaignMember

from .conftest import BASE

CAMPAIGNS = f"{BASE}/campaigns"
MOMENT = datetime(2026, 1, 15, tzinfo=UTC)


# --- Pure ------------------------------------------------------------------------------------------------


def test_ranges_and_quartiles():
    assert impact.format_range(15, 20) == "15-20%"
    assert impact.format_range(24.6, 25.4) == "25%"
    assert impact.format_range(-5.2, 3) == "-5 to 3%"
    assert impact.interquartile_range([10, 20, 40]) == (15, 30)
    assert impact.interquartile_range([7]) == (7, 7)
    with pytest.raises(ValueError):
        impact.interquartile_range([])


def test_estimate_is_the_prior_until_there_is_history():
    prior = impact.estimate(campaign_type="expansion", history=[(5, 10)], min_history=3)
    assert (prior.basis, prior.retention, prior.engagement, prior.campaigns_measured) == (
        "prior",
        (2.0, 5.0),
        (10.0, 15.0),
        1,
    )
    history = impact.estimate(campaign_type="expansion", history=[(10, 5), (20, 25), (40, 30)], min_history=3)
    assert history.as_dict() == {
        "retention_improvement": "15-30%",
        "engagement_lift": "15-28%",
        "basis": "history",
        "campaigns_measured": 3,
        "retention_improvement_range": [15.0, 30.0],
        "engagement_lift_range": [15.0, 27.5],
    }


def test_measure_without_a_comparison_group_has_no_difference():
    members = impact.GroupStats(size=2, active_at_start=2, retained=2, health_change=3.0)
    measured = impact.measure(
        members=members, comparison_group=impact.GroupStats(), comparison="non_members", measured_at=MOMENT
    )
    assert measured.comparison is None
    assert measured.retention_difference is None and measured.health_difference is None
    assert measured.as_dict()["retention_improvement"] is None


# --- Against stored data -----------------------------------------------------------------------------------

# (customer, group, then health, engagement and stage at enrolment, then the same now)
FIXTURE = [
    ("cust_m1", "treatment", 40, 4.0, "adoption", 60, 6.0, "adoption"),
    ("cust_m2", "treatment", 50, 5.0, "adoption", 55, 5.0, "churned"),
    ("cust_m3", "treatment", 30, None, "at_risk", 45, 7.0, "renewal"),
    ("cust_m4", "treatment", 60, 3.0, "churned", 60, 6.0, "churned"),
    ("cust_h1", "holdout", 40, 4.0, "adoption", 35, 3.0, "adoption"),
    ("cust_h2", "holdout", 50, 6.0, "adoption", 40, 6.0, "churned"),
    ("cust_h3", "holdout", 45, 5.0, "renewal", 45, 4.0, "renewal"),
    ("cust_h4", "holdout", 55, 2.0, "onboarding", 50, None, "churned"),
]


@pytest.fixture
def measured_campaign(db, make_customer):
    campaign = Campaign.objects.create(
        name="Fixture",
        campaign_type="retention",
        trigger_type="health_decline",
        holdout_share=0.5,
        estimated_impact=impact.estimate(campaign_type="retention", history=[], min_history=3).as_dict(),
    )
    for customer_id, group, health, engagement, stage, now_health, now_engagement, now_stage in FIXTURE:
        make_customer(
            customer_id, health_score=now_health, engagement_score=now_engagement, lifecycle_stage=now_stage
        )
        CampaignMember.objects.create(
            campaign=campaign,
            customer_id=customer_id,
            group=group,
            baseline_health_score=health,
            baseline_engagement_score=engagement,
            baseline_lifecycle_stage=stage,
        )
    Campaign.objects.filter(pk=campaign.pk).update(members_count=4, holdout_count=4, audience_size=8)
    return Campaign.objects.get(pk=campaign.pk)


def test_measured_impact_against_a_hand_computed_holdout(measured_campaign):
    measured = selectors.campaign_live_impact(campaign=measured_campaign, now=MOMENT)
    members, holdout = measured.members, measured.comparison_group
    # members: 3 of 4 active at the start (m4 had churned), 2 of them retained
    assert (members.size, members.active_at_start, members.retained) == (4, 3, 2)
    assert members.health_change == pytest.approx((20 + 5 + 15 + 0) / 4)
    # engagement over m1, m2, m4 (m3 had none at enrolment)
    assert members.engagement_size == 3
    assert members.engagement_change == pytest.approx((2 + 0 + 3) / 3)
    assert members.baseline_engagement == pytest.approx((4 + 5 + 3) / 3)
    assert (holdout.size, holdout.active_at_start, holdout.retained) == (4, 4, 2)
    assert holdout.health_change == pytest.approx((-5 - 10 + 0 - 5) / 4)
    assert holdout.engagement_change == pytest.approx((-1 + 0 - 1) / 3)

    assert measured.comparison == "holdout"
    assert measured.retention_difference == pytest.approx(100 * ((2 / 3 - 1) - (2 / 4 - 1)))  # 16.67
    assert measured.health_difference == pytest.approx(10 - (-5))
    assert measured.engagement_difference == pytest.approx(5 / 3 + 2 / 3)
    assert measured.engagement_lift == pytest.approx(100 * (7 / 3) / 4)  # 58.3 %
    body = measured.as_dict()
    assert body["retention_improvement"] == "17%" and body["engagement_lift"] == "58%"
    assert body["difference_in_differences"] == {
        "retention_points": 16.67,
        "health_score_points": 15.0,
        "engagement_points": 2.333,
    }


def test_the_api_shows_it_and_completion_freezes_it(marketing_api, measured_campaign):
    path = f"{CAMPAIGNS}/{measured_campaign.campaign_id}"
    body = marketing_api.get(path).json()["measured_impact"]
    assert body["comparison"] == "holdout"
    assert body["members"]["retention_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert body["comparison_group"]["retention_rate"] == 0.5
    assert body["difference_in_differences"]["health_score_points"] == 15.0
    completed = marketing_api.patch(path, {"status": "completed"}, format="json").json()
    assert completed["measured_impact"]["retention_improvement"] == "17%"
    stored = Campaign.objects.get(pk=measured_campaign.pk).measured_impact
    assert impact.history_point(stored) == (16.67, 58.33)


def test_without_a_holdout_later_entrants_of_the_segments_are_the_comparison(
    marketing_api, make_customer, settings
):
    settings.MARKETING_ESTIMATE_MIN_HISTORY = 1
    make_customer("cust_in1", health_score=40, engagement_score=4)
    make_customer("cust_in2", health_score=30, engagement_score=2)
    make_customer("cust_out", health_score=90, engagement_score=9)
    campaign = marketing_api.post(
        CAMPAIGNS,
        {
            "trigger_type": "churn_risk",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": ["at_risk"]},
        },
        format="json",
    ).json()
    assert campaign["target_audience"]["size"] == 2
    record = Campaign.objects.get(pk=campaign["campaign_id"])

    # cust_out falls into the segment after the campaign was created; the periodic job records it
    # as the comparison group, with its snapshot then.
    customer_services.customer_update(customer=Customer.objects.get(pk="cust_out"), data={"health_score": 45})
    make_customer("cust_new", health_score=20, engagement_score=5)
    assert services.campaign_comparisons_track(campaign=record) == 2
    assert services.campaign_comparisons_track(campaign=record) == 0  # once
    comparison = CampaignMember.objects.filter(campaign=record, group="comparison").order_by("customer_id")
    assert [(m.customer_id, m.baseline_health_score, m.source) for m in comparison] == [
        ("cust_new", 20, "segment_entry"),
        ("cust_out", 45, "segment_entry"),
    ]

    def move(customer_id, **data):
        customer_services.customer_update(customer=Customer.objects.get(pk=customer_id), data=data)

    move("cust_in1", health_score=50, engagement_score=6)  # +10, +2
    move("cust_in2", health_score=36, engagement_score=2, lifecycle_stage="churned")  # +6, 0, lost
    move("cust_out", health_score=40, engagement_score=8)  # -5, -1
    move("cust_new", health_score=25, engagement_score=5)  # +5, 0
    body = marketing_api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["measured_impact"]
    assert body["comparison"] == "non_members"
    assert body["members"]["size"] == 2 and body["comparison_group"]["size"] == 2
    assert body["difference_in_differences"] == {
        "retention_points": -50.0,  # members 1/2 retained, comparison 2/2
        "health_score_points": 8.0,  # (10 + 6) / 2 - (-5 + 5) / 2
        "engagement_points": 1.5,  # (2 + 0) / 2 - (-1 + 0) / 2
    }
    assert body["engagement_lift"] == "50%"  # 1.5 over the members' baseline mean of 3

    # Completed, it is the history of the next campaign of its type.
    marketing_api.patch(f"{CAMPAIGNS}/{campaign['campaign_id']}", {"status": "completed"}, format="json")
    next_one = marketing_api.post(
        CAMPAIGNS,
        {
            "trigger_type": "churn_risk",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": ["at_risk"]},
        },
        format="json",
    ).json()
    assert next_one["estimated_impact"]["basis"] == "history"
    assert next_one["estimated_impact"]["campaigns_measured"] == 1
    assert next_one["estimated_impact"]["retention_improvement"] == "-50%"
    assert next_one["estimated_impact"]["engagement_lift_range"] == [50.0, 50.0]


def test_a_holdout_campaign_takes_no_comparison_group(marketing_api, make_customer):
    for index in range(4):
        make_customer(f"cust_x{index}", health_score=20)
    campaign = marketing_api.post(
        CAMPAIGNS,
        {
            "trigger_type": "churn_risk",
            "campaign_type": "retention",
            "target_audience": {"customer_segments": ["at_risk"]},
            "holdout_share": 0.5,
        },
        format="json",
    ).json()
    make_customer("cust_late", health_score=10)
    assert services.campaigns_comparisons_track() == 0
    body = marketing_api.get(f"{CAMPAIGNS}/{campaign['campaign_id']}").json()["measured_impact"]
    assert body["comparison"] == "holdout" and body["comparison_group"]["size"] == 2
