"""The signed handoff end to end: the seed's request as it is, the success plan and baseline, the customer
record afterwards, every error path, and the encrypted fields kept out of the database's plain text,
events, answers and logs."""

import copy
import datetime
import json
import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from csintegration.api.models import IdempotencyRecord
from domains.sales.models import Handoff, Milestone, SuccessGoal, SuccessPlanTask
from tests.conftest import sign_request_kwargs

from .conftest import BASE, SECRETS, SEED_HANDOFF, assert_problem, error_fields, events_of, signed_post

pytestmark = pytest.mark.django_db

PATH = f"{BASE}/handoff/cust_12345"


@pytest.fixture
def acme(make_customer):
    return make_customer(
        "cust_12345",
        health_score=64,
        arr=150000,
        adoption_rate=0.42,
        engagement_score=5.5,
        nps_score=20,
        lifecycle_stage="adoption",
        success_manager="old.manager@company.com",
    )


def test_the_seed_request_completes_the_handoff(sales_api, acme):
    response = signed_post(sales_api, PATH, SEED_HANDOFF)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["handoff_id"].startswith("hnd_") and body["customer_id"] == "cust_12345"
    assert response["Location"].endswith(PATH)
    plan = body["success_plan"]
    assert plan["onboarding_start"] == "2025-12-05"
    assert plan["success_manager"] == "sarah.smith@company.com"
    assert plan["first_check_in"] == "2025-12-12"
    assert plan["plan_id"].startswith("plan_") and plan["status"] == "active"
    assert [(task["kind"], task["due_date"], task["status"]) for task in plan["tasks"]] == [
        ("onboarding_kickoff", "2025-12-05", "open"),
        ("first_check_in", "2025-12-12", "open"),
        ("success_review", "2026-03-05", "open"),  # 90 days after the start (SALES_SUCCESS_REVIEW_DAYS)
    ]
    assert all(task["assignee"] == "sarah.smith@company.com" for task in plan["tasks"])
    assert [(goal["criterion"], goal["status"]) for goal in plan["goals"]] == [
        ("adoption_target", "open"),
        ("roi_target", "open"),
    ]
    assert body["baseline"] == {
        "health_score": 64,
        "health_trend": "stable",
        "risk_level": "medium",
        "adoption_rate": 0.42,
        "engagement_score": 5.5,
        "nps_score": 20,
        "arr": 150000,
        "captured_at": body["created_at"],
    }
    assert body["deal_value"] == 150000 and body["contract_terms"] == "3_year"
    assert body["stakeholder_count"] == 1 and body["has_sales_notes"] is True
    assert body["handed_off_by"] == sales_api.integration.client.client_id

    # The customer record, read through the customer API, shows what handoff_completed projected.
    customer = sales_api.get("/api/v1/cs-integration/customers/cust_12345").json()
    assert customer["integration_status"]["sales"] == "handed_off"
    assert customer["lifecycle_stage"] == "onboarding"
    assert customer["success_manager"] == "sarah.smith@company.com"

    [event] = events_of("handoff_completed", "cust_12345")
    payload = event.payload
    assert {key: payload[key] for key in ("handoff_id", "deal_value", "contract_terms")} == {
        "handoff_id": body["handoff_id"],
        "deal_value": 150000,
        "contract_terms": "3_year",
    }
    assert payload["success_manager"] == "sarah.smith@company.com"
    assert payload["onboarding_start"] == "2025-12-05" and payload["first_check_in"] == "2025-12-12"
    assert payload["success_criteria"] == ["adoption_target", "roi_target"]
    assert payload["plan_id"] == plan["plan_id"]


def test_the_handoff_reads_back_with_get(sales_api, acme):
    created = signed_post(sales_api, PATH, SEED_HANDOFF).json()
    fetched = sales_api.get(PATH)
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_a_second_handoff_is_a_conflict(sales_api, acme):
    first = signed_post(sales_api, PATH, SEED_HANDOFF).json()
    again = copy.deepcopy(SEED_HANDOFF)
    again["handoff_data"]["deal_value"] = 1
    body = assert_problem(signed_post(sales_api, PATH, again), 409, "handoff-exists")
    assert body["handoff_id"] == first["handoff_id"]
    assert Handoff.objects.count() == 1 and len(events_of("handoff_completed")) == 1


def test_unsigned_or_badly_signed_requests_are_refused(sales_api, acme):
    raw = json.dumps(SEED_HANDOFF).encode()
    unsigned = sales_api.post(PATH, data=raw, content_type="application/json")
    assert_problem(unsigned, 401, "signature-required")
    # A signature made for another customer's path does not open this one.
    headers = sign_request_kwargs(sales_api.integration, "POST", f"{BASE}/handoff/cust_99999", raw)
    assert_problem(
        sales_api.post(PATH, data=raw, content_type="application/json", **headers), 401, "signature-invalid"
    )
    assert not Handoff.objects.exists()


def test_a_token_and_the_sales_write_scope_are_needed(api, acme):
    raw = json.dumps(SEED_HANDOFF).encode()
    assert_problem(APIClient().post(PATH, data=raw, content_type="application/json"), 401)
    reader = api(scopes="sales:read customers:write")
    body = assert_problem(signed_post(reader, PATH, SEED_HANDOFF), 403)
    assert "sales:write" in body["detail"]
    writer_only = api(scopes="sales:write")
    assert_problem(writer_only.get(PATH), 403)


