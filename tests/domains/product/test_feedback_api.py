"""Feedback end to end: the seed's request, the priority score's formula, the description encrypted at rest
(never in events or stored answers), the delivery workflow with its 409s, the ranked list."""

import math

import pytest
from django.db import connection
from rest_framework.test import APIClient

from csintegration.api.models import IdempotencyRecord
from csintegration.events.models import Event
from domains.product import services
from domains.product.models import Feedback, FeedbackTransition
from tests.conftest import openapi_document

from ..customers.test_customer_api import assert_problem
from .conftest import BASE, events_of

pytestmark = pytest.mark.django_db

FEEDBACK = f"{BASE}/feedback"
DESCRIPTION = "Need automated health score triggers"
SEED_FEEDBACK = {
    "customer_id": "cust_12345",
    "feedback": {
        "type": "feature_request",
        "category": "workflow_automation",
        "priority": "high",
        "business_impact": "critical_for_success",
        "description": DESCRIPTION,
    },
    "success_context": {
        "health_impact": "churn_risk_reduction",
        "efficiency_gain": "40% reduction in manual work",
        "customer_value": "proactive_success_intervention",
    },
}


@pytest.fixture
def customer(make_customer):
    return make_customer("cust_12345", arr=150000, health_score=60, segment="enterprise")


def expected_score(priority, impact, arr, health):
    terms = (priority, impact, min(1, math.log10(1 + arr) / math.log10(1 + 1_000_000)), (100 - health) / 100)
    weights = (0.35, 0.25, 0.25, 0.15)
    return round(100 * sum(t * w for t, w in zip(terms, weights, strict=True)) / sum(weights), 1)


def submit(client, body=None, **headers):
    return client.post(FEEDBACK, body or SEED_FEEDBACK, format="json", **headers)


def test_the_seed_request_is_scored_stored_encrypted_and_announced(product_api, customer):
    response = submit(product_api, HTTP_IDEMPOTENCY_KEY="feedback-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["feedback_id"].startswith("fb_")
    assert response["Location"].endswith(f"{FEEDBACK}/{body['feedback_id']}")
    assert body["status"] == "new"
    assert body["allowed_statuses"] == ["under_review", "planned", "declined"]
    # high 0.75, critical_for_success 0.75, ARR 150 000 on the log scale, health risk 0.4
    assert body["priority_score"] == expected_score(0.75, 0.75, 150000, 60) == 72.6
    assert body["priority_breakdown"]["arr"] == 150000 and body["priority_breakdown"]["health_score"] == 60
    assert set(body["priority_breakdown"]["terms"]) == {"priority", "business_impact", "arr", "health_risk"}
    assert body["feedback"] == {
        "type": "feature_request",
        "category": "workflow_automation",
        "priority": "high",
        "business_impact": "critical_for_success",
    }
    assert body["success_context"] == SEED_FEEDBACK["success_context"]
    assert body["submitted_by"] == product_api.integration.client.client_id

    # The description: in clear for an authorised reader, encrypted in its column, nowhere else.
    detail = product_api.get(f"{FEEDBACK}/{body['feedback_id']}").json()
    assert detail["feedback"]["description"] == DESCRIPTION
    with connection.cursor() as cursor:
        cursor.execute("SELECT description FROM product_feedback")
        [(stored,)] = cursor.fetchall()
    assert stored.startswith("enc:v1:") and DESCRIPTION not in stored and "health score" not in stored
    [event] = events_of("feedback_submitted", "cust_12345")
    assert set(event.payload) == {
        "event",
        "customer_id",
        "feedback_id",
        "type",
        "category",
        "priority",
        "business_impact",
        "priority_score",
        "status",
        "timestamp",
    }
    assert event.payload["priority_score"] == 72.6 and event.payload["status"] == "new"
    for stored_event in Event.objects.all():
        assert DESCRIPTION not in str(stored_event.payload)
    record = IdempotencyRecord.objects.get(key="feedback-1")
    assert DESCRIPTION not in str(record.response_body)

    replay = submit(product_api, HTTP_IDEMPOTENCY_KEY="feedback-1")
    assert replay["Idempotent-Replayed"] == "true" and replay.json()["feedback_id"] == body["feedback_id"]
    assert Feedback.objects.count() == 1


def test_the_score_weighs_value_and_risk(product_api, make_customer):
    make_customer("cust_small", arr=5000, health_score=90)
    make_customer("cust_big", arr=900000, health_score=25)
    body = {**SEED_FEEDBACK, "feedback": {**SEED_FEEDBACK["feedback"], "priority": "low"}}
    small = submit(product_api, {**body, "customer_id": "cust_small"}).json()["priority_score"]
    big = submit(product_api, {**body, "customer_id": "cust_big"}).json()["priority_score"]
    assert small == expected_score(0.25, 0.75, 5000, 90)
    assert big == expected_score(0.25, 0.75, 900000, 25)
    assert big > small


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_id": "12345"}, "customer_id"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "type": "wish"}}, "feedback.type"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "priority": "urgent"}}, "feedback.priority"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "business_impact": 3}}, "feedback.business_impact"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "category": "not a label"}}, "feedback.category"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "description": ""}}, "feedback.description"),
        ({"feedback": {**SEED_FEEDBACK["feedback"], "description": "x" * 10001}}, "feedback.description"),
        ({"feedback": "a string"}, "feedback"),
        ({"success_context": {"health_impact": "not a label"}}, "success_context.health_impact"),
    ],
)
def test_invalid_feedback_is_400(product_api, customer, change, field):
    body = assert_problem(submit(product_api, {**SEED_FEEDBACK, **change}), 400, "validation-error")
    assert field in [error["field"] for error in body["errors"]]
    assert not Feedback.objects.exists()


