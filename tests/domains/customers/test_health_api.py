"""The health endpoints end to end with real tokens: health-change events, signals, the health view."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from domains.customers.models import (
    Customer,
    CustomerSignal,
    HealthSnapshot,
    Scorecard,
    ScorecardBand,
    ScorecardMeasure,
)

from .conftest import events_of, signed_post
from .test_customer_api import assert_problem

pytestmark = pytest.mark.django_db

HEALTH_CHANGE = "/api/v1/cs-integration/events/health-change"
SIGNALS_BULK = "/api/v1/cs-integration/customers/signals/bulk"
SEED_HEALTH_CHANGE = {
    "customer_id": "cust_12345",
    "previous_score": 80,
    "new_score": 65,
    "change_reason": "decreased_usage",
    "trigger_events": ["login_frequency_drop", "support_ticket_increase"],
    "recommended_actions": ["schedule_check_in", "review_feature_adoption", "assess_training_needs"],
    "timestamp": "2025-12-05T08:20:00Z",
}
SEED_SIGNALS = {
    "adoption_rate": 0.6,
    "login_frequency": 12,
    "engagement": 8,
    "nps": 40,
    "payment_status": "current",
    "support_tickets": 3,
}


def signals_url(customer_id: str) -> str:
    return f"/api/v1/cs-integration/customers/{customer_id}/signals"


def health_url(customer_id: str) -> str:
    return f"/api/v1/cs-integration/customers/{customer_id}/health"


def now_iso(offset: timedelta = timedelta()) -> str:
    return (timezone.now() + offset).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- POST /events/health-change -------------------------------------------------------------------------


def test_health_change_is_accepted_recorded_and_published(health_api, make_customer):
    make_customer(health_score=80)
    body = {**SEED_HEALTH_CHANGE, "timestamp": now_iso()}
    response = health_api.post(HEALTH_CHANGE, body, format="json")

    assert response.status_code == 202, response.content
    answer = response.json()
    assert answer["event_id"].startswith("evt_")
    assert answer["customer_id"] == "cust_12345"
    assert answer["previous_score"] == 80 and answer["stored_previous_score"] == 80
    assert answer["previous_score_matched"] is True and answer["previous_score_difference"] == 0
    assert (answer["new_score"], answer["health_score"]) == (65, 65)
    assert answer["risk_level"] == "medium" and answer["previous_risk_level"] == "low"
    assert answer["health_trend"] == "declining"  # from the initial 80 to 65

    customer = Customer.objects.get(pk="cust_12345")
    assert (customer.health_score, customer.risk_level, customer.health_trend) == (65, "medium", "declining")
    snapshot = HealthSnapshot.objects.get(pk=answer["snapshot_id"])
    assert (snapshot.source, snapshot.score, snapshot.previous_score) == ("health_change_event", 65, 80)
    assert snapshot.event_id == answer["event_id"]
    assert snapshot.trigger_events == SEED_HEALTH_CHANGE["trigger_events"]

    [event] = events_of("health_score_change", "cust_12345")
    assert event.event_id == answer["event_id"]
    assert set(event.payload) == {
        "event",
        "customer_id",
        "previous_score",
        "new_score",
        "change_reason",
        "trigger_events",
        "timestamp",
    }
    assert event.payload["event"] == "health_score_change"
    assert (event.payload["previous_score"], event.payload["new_score"]) == (80, 65)
    assert event.payload["change_reason"] == "decreased_usage"
    assert event.payload["timestamp"].endswith("Z")

    # The seed's fall of 15 points is a churn risk: one alert with the reported signs and actions.
    assert answer["churn_risk_detected"] is True
    [churn] = events_of("churn_risk_detected", "cust_12345")
    assert churn.event_id == answer["churn_event_id"]
    assert set(churn.payload) == {
        "event",
        "customer_id",
        "risk_level",
        "risk_indicators",
        "recommended_actions",
        "timestamp",
    }
    assert churn.payload["risk_level"] == "medium"
    assert churn.payload["risk_indicators"][:2] == SEED_HEALTH_CHANGE["trigger_events"]
    assert "health_score_drop" in churn.payload["risk_indicators"]
    assert churn.payload["recommended_actions"] == SEED_HEALTH_CHANGE["recommended_actions"]


def test_health_change_reports_a_stale_previous_score(health_api, make_customer):
    make_customer(health_score=72)
    response = health_api.post(HEALTH_CHANGE, {**SEED_HEALTH_CHANGE, "timestamp": now_iso()}, format="json")
    assert response.status_code == 202
    answer = response.json()
    assert answer["previous_score"] == 80 and answer["stored_previous_score"] == 72
    assert answer["previous_score_matched"] is False and answer["previous_score_difference"] == 8
    assert answer["churn_risk_detected"] is False  # 72 → 65 is no drop rule breach, and still medium
    [event] = events_of("health_score_change")
    assert event.payload["previous_score"] == 72  # webhooks carry the stored truth


def test_churn_is_published_once_per_episode(health_api, make_customer):
    make_customer(health_score=70)

    def report(previous, new):
        body = {**SEED_HEALTH_CHANGE, "previous_score": previous, "new_score": new, "timestamp": now_iso()}
        response = health_api.post(HEALTH_CHANGE, body, format="json")
        assert response.status_code == 202, response.content
        return response.json()

    assert report(70, 60)["churn_risk_detected"] is False
    crossing = report(60, 45)  # medium → high
    assert crossing["churn_risk_detected"] is True and crossing["risk_level"] == "high"
    assert report(45, 40)["churn_risk_detected"] is False  # still high: the same episode
    assert report(40, 44)["churn_risk_detected"] is False
    assert report(44, 28)["churn_risk_detected"] is True  # a new fall of 17 since the alert
    churns = events_of("churn_risk_detected", "cust_12345")
    assert len(churns) == 2
    assert "risk_level_high" in churns[0].payload["risk_indicators"]
    assert "health_score_drop" in churns[1].payload["risk_indicators"]
    assert len(events_of("health_score_change", "cust_12345")) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"new_score": 101}, "new_score"),
        ({"previous_score": -1}, "previous_score"),
        ({"new_score": "high"}, "new_score"),
        ({"customer_id": "12345"}, "customer_id"),
        ({"change_reason": ""}, "change_reason"),
        ({"trigger_events": ["login_frequency_drop", "not a label!"]}, "trigger_events.1"),
        ({"recommended_actions": "schedule_check_in"}, "recommended_actions"),
        ({"timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_health_change_invalid_bodies_are_400(health_api, make_customer, change, field):
    make_customer(health_score=80)
    response = health_api.post(HEALTH_CHANGE, {**SEED_HEALTH_CHANGE, **change}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert field in [error["field"] for error in body["errors"]], body
    assert not events_of("health_score_change")


def test_health_change_missing_fields_and_future_time_are_400(health_api, make_customer):
    make_customer(health_score=80)
    body = assert_problem(health_api.post(HEALTH_CHANGE, {"customer_id": "cust_12345"}, format="json"), 400)
    assert {"previous_score", "new_score", "change_reason"} <= {error["field"] for error in body["errors"]}
    future = {**SEED_HEALTH_CHANGE, "timestamp": now_iso(timedelta(hours=1))}
    body = assert_problem(health_api.post(HEALTH_CHANGE, future, format="json"), 400)
    assert body["errors"][0] == {
        "field": "timestamp",
        "code": "future",
        "message": "This time is in the future.",
    }


def test_health_change_unknown_customer_is_404(health_api):
    body = assert_problem(health_api.post(HEALTH_CHANGE, SEED_HEALTH_CHANGE, format="json"), 404, "not-found")
    assert "cust_12345" in body["detail"]


def test_health_change_needs_a_token_with_events_write(api, make_customer):
    make_customer(health_score=80)
    response = APIClient().post(HEALTH_CHANGE, SEED_HEALTH_CHANGE, format="json")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = assert_problem(api().post(HEALTH_CHANGE, SEED_HEALTH_CHANGE, format="json"), 403)
    assert "events:write" in body["detail"]
    assert Customer.objects.get(pk="cust_12345").health_score == 80


# --- POST /customers/{id}/signals -----------------------------------------------------------------------


def test_signals_recompute_the_score_at_once(health_api, make_customer):
    make_customer(health_score=50)
    response = health_api.post(signals_url("cust_12345"), {"signals": SEED_SIGNALS}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["health_score"] == 71 and body["previous_score"] == 50 and body["score_changed"] is True
    assert body["risk_level"] == "medium" and body["source"] == "signals"
    assert body["scorecard"]["name"] == "Default" and body["scorecard"]["is_default"] is True
    assert round(sum(entry["contribution"] for entry in body["breakdown"]), 2) == 71
    assert body["signals"]["login_frequency"]["value"] == 12
    assert body["signals"]["payment_status"]["value"] == 1.0
    assert body["stale_signals"] == [] and body["history"] == []

    customer = Customer.objects.get(pk="cust_12345")
    assert customer.health_score == 71
    assert (customer.adoption_rate, customer.engagement_score, customer.nps_score) == (0.6, 8, 40)
    assert CustomerSignal.objects.filter(customer=customer).count() == 6
    [event] = events_of("health_score_change", "cust_12345")
    assert event.payload["previous_score"] == 50 and event.payload["new_score"] == 71
    assert event.payload["change_reason"] == "signals_updated"

    # Fewer logins and more tickets: the score falls, and the change names why.
    response = health_api.post(
        signals_url("cust_12345"), {"signals": {"login_frequency": 4, "support_tickets": 8}}, format="json"
    )
    body = response.json()
    assert body["previous_score"] == 71 and body["health_score"] < 71
    changes = {change["measure"]: change for change in body["changes"]}
    assert (
        changes["login_frequency"]["raw_delta"] == -8 and changes["login_frequency"]["contribution_delta"] < 0
    )
    assert changes["support_tickets"]["previous_raw_value"] == 3
    events = events_of("health_score_change", "cust_12345")
    assert events[-1].payload["trigger_events"][:2] == ["login_frequency_drop", "support_tickets_increase"]


def test_unchanged_signals_publish_nothing(health_api, make_customer):
    make_customer(health_score=50)
    health_api.post(signals_url("cust_12345"), {"signals": SEED_SIGNALS}, format="json")
    response = health_api.post(signals_url("cust_12345"), {"signals": SEED_SIGNALS}, format="json")
    assert response.json()["score_changed"] is False
    assert len(events_of("health_score_change")) == 1
    assert HealthSnapshot.objects.filter(source="signals").count() == 1


def test_an_older_signal_does_not_overwrite_a_newer_one(health_api, make_customer):
    make_customer(health_score=50)
    health_api.post(signals_url("cust_12345"), {"signals": {"login_frequency": 20}}, format="json")
    old = {"signals": {"login_frequency": 2, "nps": 10}, "observed_at": now_iso(-timedelta(days=2))}
    body = health_api.post(signals_url("cust_12345"), old, format="json").json()
    assert body["stale_signals"] == ["login_frequency"]
    assert body["signals"]["login_frequency"]["value"] == 20 and body["signals"]["nps"]["value"] == 10


@pytest.mark.parametrize(
    ("signals", "field"),
    [
        ({"logins": 3}, "signals.logins"),
        ({"adoption_rate": 1.5}, "signals.adoption_rate"),
        ({"support_tickets": -1}, "signals.support_tickets"),
        ({"nps": True}, "signals.nps"),
        ({"login_frequency": "12"}, "signals.login_frequency"),
        ({"payment_status": "late"}, "signals.payment_status"),
        ({}, "signals"),
        ("login_frequency=3", "signals"),
    ],
)
def test_invalid_signals_are_400_with_dotted_fields(health_api, make_customer, signals, field):
    make_customer(health_score=50)
    response = health_api.post(signals_url("cust_12345"), {"signals": signals}, format="json")
    body = assert_problem(response, 400, "validation-error")
    assert field in [error["field"] for error in body["errors"]], body
    assert not CustomerSignal.objects.exists()


def test_signals_errors(api, health_api, make_customer):
    assert_problem(health_api.post(signals_url("cust_nobody"), {"signals": {"nps": 1}}, format="json"), 404)
    make_customer(health_score=50)
    body = assert_problem(api().post(signals_url("cust_12345"), {"signals": {"nps": 1}}, format="json"), 403)
    assert "events:write" in body["detail"]
    assert_problem(APIClient().post(signals_url("cust_12345"), {"signals": {"nps": 1}}, format="json"), 401)


def test_the_scorecard_of_the_segment_applies(health_api, make_customer):
    card = Scorecard.objects.create(name="Enterprise", segment="enterprise")
    ScorecardMeasure.objects.create(scorecard=card, measure="nps", weight=1, min_value=0, max_value=50)
    ScorecardBand.objects.bulk_create(
        [
            ScorecardBand(scorecard=card, min_score=bound, risk_level=level)
            for bound, level in ((90, "low"), (0, "high"))
        ]
    )
    make_customer("cust_big", segment="enterprise", health_score=50)
    make_customer("cust_small", segment="small_business", health_score=50)
    big = health_api.post(signals_url("cust_big"), {"signals": SEED_SIGNALS}, format="json").json()
    small = health_api.post(signals_url("cust_small"), {"signals": SEED_SIGNALS}, format="json").json()
    assert big["scorecard"]["name"] == "Enterprise" and big["scorecard"]["segment"] == "enterprise"
    assert big["health_score"] == 80 and big["risk_level"] == "high"  # NPS 40 of 50; below the 90 band
    assert [entry["measure"] for entry in big["breakdown"]] == ["nps"]
    assert small["scorecard"]["name"] == "Default" and small["health_score"] == 71


# --- GET /customers/{id}/health -------------------------------------------------------------------------


def test_health_shows_breakdown_and_history(health_api, make_customer):
    make_customer(health_score=50)
    health_api.post(signals_url("cust_12345"), {"signals": SEED_SIGNALS}, format="json")
    health_api.post(signals_url("cust_12345"), {"signals": {"login_frequency": 30}}, format="json")
    health_api.post(
        HEALTH_CHANGE, {**SEED_HEALTH_CHANGE, "previous_score": 79, "timestamp": now_iso()}, format="json"
    )

    response = health_api.get(health_url("cust_12345"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["health_score"] == 65 and body["source"] == "health_change_event"
    # The breakdown is the one of the latest computed score, and adds up to it.
    assert body["breakdown_score"] == 79  # logins at the target of 30 add 0.4 * 20 points to 71.17
    assert round(sum(entry["contribution"] for entry in body["breakdown"]), 2) == 79
    assert {entry["measure"] for entry in body["breakdown"]} == set(SEED_SIGNALS)
    assert [change["measure"] for change in body["changes"] if change["raw_delta"]] == ["login_frequency"]
    assert [entry["score"] for entry in body["history"]] == [65, 79, 71, 50]
    assert [entry["source"] for entry in body["history"]] == [
        "health_change_event",
        "signals",
        "signals",
        "initial",
    ]
    assert body["history"][0]["score_delta"] == -14 and body["history"][0]["event_id"].startswith("evt_")
    assert body["history"][-1]["previous_score"] is None

    limited = health_api.get(health_url("cust_12345"), {"history_limit": 2}).json()
    assert [entry["score"] for entry in limited["history"]] == [65, 79]


def test_health_errors(api, health_api, make_customer):
    make_customer(health_score=50)
    for value in ("abc", "-1", "201", "²", "٣", ""):
        body = assert_problem(health_api.get(health_url("cust_12345"), {"history_limit": value}), 400)
        assert body["errors"][0]["field"] == "history_limit"
    assert_problem(health_api.get(health_url("cust_nobody")), 404)
    body = assert_problem(api(scopes="events:write").get(health_url("cust_12345")), 403)
    assert "customers:read" in body["detail"]


# --- POST /customers/signals/bulk -----------------------------------------------------------------------


def test_bulk_signals_are_signed_partial_and_bounded(health_api, make_customer):
    for index in range(120):
        make_customer(f"cust_b{index:03d}", health_score=50)
    items = [{"customer_id": f"cust_b{index:03d}", "signals": SEED_SIGNALS} for index in range(120)]
    items += [
        {"customer_id": "cust_nobody", "signals": {"nps": 10}},
        {"customer_id": "cust_b000", "signals": {"nps": 500}},
    ]
    with CaptureQueriesContext(connection) as queries:
        response = signed_post(health_api, SIGNALS_BULK, {"items": items})
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results[:120]] == ["recorded"] * 120
    assert results[0]["health_score"] == 71 and results[0]["previous_score"] == 50
    assert results[120]["errors"] == [
        {"field": "customer_id", "code": "not_found", "message": "No such customer."}
    ]
    assert results[121]["errors"][0]["field"] == "signals.nps"
    assert Customer.objects.filter(customer_id__startswith="cust_b", health_score=71).count() == 120
    assert len(events_of("health_score_change")) == 120
    assert len(queries) < 60, len(queries)


def test_bulk_signals_need_a_signature(health_api, make_customer):
    make_customer(health_score=50)
    body = {"items": [{"customer_id": "cust_12345", "signals": {"nps": 10}}]}
    response = health_api.post(SIGNALS_BULK, body, format="json")
    assert response.status_code == 401
    assert response.json()["type"].endswith("signature-required")
    assert not CustomerSignal.objects.exists()
    assert signed_post(health_api, SIGNALS_BULK, body).status_code == 200
    assert CustomerSignal.objects.get().value == 10


def test_health_change_writes_in_one_transaction_with_a_savepoint_per_inline_subscriber(
    health_api, make_customer
):
    """The events join the request's transaction; only each inline subscriber gets a savepoint of its
    own (a failing one is rolled back alone), so the request's statements stay few."""
    from csintegration.events.models import Event
    from csintegration.events.registry import subscribers_for

    make_customer("cust_12345", health_score=80)
    before = Event.objects.count()
    body = {**SEED_HEALTH_CHANGE, "timestamp": now_iso()}
    with CaptureQueriesContext(connection) as queries:
        response = health_api.post(HEALTH_CHANGE, body, format="json")
    assert response.status_code == 202, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    # The test's own transaction turns the request's into a savepoint: what is inside it is the request's.
    opening = next(sql for sql in statements if sql.startswith("SAVEPOINT"))
    request = statements[statements.index(opening) + 1 : statements.index(f"RELEASE {opening}")]
    savepoints = [sql for sql in request if sql.startswith("SAVEPOINT")]
    inline = [subscriber for subscriber in subscribers_for("health_score_change") if subscriber.inline]
    events = Event.objects.count() - before
    assert events == 2  # the change and the churn alert it raised
    assert len(savepoints) == len(inline) * events, request