def test_an_unknown_customer_is_a_404(sales_api):
    body = dict(SEED_HANDOFF, customer_id="cust_nobody")
    assert_problem(signed_post(sales_api, f"{BASE}/handoff/cust_nobody", body), 404, "not-found")
    assert_problem(sales_api.get(f"{BASE}/handoff/cust_nobody"), 404)


def test_no_handoff_yet_is_a_404(sales_api, acme):
    assert "not been handed off" in assert_problem(sales_api.get(PATH), 404)["detail"]


def test_the_body_must_name_the_paths_customer(sales_api, acme, make_customer):
    make_customer("cust_other")
    mismatched = dict(SEED_HANDOFF, customer_id="cust_other")
    assert error_fields(signed_post(sales_api, PATH, mismatched)) == {"customer_id"}
    # Without customer_id in the body, the path names the customer.
    body = {key: value for key, value in SEED_HANDOFF.items() if key != "customer_id"}
    assert signed_post(sales_api, PATH, body).status_code == 201


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"handoff_data": {"deal_value": -1}}, {"handoff_data.deal_value"}),
        ({"handoff_data": {"deal_value": "150000"}}, {"handoff_data.deal_value"}),
        ({"handoff_data": {"deal_value": 1e12}}, {"handoff_data.deal_value"}),
        ({"handoff_data": {"contract_terms": "three years!"}}, {"handoff_data.contract_terms"}),
        (
            {"handoff_data": {"key_stakeholders": ["john.doe@company.com", "nope"]}},
            {"handoff_data.key_stakeholders.1"},
        ),
        (
            {"handoff_data": {"success_criteria": ["roi_target", "roi_target"]}},
            {"handoff_data.success_criteria"},
        ),
        ({"success_initiation": {"first_check_in": "2025-12-01"}}, {"success_initiation.first_check_in"}),
        ({"success_initiation": {"onboarding_start": "05/12/2025"}}, {"success_initiation.onboarding_start"}),
        ({"success_initiation": {"success_manager": "sarah"}}, {"success_initiation.success_manager"}),
    ],
)
def test_invalid_fields_are_400s_with_dotted_paths(sales_api, acme, change, fields):
    body = copy.deepcopy(SEED_HANDOFF)
    for section, values in change.items():
        body[section].update(values)
    assert error_fields(signed_post(sales_api, PATH, body)) == fields
    assert not Handoff.objects.exists() and not events_of("handoff_completed")


def test_missing_sections_and_fields_are_named(sales_api, acme):
    assert error_fields(signed_post(sales_api, PATH, {})) == {"handoff_data", "success_initiation"}
    partial = {"handoff_data": {"contract_terms": "1_year"}, "success_initiation": {}}
    assert error_fields(signed_post(sales_api, PATH, partial)) == {
        "handoff_data.deal_value",
        "success_initiation.onboarding_start",
        "success_initiation.success_manager",
        "success_initiation.first_check_in",
    }


def test_malformed_json_and_another_media_type(sales_api, acme):
    assert_problem(signed_post(sales_api, PATH, b'{"handoff_data": '), 400, "malformed-request")
    form = signed_post(sales_api, PATH, b"handoff_data=1", content_type="application/x-www-form-urlencoded")
    assert_problem(form, 415)


def test_nothing_confidential_is_stored_or_sent_in_the_clear(sales_api, acme, caplog):
    caplog.set_level(logging.DEBUG)
    response = signed_post(sales_api, PATH, SEED_HANDOFF, HTTP_IDEMPOTENCY_KEY="handoff-acme-1")
    assert response.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_stakeholders, sales_notes FROM sales_handoff")
        [(stakeholders, notes)] = cursor.fetchall()
    for stored in (stakeholders, notes):
        assert stored.startswith("enc:v1:")
        assert not any(secret in stored for secret in SECRETS)
    handoff = Handoff.objects.get()
    assert handoff.stakeholder_emails == ["john.doe@company.com"]
    assert handoff.sales_notes == "Strong technical champion, budget confirmed"

    visible = [
        response.content.decode(),
        json.dumps([event.payload for event in events_of("handoff_completed")]),
        json.dumps(list(IdempotencyRecord.objects.values_list("response_body", flat=True))),
        caplog.text,
    ]
    for text in visible:
        assert not any(secret in text for secret in SECRETS), text[:500]


def test_an_idempotent_retry_replays_the_first_answer(sales_api, acme):
    first = signed_post(sales_api, PATH, SEED_HANDOFF, HTTP_IDEMPOTENCY_KEY="handoff-acme-2")
    # A retry is signed anew (a signature is accepted once).
    raw = json.dumps(SEED_HANDOFF).encode()
    headers = sign_request_kwargs(
        sales_api.integration,
        "POST",
        PATH,
        raw,
        created=datetime.datetime.now() - datetime.timedelta(seconds=5),
    )
    again = sales_api.post(
        PATH, data=raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="handoff-acme-2", **headers
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Handoff.objects.count() == 1


def test_goals_already_reached_start_achieved(sales_api, acme):
    Milestone.objects.create(customer_id="cust_12345", milestone="achieved_roi_target")
    body = signed_post(sales_api, PATH, SEED_HANDOFF).json()
    goals = {goal["criterion"]: goal["status"] for goal in body["success_plan"]["goals"]}
    assert goals == {"adoption_target": "open", "roi_target": "achieved"}
    assert SuccessGoal.objects.get(criterion="roi_target").milestone.milestone == "achieved_roi_target"
    assert SuccessPlanTask.objects.count() == 3
