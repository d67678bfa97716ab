"""One path for every change of a health score: a score set through PATCH, PUT, bulk or the admin goes
through the health engine like signals and reported changes do; a reported change older than the latest
score is kept in the history but does not become current."""

from datetime import timedelta

import pytest
from django.utils import timezone

from domains.customers.models import Customer, HealthSnapshot, Scorecard, ScorecardBand, ScorecardMeasure

from .conftest import events_of, signed_post

pytestmark = pytest.mark.django_db

BASE = "/api/v1/cs-integration/customers"
HEALTH_CHANGE = "/api/v1/cs-integration/events/health-change"


@pytest.fixture
def enterprise_bands(db):
    """Enterprise customers are high risk below 90: bands other than the defaults."""
    card = Scorecard.objects.create(name="Enterprise", segment="enterprise")
    ScorecardMeasure.objects.create(scorecard=card, measure="nps", weight=1, min_value=0, max_value=50)
    for bound, level in ((90, "low"), (70, "medium"), (0, "high")):
        ScorecardBand.objects.create(scorecard=card, min_score=bound, risk_level=level)
    return card


def test_a_patched_score_gets_a_snapshot_the_scorecard_band_and_one_event(
    health_api, make_customer, enterprise_bands
):
    make_customer("cust_big", segment="enterprise", health_score=95)
    assert Customer.objects.get(pk="cust_big").risk_level == "low"  # 95 ≥ 90 under its scorecard

    response = health_api.patch(f"{BASE}/cust_big", {"health_score": 80, "risk_level": "low"}, format="json")
    assert response.status_code == 200, response.content
    # 80 is "medium" under the enterprise bands (the defaults would say "low"); the risk sent is ignored.
    assert response.json()["risk_level"] == "medium"
    customer = Customer.objects.get(pk="cust_big")
    assert (customer.health_score, customer.risk_level, customer.health_trend) == (80, "medium", "declining")

    snapshot = HealthSnapshot.objects.filter(customer=customer).first()
    assert (snapshot.source, snapshot.score, snapshot.previous_score) == ("manual", 80, 95)
    assert (snapshot.risk_level, snapshot.scorecard_name) == ("medium", "Enterprise")
    [event] = events_of("health_score_change", "cust_big")
    assert (event.payload["previous_score"], event.payload["new_score"]) == (95, 80)
    assert event.payload["change_reason"] == "manual_update"
    assert snapshot.event_id == event.event_id

    # The same score again changes nothing and publishes nothing.
    health_api.patch(f"{BASE}/cust_big", {"health_score": 80}, format="json")
    assert len(events_of("health_score_change", "cust_big")) == 1


def test_a_put_and_a_bulk_upsert_go_through_the_engine_too(health_api, make_customer, enterprise_bands):
    make_customer("cust_put", segment="enterprise", health_score=95)
    make_customer("cust_bulk", segment="enterprise", health_score=95)
    put = health_api.put(f"{BASE}/cust_put", {"name": "Put", "health_score": 60}, format="json")
    assert put.status_code == 200 and put.json()["risk_level"] == "high"
    # A fall of 35 points is churn risk: the churn rule ran as well.
    assert [e.payload["risk_level"] for e in events_of("churn_risk_detected", "cust_put")] == ["high"]

    bulk = signed_post(
        health_api, f"{BASE}/bulk", {"customers": [{"customer_id": "cust_bulk", "health_score": 75}]}
    )
    assert bulk.status_code == 200, bulk.content
    customer = Customer.objects.get(pk="cust_bulk")
    assert (customer.health_score, customer.risk_level) == (75, "medium")
    [event] = events_of("health_score_change", "cust_bulk")
    assert event.payload["new_score"] == 75
    assert HealthSnapshot.objects.filter(customer=customer, source="manual", score=75).count() == 1


def test_a_new_customer_gets_the_band_of_its_scorecard(health_api, enterprise_bands):
    created = health_api.post(
        BASE, {"name": "Big", "segment": "enterprise", "health_score": 85, "risk_level": "low"}, format="json"
    )
    assert created.status_code == 201 and created.json()["risk_level"] == "medium"
    snapshot = HealthSnapshot.objects.get(customer_id=created.json()["customer_id"])
    assert (snapshot.source, snapshot.risk_level, snapshot.scorecard_name) == (
        "initial",
        "medium",
        "Enterprise",
    )


def test_an_older_reported_change_is_kept_in_the_history_but_not_applied(health_api, make_customer):
    make_customer("cust_late", health_score=80)
    now = timezone.now()
    current = health_api.post(
        HEALTH_CHANGE,
        {
            "customer_id": "cust_late",
            "previous_score": 80,
            "new_score": 70,
            "change_reason": "usage_decline",
            "timestamp": now.isoformat(),
        },
        format="json",
    )
    assert current.status_code == 202 and current.json()["applied"] is True

    late = health_api.post(
        HEALTH_CHANGE,
        {
            "customer_id": "cust_late",
            "previous_score": 80,
            "new_score": 40,
            "change_reason": "late_report",
            "timestamp": (now - timedelta(hours=2)).isoformat(),
        },
        format="json",
    )
    assert late.status_code == 202, late.content
    answer = late.json()
    assert answer["applied"] is False and answer["not_applied_reason"] == "older_than_latest_score"
    assert answer["event_id"] is None and answer["health_score"] == 70 and answer["new_score"] == 40
    customer = Customer.objects.get(pk="cust_late")
    assert customer.health_score == 70
    assert len(events_of("health_score_change", "cust_late")) == 1

    kept = HealthSnapshot.objects.get(pk=answer["snapshot_id"])
    assert (kept.score, kept.applied, kept.change_reason) == (40, False, "late_report")
    assert (
        kept.observed_at < HealthSnapshot.objects.filter(customer=customer, applied=True).first().observed_at
    )
    history = health_api.get(f"{BASE}/cust_late/health").json()["history"]
    # Newest first: the current score, the customer's first one, then the late report at its own time.
    assert [(entry["score"], entry["applied"]) for entry in history] == [(70, True), (80, True), (40, False)]


def test_a_reported_change_sees_a_scorecard_edited_since_the_last_one(health_api, make_customer):
    """The reported change reads the scorecards' version with its history (one statement): an edit between
    two changes decides the second one's risk, though this process had the scorecards cached."""
    make_customer("cust_edit", segment="enterprise", health_score=85)

    def report(previous, new):
        body = {"customer_id": "cust_edit", "previous_score": previous, "new_score": new}
        body["change_reason"] = "usage_change"
        response = health_api.post(HEALTH_CHANGE, body, format="json")
        assert response.status_code == 202, response.content
        return response.json()["risk_level"]

    assert report(85, 80) == "low"  # the default bands
    card = Scorecard.objects.create(name="Strict", segment="enterprise")
    for bound, level in ((95, "low"), (85, "medium"), (0, "high")):
        ScorecardBand.objects.create(scorecard=card, min_score=bound, risk_level=level)
    assert report(80, 81) == "high"
    band = card.bands.get(risk_level="high")
    band.min_score, band.risk_level = 0, "critical"
    band.save()  # a band saved touches its scorecard
    assert report(81, 82) == "critical"
