"""Journeys: the documented state machine (every pair of stages, legal and illegal), the API with its 409
listing the allowed stages, the history with who moved and why, next actions, and the moves the journey
learns from the sales handoff and from direct writes to the customer record."""

import itertools

import pytest
from rest_framework.test import APIClient

from csintegration.events import publish, register_event_type
from csintegration.events.types import event_type_exists, unregister_event_type
from domains.customers import services as customer_services
from domains.customers.models import Customer, LifecycleStage
from domains.marketing import services
from domains.marketing.models import JOURNEY_TRANSITIONS, JourneyEntry, StageAction

from .conftest import BASE, assert_problem, dispatch_pending, error_fields, events_of

pytestmark = pytest.mark.django_db
JOURNEY = f"{BASE}/journey"
STAGES = LifecycleStage.values


@pytest.mark.parametrize(("from_stage", "to_stage"), list(itertools.product(STAGES, STAGES)))
def test_every_move_follows_the_documented_transitions(make_customer, from_stage, to_stage):
    make_customer("cust_j", lifecycle_stage=from_stage)
    legal = to_stage in JOURNEY_TRANSITIONS[from_stage]
    if legal:
        status = services.journey_move(
            customer_id="cust_j", stage=to_stage, reason="test", changed_by="tests"
        )
        assert status.current_stage == to_stage
        assert Customer.objects.get(pk="cust_j").lifecycle_stage == to_stage
        assert status.allowed_stages == [s for s in STAGES if s in JOURNEY_TRANSITIONS[to_stage]]
    else:
        with pytest.raises(services.JourneyTransitionNotAllowed) as refused:
            services.journey_move(customer_id="cust_j", stage=to_stage, changed_by="tests")
        assert refused.value.allowed == [s for s in STAGES if s in JOURNEY_TRANSITIONS[from_stage]]
        assert Customer.objects.get(pk="cust_j").lifecycle_stage == from_stage
        assert not events_of("journey_stage_changed")


def test_the_status_of_a_customer_never_moved(marketing_api, make_customer):
    customer = make_customer("cust_s")
    body = marketing_api.get(f"{JOURNEY}/cust_s/status").json()
    assert body["customer_id"] == "cust_s" and body["current_stage"] == "onboarding"
    assert body["next_actions"] == ["schedule_kickoff_call", "send_welcome_series", "set_success_criteria"]
    assert body["allowed_stages"] == ["adoption", "at_risk", "churned"]
    assert body["history"] == [
        {
            "stage": "onboarding",
            "entered_at": customer.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "left_at": None,
            "reason": "",
            "changed_by": "initial",
        }
    ]