def test_missing_fields_unknown_customer_and_scopes(api, product_api, customer):
    body = assert_problem(submit(product_api, {"customer_id": "cust_12345", "feedback": {}}), 400)
    assert {"feedback.type", "feedback.category", "feedback.description"} <= {
        e["field"] for e in body["errors"]
    }
    assert_problem(submit(product_api, {**SEED_FEEDBACK, "customer_id": "cust_nobody"}), 404, "not-found")
    assert_problem(submit(APIClient()), 401)
    assert "product:write" in assert_problem(submit(api(scopes="product:read")), 403)["detail"]
    assert_problem(product_api.get(f"{FEEDBACK}/fb_nothing"), 404)
    assert_problem(api(scopes="product:write").get(FEEDBACK), 403)


# --- The workflow --------------------------------------------------------------------------------------


@pytest.fixture
def feedback_id(product_api, customer):
    return submit(product_api).json()["feedback_id"]


def patch(client, feedback_id, body):
    return client.patch(f"{FEEDBACK}/{feedback_id}", body, format="json")


def test_the_delivery_workflow_with_its_commitment(product_api, feedback_id):
    client_id = product_api.integration.client.client_id
    assert patch(product_api, feedback_id, {"status": "under_review"}).json()["status"] == "under_review"

    body = assert_problem(patch(product_api, feedback_id, {"status": "planned"}), 400, "validation-error")
    assert body["errors"][0]["field"] == "committed_release"

    planned = patch(product_api, feedback_id, {"status": "planned", "committed_release": "2026.03"}).json()
    assert (planned["status"], planned["committed_release"], planned["committed_by"]) == (
        "planned",
        "2026.03",
        client_id,
    )
    assert planned["allowed_statuses"] == ["under_review", "in_progress", "declined"]
    moved = patch(product_api, feedback_id, {"committed_release": "2026.04"}).json()
    assert (moved["status"], moved["committed_release"]) == ("planned", "2026.04")
    patch(product_api, feedback_id, {"status": "in_progress"})
    delivered = patch(product_api, feedback_id, {"status": "delivered"}).json()
    assert (delivered["status"], delivered["committed_release"], delivered["allowed_statuses"]) == (
        "delivered",
        "2026.04",
        [],
    )

    changes = events_of("feedback_status_changed", "cust_12345")
    assert [(e.payload["from_status"], e.payload["to_status"]) for e in changes] == [
        ("new", "under_review"),
        ("under_review", "planned"),
        ("planned", "in_progress"),
        ("in_progress", "delivered"),
    ]
    assert changes[1].payload["committed_release"] == "2026.03"
    assert changes[1].payload["committed_by"] == client_id
    [commitment] = events_of("feedback_commitment_changed")
    assert (commitment.payload["previous_release"], commitment.payload["committed_release"]) == (
        "2026.03",
        "2026.04",
    )
    history = FeedbackTransition.objects.filter(feedback_id=feedback_id).order_by("at", "id")
    assert [(t.from_status, t.to_status) for t in history] == [
        ("", "new"),
        ("new", "under_review"),
        ("under_review", "planned"),
        ("planned", "planned"),
        ("planned", "in_progress"),
        ("in_progress", "delivered"),
    ]

    refused = assert_problem(
        patch(product_api, feedback_id, {"status": "planned"}), 409, "transition-not-allowed"
    )
    assert refused["current_status"] == "delivered" and refused["allowed_statuses"] == []


def test_illegal_moves_list_the_allowed_statuses(product_api, feedback_id):
    body = assert_problem(
        patch(product_api, feedback_id, {"status": "delivered"}), 409, "transition-not-allowed"
    )
    assert body["allowed_statuses"] == ["under_review", "planned", "declined"]
    assert "under_review, planned, declined" in body["detail"]
    body = assert_problem(patch(product_api, feedback_id, {"committed_release": "2026.03"}), 409)
    assert body["type"].endswith("commitment-not-allowed")
    # The same status again changes nothing and announces nothing.
    assert patch(product_api, feedback_id, {"status": "new"}).status_code == 200
    assert not events_of("feedback_status_changed")


