"""On PostgreSQL, concurrent writers of one customer: row locks make a trigger enrol it once and let only
one of two identical journey moves through."""

import threading

import pytest
from django.db import connection, connections

from domains.customers import services as customer_services
from domains.marketing import services
from domains.marketing.models import CampaignMember

from .conftest import events_of

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_defaults"),
]


def run_together(count: int, call):
    """Run ``call()`` in ``count`` threads released at once; returns their results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the outcome under test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_concurrent_triggers_enrol_a_customer_once():
    assert connection.vendor == "postgresql"
    customer_services.customer_create(customer_id="cust_race", data={"name": "Race", "health_score": 70})
    campaign = services.campaign_create(
        campaign_type="retention", trigger_type="manual", segment_keys=["at_risk"]
    )
    results = run_together(
        4,
        lambda: services.campaign_enroll_for_trigger(
            customer_id="cust_race", campaign_type="retention", trigger_type="churn_risk", reason="race"
        ),
    )
    assert sorted(results, key=str) == [None, None, None, campaign.campaign_id]
    assert CampaignMember.objects.filter(customer_id="cust_race").count() == 1
    assert len(events_of("campaign_triggered", "cust_race")) == 1


def test_concurrent_identical_moves_let_one_through():
    customer_services.customer_create(customer_id="cust_move", data={"name": "Move"})
    results = run_together(
        3, lambda: services.journey_move(customer_id="cust_move", stage="adoption", changed_by="race")
    )
    moved = [result for result in results if isinstance(result, services.JourneyStatus)]
    refused = [result for result in results if isinstance(result, services.JourneyTransitionNotAllowed)]
    assert len(moved) == 1 and len(refused) == 2
    assert refused[0].from_stage == "adoption"
    assert len(events_of("journey_stage_changed", "cust_move")) == 1