def test_a_move_through_the_api(marketing_api, make_customer, api):
    make_customer("cust_m")
    response = marketing_api.post(
        f"{JOURNEY}/cust_m", {"stage": "adoption", "reason": "kick-off done"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    client_id = marketing_api.integration.client.client_id
    assert body["current_stage"] == "adoption"
    assert body["next_actions"] == ["review_feature_adoption", "share_best_practices", "invite_to_training"]
    newest, first = body["history"]
    assert (newest["stage"], newest["reason"], newest["changed_by"], newest["left_at"]) == (
        "adoption",
        "kick-off done",
        f"client:{client_id}",
        None,
    )
    assert (first["stage"], first["left_at"], first["changed_by"]) == (
        "onboarding",
        newest["entered_at"],
        "initial",
    )
    # the customer record follows, through journey_stage_changed
    reader = api(scopes="customers:read")
    assert reader.get("/api/v1/cs-integration/customers/cust_m").json()["lifecycle_stage"] == "adoption"
    [event] = events_of("journey_stage_changed", "cust_m")
    assert {key: event.payload[key] for key in ("from_stage", "to_stage", "reason", "changed_by")} == {
        "from_stage": "onboarding",
        "to_stage": "adoption",
        "reason": "kick-off done",
        "changed_by": f"client:{client_id}",
    }
    assert marketing_api.get(f"{JOURNEY}/cust_m/status/").json()["history"] == body["history"]


def test_an_illegal_move_is_409_listing_the_allowed_stages(marketing_api, make_customer):
    make_customer("cust_i")
    response = marketing_api.post(f"{JOURNEY}/cust_i", {"stage": "expansion"}, format="json")
    body = assert_problem(response, 409, "journey-transition-not-allowed")
    assert body["allowed_stages"] == ["adoption", "at_risk", "churned"]
    assert body["current_stage"] == "onboarding"
    assert "adoption, at_risk, churned" in body["detail"]
    same = assert_problem(
        marketing_api.post(f"{JOURNEY}/cust_i", {"stage": "onboarding"}, format="json"), 409
    )
    assert same["allowed_stages"] == ["adoption", "at_risk", "churned"]
    assert Customer.objects.get(pk="cust_i").lifecycle_stage == "onboarding"
    assert not JourneyEntry.objects.filter(customer_id="cust_i", changed_by__startswith="client:").exists()


def test_journey_errors(marketing_api, api, make_customer):
    make_customer("cust_e")
    response = marketing_api.post(f"{JOURNEY}/cust_e", {"stage": "orbit"}, format="json")
    assert_problem(response, 400, "validation-error")
    assert error_fields(response) == {"stage"}
    response = marketing_api.post(
        f"{JOURNEY}/cust_e", {"stage": "adoption", "reason": "x" * 501}, format="json"
    )
    assert error_fields(response) == {"reason"}
    assert error_fields(marketing_api.post(f"{JOURNEY}/cust_e", {}, format="json")) == {"stage"}
    assert_problem(marketing_api.post(f"{JOURNEY}/cust_none", {"stage": "adoption"}, format="json"), 404)
    assert_problem(marketing_api.get(f"{JOURNEY}/cust_none/status"), 404)
    assert_problem(APIClient().post(f"{JOURNEY}/cust_e", {"stage": "adoption"}, format="json"), 401)
    assert_problem(APIClient().get(f"{JOURNEY}/cust_e/status"), 401)
    reader = api(scopes="marketing:read")
    assert (
        "marketing:write"
        in assert_problem(reader.post(f"{JOURNEY}/cust_e", {"stage": "adoption"}, format="json"), 403)[
            "detail"
        ]
    )
    assert_problem(api(scopes="customers:read").get(f"{JOURNEY}/cust_e/status"), 403)
    assert_problem(marketing_api.post(f"{JOURNEY}/cust_e", data="{", content_type="application/json"), 400)


def test_the_public_function(make_customer):
    make_customer("cust_f")
    status = services.journey_move(
        customer_id="cust_f", stage="at_risk", reason="usage drop", changed_by="workflow:run_1"
    )
    assert isinstance(status, services.JourneyStatus)
    assert status.history[0].changed_by == "workflow:run_1" and status.history[0].reason == "usage drop"
    with pytest.raises(Customer.DoesNotExist):
        services.journey_move(customer_id="cust_nobody", stage="adoption", changed_by="x")
    with pytest.raises(ValueError):
        services.journey_move(customer_id="cust_f", stage="orbit", changed_by="x")


def test_next_actions_are_configured_per_stage(marketing_api, make_customer):
    make_customer("cust_n", lifecycle_stage="renewal")
    StageAction.objects.filter(stage="renewal", action="run_value_review").update(is_active=False)
    StageAction.objects.create(stage="renewal", action="book_renewal_call", order=1)
    assert marketing_api.get(f"{JOURNEY}/cust_n/status").json()["next_actions"] == [
        "book_renewal_call",
        "prepare_renewal_proposal",
    ]


def test_a_stage_written_to_the_record_joins_the_history(marketing_api, make_customer):
    make_customer("cust_d")
    customer_services.customer_update(
        customer=Customer.objects.get(pk="cust_d"), data={"lifecycle_stage": "renewal"}
    )
    # before the fan-out: the status already shows the record's stage
    body = marketing_api.get(f"{JOURNEY}/cust_d/status").json()
    assert body["current_stage"] == "renewal" and body["history"][0]["changed_by"] == "initial"
    assert body["history"][0]["stage"] == "renewal"
    dispatch_pending(["customer.updated"])
    history = marketing_api.get(f"{JOURNEY}/cust_d/status").json()["history"]
    assert [(stay["stage"], stay["changed_by"]) for stay in history] == [
        ("renewal", "customer_record"),
        ("onboarding", "initial"),
    ]
    dispatch_pending(["customer.updated"])  # nothing more to do
    assert JourneyEntry.objects.filter(customer_id="cust_d").count() == 2
    # the journey continues from the record's stage
    moved = marketing_api.post(f"{JOURNEY}/cust_d", {"stage": "expansion"}, format="json")
    assert moved.status_code == 200, moved.content


@pytest.fixture
def handoff_type():
    """``handoff_completed`` as the sales app declares it, or a stand-in when that app is absent."""
    if event_type_exists("handoff_completed"):
        yield
        return
    register_event_type(
        "handoff_completed", label="Handoff completed", area="sales", example={"handoff_id": "hnd_1"}
    )
    yield
    unregister_event_type("handoff_completed")


def test_the_sales_handoff_is_recorded_once(marketing_api, make_customer, handoff_type):
    make_customer("cust_h", lifecycle_stage="adoption")
    event = publish(
        "handoff_completed",
        customer_id="cust_h",
        payload={
            "handoff_id": "hnd_01",
            "success_manager": "sarah.smith@company.com",
            "onboarding_start": "2025-12-05",
        },
    )
    assert Customer.objects.get(pk="cust_h").lifecycle_stage == "onboarding"  # the customers projection
    dispatch_pending()  # customer.created (the journey begins), then the handoff
    from csintegration.events.services import events_redispatch

    events_redispatch(event_ids=[event.event_id])
    dispatch_pending(["handoff_completed"])
    assert (
        services.journey_record_handoff(
            customer_id="cust_h", event_id=event.event_id, occurred_at=event.occurred_at, reason="again"
        )
        is False
    )
    history = marketing_api.get(f"{JOURNEY}/cust_h/status").json()["history"]
    assert [(stay["stage"], stay["changed_by"], stay["reason"]) for stay in history] == [
        ("onboarding", "sales_handoff", "sales handoff hnd_01"),
        ("adoption", "initial", ""),
    ]


def test_a_handoff_before_the_journey_began_starts_it(marketing_api, make_customer, handoff_type):
    make_customer("cust_k", lifecycle_stage="adoption")
    publish("handoff_completed", customer_id="cust_k", payload={"handoff_id": "hnd_02"})
    dispatch_pending(["handoff_completed"])  # before customer.created's fan-out
    dispatch_pending()
    history = marketing_api.get(f"{JOURNEY}/cust_k/status").json()["history"]
    assert [(stay["stage"], stay["changed_by"]) for stay in history] == [("onboarding", "sales_handoff")]