def test_declining_withdraws_the_commitment_and_reopening_is_allowed(product_api, feedback_id):
    patch(product_api, feedback_id, {"status": "planned", "committed_release": "2026.03"})
    declined = patch(product_api, feedback_id, {"status": "declined"}).json()
    assert (declined["committed_release"], declined["committed_by"]) == ("", "")
    assert declined["allowed_statuses"] == ["under_review"]
    assert patch(product_api, feedback_id, {"status": "under_review"}).json()["status"] == "under_review"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"status": "shipped"}, "status"),
        ({"committed_release": "not a label"}, "committed_release"),
    ],
)
def test_invalid_patches_are_400(product_api, feedback_id, body, field):
    response = assert_problem(patch(product_api, feedback_id, body), 400, "validation-error")
    assert [error["field"] for error in response["errors"]] == [field]


def test_patch_needs_product_write_and_an_existing_feedback(api, product_api, feedback_id):
    assert_problem(patch(product_api, "fb_nothing", {"status": "under_review"}), 404)
    assert_problem(
        APIClient().patch(f"{FEEDBACK}/{feedback_id}", {"status": "under_review"}, format="json"), 401
    )
    body = assert_problem(patch(api(scopes="product:read"), feedback_id, {"status": "under_review"}), 403)
    assert "product:write" in body["detail"]
    assert Feedback.objects.get(pk=feedback_id).status == "new"


# --- The ranked list ---------------------------------------------------------------------------------


def test_the_list_filters_and_ranks_the_open_requests(product_api, make_customer):
    make_customer("cust_big", arr=900000, health_score=30)
    make_customer("cust_small", arr=5000, health_score=90)
    ids = {}
    for name, customer_id, priority, category in (
        ("big_high", "cust_big", "high", "reporting"),
        ("small_low", "cust_small", "low", "reporting"),
        ("small_critical", "cust_small", "critical", "mobile"),
        ("big_low", "cust_big", "low", "mobile"),
    ):
        body = {
            "customer_id": customer_id,
            "feedback": {**SEED_FEEDBACK["feedback"], "priority": priority, "category": category},
        }
        ids[name] = submit(product_api, body).json()["feedback_id"]
    patch(product_api, ids["big_high"], {"status": "declined"})

    ranked = product_api.get(FEEDBACK, {"open": "true", "ordering": "-priority_score"}).json()["results"]
    scores = [item["priority_score"] for item in ranked]
    assert scores == sorted(scores, reverse=True) and len(ranked) == 3
    assert ids["big_high"] not in [item["feedback_id"] for item in ranked]
    assert ranked[0]["feedback"]["description"] == DESCRIPTION

    def found(**params):
        return {item["feedback_id"] for item in product_api.get(FEEDBACK, params).json()["results"]}

    assert found(customer_id="cust_small") == {ids["small_low"], ids["small_critical"]}
    assert found(category="mobile") == {ids["small_critical"], ids["big_low"]}
    assert found(status="declined") == {ids["big_high"]}
    assert found(status=["new", "declined"]) == set(ids.values())
    assert found(open="false") == {ids["big_high"]}
    first = product_api.get(FEEDBACK, {"ordering": "priority_score", "page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    rest = product_api.get(first["next"]).json()["results"]
    assert len(rest) == 2
    assert [i["priority_score"] for i in first["results"] + rest] == sorted(
        i["priority_score"] for i in first["results"] + rest
    )

    for params in ({"status": "shipped"}, {"ordering": "description"}, {"open": "yes"}, {"page_size": "0"}):
        assert_problem(product_api.get(FEEDBACK, params), 400)


def test_open_feedback_is_rescored_as_its_customer_changes(product_api, customer, feedback_id):
    from domains.customers import services as customer_services

    before = Feedback.objects.get(pk=feedback_id).priority_score
    customer_services.customer_update(customer=customer, data={"health_score": 10, "arr": 900000})
    assert services.feedback_priorities_refresh() == 1
    after = Feedback.objects.get(pk=feedback_id)
    assert after.priority_score == expected_score(0.75, 0.75, 900000, 10) > before
    assert after.priority_inputs["health_score"] == 10
    assert services.feedback_priorities_refresh() == 0


def test_an_update_names_a_field_as_its_schema_says(product_api, feedback_id):
    body = assert_problem(patch(product_api, feedback_id, {}), 400, "validation-error")
    assert body["errors"][0]["code"] == "empty"
    schema = openapi_document()["components"]["schemas"]["PatchedFeedbackUpdateRequest"]
    assert schema["minProperties"] == 1


def test_a_feature_id_may_be_sent_back_unchanged_not_changed(product_api, make_feature):
    make_feature("feat_analytics")
    url = f"{BASE}/features/feat_analytics"
    same = product_api.patch(url, {"feature_id": "feat_analytics", "name": "Reports"}, format="json")
    assert same.status_code == 200, same.content
    changed = assert_problem(product_api.patch(url, {"feature_id": "feat_other"}, format="json"), 400)
    assert [(e["field"], e["code"]) for e in changed["errors"]] == [("feature_id", "immutable")]
    properties = openapi_document()["components"]["schemas"]["PatchedFeatureRequest"]["properties"]
    assert properties["feature_id"]["readOnly"] is True
