"""integration_status (and the stage and success manager) as a projection of the other domains' events:
inline with the publishing transaction, for one customer or a list, and never undone by an older event."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from csintegration.events import publish
from csintegration.events.types import event_type_exists, register_event_type, unregister_event_type
from domains.customers.models import Customer
from domains.customers.projections import PROJECTIONS

pytestmark = pytest.mark.django_db

AREAS = {
    "handoff_completed": "sales",
    "expansion_ready": "sales",
    "journey_stage_changed": "marketing",
    "campaign_triggered": "marketing",
    "campaign_members_enrolled": "marketing",
    "payment_overdue": "finance",
    "payments_current": "finance",
    "task_escalated": "operations",
    "escalation_resolved": "operations",
}


@pytest.fixture(autouse=True)
def projected_types():
    """The projected types as their apps declare them (declared here when an app is not installed)."""
    added = []
    for name, area in AREAS.items():
        if not event_type_exists(name):
            register_event_type(
                name, label=name, area=area, customer_scoped=name != "campaign_members_enrolled"
            )
            added.append(name)
    yield
    for name in added:
        unregister_event_type(name)


def emit(event_type, customer_id, occurred_at=None, **payload):
    with transaction.atomic():
        return publish(event_type, customer_id=customer_id, payload=payload, occurred_at=occurred_at)


def test_every_documented_projection_is_subscribed():
    assert set(PROJECTIONS) == set(AREAS)


def test_a_handoff_moves_sales_stage_and_manager_at_once(make_customer, health_api):
    make_customer("cust_p1", lifecycle_stage="adoption")
    emit("handoff_completed", "cust_p1", success_manager="sarah.smith@company.com", deal_value=150000)
    body = health_api.get("/api/v1/cs-integration/customers/cust_p1").json()
    assert body["integration_status"]["sales"] == "handed_off"
    assert body["lifecycle_stage"] == "onboarding"
    assert Customer.objects.get(pk="cust_p1").success_manager == "sarah.smith@company.com"


def test_each_domain_event_sets_its_status(make_customer):
    make_customer("cust_p2")
    steps = [
        ("expansion_ready", {}, "sales_status", "expansion_pipeline"),
        ("journey_stage_changed", {"to_stage": "renewal"}, "lifecycle_stage", "renewal"),
        ("campaign_triggered", {"campaign_id": "camp_1"}, "marketing_status", "active"),
        ("payment_overdue", {"payment_id": "pay_1"}, "finance_status", "overdue"),
        ("payments_current", {"payment_id": "pay_1"}, "finance_status", "current"),
        ("task_escalated", {"task_id": "task_1"}, "operations_status", "escalated"),
        ("escalation_resolved", {"task_id": "task_1"}, "operations_status", "supported"),
    ]
    for event_type, payload, field, value in steps:
        emit(event_type, "cust_p2", **payload)
        assert getattr(Customer.objects.get(pk="cust_p2"), field) == value, event_type


def test_an_enrolment_event_projects_every_listed_customer(make_customer):
    for index in range(3):
        make_customer(f"cust_m{index}")
    emit(
        "campaign_members_enrolled", None, campaign_id="camp_1", customer_ids=["cust_m0", "cust_m2", "cust_x"]
    )
    statuses = dict(Customer.objects.values_list("customer_id", "marketing_status"))
    assert statuses == {"cust_m0": "active", "cust_m1": "not_enrolled", "cust_m2": "active"}


def test_an_older_event_does_not_undo_a_newer_state(make_customer, health_api):
    make_customer("cust_p3")
    now = timezone.now()
    emit("payments_current", "cust_p3", occurred_at=now)
    emit("payment_overdue", "cust_p3", occurred_at=now - timedelta(minutes=5))  # delivered late
    assert Customer.objects.get(pk="cust_p3").finance_status == "current"

    # A direct write through the customer API counts as the latest state too.
    before_write = timezone.now()
    health_api.patch(
        "/api/v1/cs-integration/customers/cust_p3",
        {"integration_status": {"finance": "delinquent"}},
        format="json",
    )
    emit("payments_current", "cust_p3", occurred_at=before_write)
    assert Customer.objects.get(pk="cust_p3").finance_status == "delinquent"
    emit("payments_current", "cust_p3", occurred_at=timezone.now())
    assert Customer.objects.get(pk="cust_p3").finance_status == "current"


def test_a_projection_is_rolled_back_with_its_event(make_customer):
    make_customer("cust_p4")
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("task_escalated", customer_id="cust_p4", payload={"task_id": "task_1"})
        raise RuntimeError
    assert Customer.objects.get(pk="cust_p4").operations_status == "unassigned"
