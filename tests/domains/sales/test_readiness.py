"""Readiness evaluation as the platform runs it: the nightly re-evaluation (milestones age out of the
window), a health change through the API reaching a real worker, and concurrent evaluations."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from domains.sales import services
from domains.sales.models import ExpansionReadiness, Milestone, ReadinessModel
from domains.sales.tasks import recompute_all_readiness
from tests.celery_support import wait_until

from .conftest import events_of

MILESTONES = ("achieved_roi_target", "executive_sponsorship", "business_review_completed")


def ready_customer(
    make_customer, customer_id: str = "cust_12345", health_score: int = 80, nps_score: int = 40
):
    """62 without milestones (see test_expansion_api.py), 72 with three recent ones."""
    return make_customer(
        customer_id, health_score=health_score, adoption_rate=0.8, engagement_score=7.0, nps_score=nps_score
    )


def set_model(**fields) -> None:
    """Edit the active model as the admin does (a save, which the cached model notices)."""
    model = ReadinessModel.objects.get(is_active=True)
    for name, value in fields.items():
        setattr(model, name, value)
    model.save()


@pytest.mark.django_db
def test_the_nightly_run_rearms_when_milestones_age_out(make_customer):
    ready_customer(make_customer)
    long_ago = timezone.now() - timedelta(days=170)
    for milestone in MILESTONES:
        services.milestone_record(customer_id="cust_12345", milestone=milestone, achieved_at=long_ago)
    assert len(events_of("expansion_ready")) == 1

    # Three weeks on, they are older than the factor's 180 days: no event tells, the nightly run finds it.
    Milestone.objects.update(achieved_at=timezone.now() - timedelta(days=190))
    stats = recompute_all_readiness()
    assert stats == {"customers": 1, "announced": 0, "rearmed": 1, "chunks": 1}
    state = ExpansionReadiness.objects.get()
    assert (state.score, state.above_threshold) == (62, False)
    # A second run changes nothing (idempotent).
    assert recompute_all_readiness()["rearmed"] == 0

    services.milestone_record(customer_id="cust_12345", milestone="reference_provided")
    Milestone.objects.update(achieved_at=timezone.now() - timedelta(days=1))
    assert recompute_all_readiness()["announced"] == 1
    assert len(events_of("expansion_ready")) == 2


@pytest.mark.django_db
def test_the_admins_threshold_and_margin_apply(make_customer):
    ready_customer(make_customer)
    for milestone in MILESTONES:
        services.milestone_record(customer_id="cust_12345", milestone=milestone)
    assert len(events_of("expansion_ready")) == 1  # 72 >= 70
    set_model(threshold=76, rearm_margin=5)
    [outcome] = services.readiness_evaluate(customer_ids=["cust_12345"])
    assert outcome.decision.above and not outcome.decision.rearmed  # 72 is within the margin of 76
    set_model(threshold=90)
    [outcome] = services.readiness_evaluate(customer_ids=["cust_12345"])
    assert outcome.decision.rearmed and ExpansionReadiness.objects.get().threshold == 90
    set_model(threshold=72)
    assert services.readiness_evaluate(customer_ids=["cust_12345"])[0].event_id
    assert len(events_of("expansion_ready")) == 2
    assert events_of("expansion_ready")[1].payload["threshold"] == 72


@pytest.mark.django_db
def test_evaluation_costs_a_fixed_number_of_queries(make_customer, django_assert_max_num_queries):
    for index in range(30):
        # 25*0.8 + 15*0.7 + 15*1 + 5 + 25*health/100: ready from a health of 76
        ready_customer(make_customer, f"cust_q{index:03d}", health_score=60 + index, nps_score=100)
    ids = [f"cust_q{index:03d}" for index in range(30)]
    services.readiness_evaluate(customer_ids=ids[:2])  # warm the model's cache
    with django_assert_max_num_queries(16):
        outcomes = services.readiness_evaluate(customer_ids=ids)
    assert len(outcomes) == 30 and sum(o.decision.announce for o in outcomes) == 14


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_health_change_reaches_the_worker_and_announces(celery_worker, api, make_customer):
    ready_customer(make_customer, health_score=50)  # 62 - 7.5 = 54.5 -> 55; with milestones 65
    for milestone in MILESTONES:
        services.milestone_record(customer_id="cust_12345", milestone=milestone)
    assert not events_of("expansion_ready")
    client = api(scopes="events:write customers:read")
    response = client.post(
        "/api/v1/cs-integration/events/health-change",
        {"customer_id": "cust_12345", "previous_score": 50, "new_score": 92, "change_reason": "usage_growth"},
        format="json",
    )
    assert response.status_code == 202
    [event] = wait_until(lambda: events_of("expansion_ready", "cust_12345"))
    assert event.payload["readiness_score"] >= 70
    customer = wait_until(
        lambda: (
            client.get("/api/v1/cs-integration/customers/cust_12345").json()["integration_status"]["sales"]
            == "expansion_pipeline"
        )
    )
    assert customer


def _in_threads(count: int, work) -> list:
    barrier, results = threading.Barrier(count), []

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_announce_once(make_customer):
    assert connection.vendor == "postgresql"
    ready_customer(make_customer)
    now = timezone.now()
    Milestone.objects.bulk_create(
        [Milestone(customer_id="cust_12345", milestone=kind, achieved_at=now) for kind in MILESTONES]
    )
    results = _in_threads(6, lambda: services.readiness_evaluate(customer_ids=["cust_12345"]))
    assert all(isinstance(result, list) for result in results), results
    assert sum(outcome.decision.announce for result in results for outcome in result) == 1
    assert len(events_of("expansion_ready")) == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_handoffs_of_one_customer_make_one(make_customer):
    assert connection.vendor == "postgresql"
    make_customer("cust_12345")

    def hand_off():
        return services.handoff_complete(
            customer_id="cust_12345",
            deal_value=1000,
            contract_terms="1_year",
            onboarding_start=timezone.now().date(),
            success_manager="sarah.smith@company.com",
            first_check_in=timezone.now().date(),
        )

    results = _in_threads(4, hand_off)
    assert sum(not isinstance(result, Exception) for result in results) == 1
    assert all(
        isinstance(result, services.HandoffExists) for result in results if isinstance(result, Exception)
    )
    assert len(events_of("handoff_completed")) == 1
