"""Trigger rules: the pure decision per signal, the recommendations of GET /health/{id}, and automatic
enrolment when CS signals arrive (through the fan-out, and through a real worker within seconds)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from csintegration.events.models import Event
from domains.customers.models import Customer
from domains.marketing import services, triggers
from domains.marketing.models import Campaign, CampaignMember, TriggerRule

from .conftest import BASE, assert_problem, dispatch_pending, events_of

FACTS = triggers.CustomerFacts(
    health_score=60,
    previous_score=75,
    health_trend="stable",
    risk_level="medium",
    lifecycle_stage="onboarding",
    days_in_stage=45,
    adoption_rate=0.2,
    engagement_score=4.5,
    nps_score=60,
    sales_status="expansion_pipeline",
)


def rule(signal, threshold=None):
    return triggers.RuleSpec(None, signal, signal, threshold, "retention", signal)


@pytest.mark.parametrize(
    ("signal", "threshold", "facts", "reason"),
    [
        ("health_declining", None, {}, "health score fell 15 points (75 to 60), at least 10"),
        ("health_declining", 20, {}, None),
        ("health_declining", 20, {"health_trend": "declining"}, "health_trend is declining"),
        ("health_declining", None, {"previous_score": None}, None),
        ("churn_risk", None, {}, None),
        ("churn_risk", None, {"risk_level": "critical"}, "risk_level is critical"),
        (
            "expansion_ready",
            None,
            {},
            "expansion readiness crossed the sales threshold (sales_status expansion_pipeline)",
        ),
        ("expansion_ready", None, {"sales_status": "handed_off"}, None),
        ("onboarding_stalled", None, {}, "in onboarding for 45 days, more than 30"),
        ("onboarding_stalled", 60, {}, None),
        ("onboarding_stalled", None, {"lifecycle_stage": "adoption"}, None),
        ("low_adoption", None, {}, "adoption_rate 0.2 is below 0.3"),
        ("low_adoption", None, {"adoption_rate": None}, None),
        ("low_engagement", None, {}, "engagement_score 4.5 is below 5"),
        ("low_engagement", 4.5, {}, None),
        ("promoter", None, {}, "nps_score 60 is at least 50"),
        ("promoter", 70, {}, None),
        ("churned", None, {}, None),
        ("churned", None, {"lifecycle_stage": "churned"}, "lifecycle_stage is churned"),
        ("churn_risk", None, {"lifecycle_stage": "churned", "risk_level": "high"}, None),
    ],
)
def test_each_signal_decides_from_the_facts(signal, threshold, facts, reason):
    from dataclasses import replace

    assert triggers.evaluate(rule(signal, threshold), replace(FACTS, **facts)) == reason


def test_thresholds_are_checked_per_signal():
    assert triggers.threshold_problem("low_adoption", 0.5) is None
    assert triggers.threshold_problem("low_adoption", 2) == "Use a threshold from 0 to 1 for this signal."
    assert triggers.threshold_problem("churn_risk", 1) == "This signal takes no threshold; leave it blank."
    assert triggers.threshold_problem("churn_risk", None) is None


pytestmark = pytest.mark.django_db
HEALTH = f"{BASE}/health"


def test_health_lists_the_recommendations_of_the_rules(marketing_api, make_customer):
    make_customer("cust_r", health_score=30, engagement_score=3, adoption_rate=0.1, nps_score=-20)
    Customer.objects.filter(pk="cust_r").update(created_at=timezone.now() - timedelta(days=40))
    body = marketing_api.get(f"{HEALTH}/cust_r").json()
    assert {key: body[key] for key in ("customer_id", "health_score", "risk_level", "lifecycle_stage")} == {
        "customer_id": "cust_r",
        "health_score": 30,
        "risk_level": "high",
        "lifecycle_stage": "onboarding",
    }
    recommendations = [
        (r["campaign_type"], r["trigger_type"], r["reason"]) for r in body["campaign_recommendations"]
    ]
    assert recommendations == [
        ("retention", "churn_risk", "risk_level is high"),
        ("onboarding_nurture", "onboarding_stalled", "in onboarding for 40 days, more than 30"),
        ("adoption", "low_adoption", "adoption_rate 0.1 is below 0.3"),
        ("retention", "low_engagement", "engagement_score 3 is below 5"),
    ]
    assert body["campaign_recommendations"][0]["automatic"] is True
    assert body["campaign_recommendations"][0]["open_campaign_id"] is None

    # rules are data: switch one off, change a threshold
    TriggerRule.objects.filter(signal="low_engagement").update(is_active=False)
    TriggerRule.objects.filter(signal="low_adoption").update(threshold=0.05)
    body = marketing_api.get(f"{HEALTH}/cust_r").json()
    assert [r["trigger_type"] for r in body["campaign_recommendations"]] == [
        "churn_risk",
        "onboarding_stalled",
    ]


def test_health_errors(marketing_api, api):
    assert_problem(marketing_api.get(f"{HEALTH}/cust_missing"), 404)
    assert_problem(APIClient().get(f"{HEALTH}/cust_missing"), 401)
    assert (
        "marketing:read"
        in assert_problem(api(scopes="marketing:write").get(f"{HEALTH}/cust_x"), 403)["detail"]
    )


@pytest.fixture
def open_retention(db):
    return services.campaign_create(
        campaign_type="retention", trigger_type="manual", segment_keys=["low_engagement"]
    )


def health_change(api, customer_id, previous, new):
    client = api(scopes="events:write")
    return client.post(
        "/api/v1/cs-integration/events/health-change",
        {
            "customer_id": customer_id,
            "previous_score": previous,
            "new_score": new,
            "change_reason": "decreased_usage",
        },
        format="json",
    )


def test_cs_signals_enrol_once_into_the_open_campaign(api, make_customer, open_retention, marketing_api):
    make_customer("cust_t", health_score=80, engagement_score=8)
    assert health_change(api, "cust_t", 80, 45).status_code == 202
    assert {e.event_type for e in Event.objects.filter(customer_id="cust_t", dispatched_at__isnull=True)} >= {
        "health_score_change",
        "churn_risk_detected",
    }
    dispatch_pending(["health_score_change", "churn_risk_detected"])
    [triggered] = events_of("campaign_triggered", "cust_t")
    assert triggered.payload == {
        "event": "campaign_triggered",
        "customer_id": "cust_t",
        "campaign_id": open_retention.campaign_id,
        "campaign_type": "retention",
        "trigger_type": "churn_risk",
        "reason": "risk_level is high",
        "timestamp": triggered.payload["timestamp"],
    }
    member = CampaignMember.objects.get(campaign=open_retention, customer_id="cust_t")
    assert (member.group, member.source, member.baseline_health_score) == ("treatment", "trigger", 45)
    assert Customer.objects.get(pk="cust_t").marketing_status == "active"  # projected inline
    assert Campaign.objects.get(pk=open_retention.pk).members_count == open_retention.members_count + 1
    # a further signal: already in an open campaign of that type, not enrolled twice
    health_change(api, "cust_t", 45, 30)
    dispatch_pending()
    assert len(events_of("campaign_triggered", "cust_t")) == 1
    body = marketing_api.get(f"{HEALTH}/cust_t").json()
    assert body["campaign_recommendations"][0]["open_campaign_id"] == open_retention.campaign_id


def test_no_open_campaign_or_a_manual_rule_enrols_nobody(api, make_customer):
    make_customer("cust_n", health_score=80)
    health_change(api, "cust_n", 80, 40)
    dispatch_pending()
    assert not events_of("campaign_triggered")
    services.campaign_create(
        campaign_type="retention", trigger_type="manual", segment_keys=["low_engagement"]
    )
    TriggerRule.objects.filter(campaign_type="retention").update(automatic=False)
    health_change(api, "cust_n", 40, 20)
    dispatch_pending()
    assert not events_of("campaign_triggered")


def test_the_public_enrolment_function(make_customer, open_retention):
    make_customer("cust_p", health_score=70)
    enrol = services.campaign_enroll_for_trigger
    assert enrol(customer_id="cust_p", campaign_type="expansion", trigger_type="workflow", reason="x") is None
    first = enrol(customer_id="cust_p", campaign_type="retention", trigger_type="workflow", reason="playbook")
    assert first == open_retention.campaign_id
    assert (
        enrol(customer_id="cust_p", campaign_type="retention", trigger_type="workflow", reason="again")
        is None
    )
    with pytest.raises(Customer.DoesNotExist):
        enrol(customer_id="cust_nobody", campaign_type="retention", trigger_type="workflow", reason="x")
    with pytest.raises(ValueError):
        enrol(customer_id="cust_p", campaign_type="spam", trigger_type="workflow", reason="x")
    # a finished campaign is not open
    services.campaign_complete(campaign=open_retention)
    make_customer("cust_q", health_score=70)
    assert enrol(customer_id="cust_q", campaign_type="retention", trigger_type="workflow", reason="x") is None


def test_a_held_out_customer_is_not_enrolled_and_a_comparison_one_becomes_a_member(make_customer):
    for index in range(4):
        make_customer(f"cust_k{index}", health_score=70, engagement_score=1)
    held = services.campaign_create(
        campaign_type="adoption", trigger_type="manual", segment_keys=["low_engagement"], holdout_share=0.5
    )
    holdout_id = CampaignMember.objects.filter(campaign=held, group="holdout").values_list(
        "customer_id", flat=True
    )[0]
    assert (
        services.campaign_enroll_for_trigger(
            customer_id=holdout_id, campaign_type="adoption", trigger_type="t", reason="r"
        )
        is None
    )
    open_one = services.campaign_create(
        campaign_type="win_back", trigger_type="manual", segment_keys=["low_engagement"]
    )
    make_customer("cust_late", health_score=70, engagement_score=2)
    assert services.campaign_comparisons_track(campaign=open_one) == 1
    joined = services.campaign_enroll_for_trigger(
        customer_id="cust_late", campaign_type="win_back", trigger_type="t", reason="r"
    )
    assert joined == open_one.campaign_id
    member = CampaignMember.objects.get(campaign=open_one, customer_id="cust_late")
    assert (member.group, member.source) == ("treatment", "trigger")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_health_drop_triggers_the_campaign_within_seconds(
    celery_worker, shipped_defaults, api, make_customer
):
    from tests.celery_support import wait_until

    make_customer("cust_w", health_score=85, engagement_score=7)
    with transaction.atomic():
        campaign = services.campaign_create(
            campaign_type="retention", trigger_type="manual", segment_keys=["low_engagement"]
        )
    started = timezone.now()
    assert health_change(api, "cust_w", 85, 40).status_code == 202
    triggered = wait_until(
        lambda: Event.objects.filter(event_type="campaign_triggered", customer_id="cust_w").first()
    )
    assert triggered.payload["campaign_id"] == campaign.campaign_id
    assert (triggered.occurred_at - started).total_seconds() < 10
    assert Customer.objects.get(pk="cust_w").marketing_status == "active"
