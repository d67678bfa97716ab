"""A score reported for one customer reads its history in one statement (``selectors.score_history``):
the same points, latest breakdown and latest applied time as ``health_states`` and ``latest_snapshot``."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.customers import selectors
from domains.customers.models import Customer, HealthSnapshot

pytestmark = pytest.mark.django_db


NOW = timezone.now()


def _snapshot(customer, score, days_ago, *, applied=True, breakdown=None, minutes=0):
    return HealthSnapshot.objects.create(
        customer=customer,
        score=score,
        health_trend="stable",
        risk_level="low",
        source="manual",
        applied=applied,
        breakdown=breakdown or [],
        observed_at=NOW - timedelta(days=days_ago, minutes=minutes),
    )


def _both(customer, since):
    state, latest_at, version = selectors.score_history(customer=customer, since=since)
    assert version == selectors.scorecards_version()
    expected = selectors.health_states(customers=[customer], since=since, signals=False)[customer.pk]
    latest = selectors.latest_snapshot(customer=customer)
    return (state, latest_at), (expected, latest.observed_at if latest is not None else None)


def test_the_history_is_what_the_separate_queries_read():
    customer = Customer.objects.create(customer_id="cust_hist", name="History", health_score=64)
    _snapshot(customer, 90, 200)  # before the window
    _snapshot(customer, 80, 20, breakdown=[{"measure": "nps", "score": 70.5, "contribution": 0.25}])
    _snapshot(customer, 70, 10, minutes=30)
    same_time = _snapshot(customer, 71, 10, minutes=30)  # ties on the time: by id
    _snapshot(customer, 60, 3, applied=False)  # a late change kept in the history only
    latest = _snapshot(customer, 64, 1, breakdown=[{"measure": "adoption_rate", "score": 40}])
    since = timezone.now() - timedelta(days=90)
    (state, latest_at), (expected, expected_at) = _both(customer, since)
    assert state.points == expected.points and len(state.points) == 5
    assert [point[1] for point in state.points] == [80, 70, 71, 60, 64]  # a tie on the time: by id
    assert state.points[1][0] == state.points[2][0] and state.points[2][2] == same_time.pk
    assert all(moment.utcoffset() == timedelta(0) for moment, _, _ in state.points)
    assert state.latest_breakdown == expected.latest_breakdown == latest.breakdown
    assert latest_at == expected_at == latest.observed_at
    assert state.signal_rows == {}


def test_a_customer_never_scored_starts_from_its_stored_score():
    customer = Customer.objects.create(customer_id="cust_fresh", name="Fresh", health_score=55)
    since = timezone.now() - timedelta(days=90)
    (state, latest_at), (expected, expected_at) = _both(customer, since)
    assert state.points == expected.points == [(customer.updated_at, 55, None)]
    assert state.latest_breakdown is expected.latest_breakdown is None
    assert latest_at is expected_at is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL")
def test_it_is_one_statement():
    customer = Customer.objects.create(customer_id="cust_one", name="One", health_score=50)
    _snapshot(customer, 50, 2)
    with CaptureQueriesContext(connection) as queries:
        selectors.score_history(customer=customer, since=timezone.now() - timedelta(days=90))
    assert len(queries) == 1


def test_the_latest_breakdown_is_the_latest_applied_snapshots():
    customer = Customer.objects.create(customer_id="cust_appl", name="Applied", health_score=64)
    other = Customer.objects.create(customer_id="cust_appm", name="Other", health_score=30)
    _snapshot(customer, 70, 5, breakdown=[{"measure": "nps", "contribution": 1.0}])
    applied = _snapshot(customer, 64, 40, breakdown=[{"measure": "adoption_rate", "contribution": 2.5}])
    _snapshot(customer, 10, 1, applied=False, breakdown=[{"measure": "engagement", "contribution": 0.0}])
    _snapshot(other, 30, 2, breakdown=[{"measure": "é", "contribution": 3.0}])
    since = timezone.now() - timedelta(days=90)
    # the highest id among the applied ones, older in time than another applied one
    (state, _), (expected, _) = _both(customer, since)
    assert state.latest_breakdown == expected.latest_breakdown == applied.breakdown
    by_range = selectors.health_states(
        customers=[customer, other], since=since, key_range=("cust_appl", "cust_appm")
    )
    assert by_range["cust_appl"].latest_breakdown == applied.breakdown
    assert by_range["cust_appm"].latest_breakdown == [{"measure": "é", "contribution": 3.0}]
