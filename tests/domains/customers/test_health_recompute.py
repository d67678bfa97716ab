"""The nightly recompute: every customer in set-based chunks, a bounded number of queries, events only
where the score moved, churn alerts for those that turned high risk; and the Celery task and schedule."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.customers import health, scoring, selectors
from domains.customers.conf import conf
from domains.customers.models import Customer, CustomerSignal, HealthSnapshot, ScorecardMeasure
from domains.customers.tasks import recompute_all_health

from .conftest import events_of

pytestmark = pytest.mark.django_db

COUNT = 300


def signal_values(index: int) -> dict[str, float]:
    return {
        "login_frequency": float(index % 25),
        "support_tickets": float(index % 7),
        "payment_status": (1.0, 0.5, 0.0)[index % 3],
    }


@pytest.fixture
def customers_with_signals():
    customers = [
        Customer(
            customer_id=f"cust_n{index:04d}",
            name=f"Nightly {index}",
            health_score=50,
            risk_level="medium",
            adoption_rate=(index % 10) / 10,
            nps_score=(index % 200) - 100,
        )
        for index in range(COUNT)
    ]
    Customer.objects.bulk_create(customers)
    CustomerSignal.objects.bulk_create(
        CustomerSignal(customer_id=customer.customer_id, name=name, value=value)
        for index, customer in enumerate(customers)
        for name, value in signal_values(index).items()
    )
    return customers


def expected_scores() -> dict[str, int]:
    [default] = [spec for spec in selectors.scorecard_specs() if spec.is_default]
    scores = {}
    for customer in Customer.objects.all():
        values = {**signal_values(int(customer.customer_id[6:])), "adoption_rate": customer.adoption_rate}
        values["nps"] = customer.nps_score
        scores[customer.customer_id] = scoring.compute_health(default, values).score
    return scores


def test_recompute_scores_everyone_in_bounded_queries_and_is_idempotent(customers_with_signals):
    expected = expected_scores()
    with CaptureQueriesContext(connection) as queries:
        stats = health.health_recompute_all(chunk_size=100)
    # Per chunk: customers, signals, recent scores, latest breakdowns, bulk writes; whatever its size.
    assert (stats.customers, stats.scored, stats.chunks) == (COUNT, COUNT, 3)
    assert len(queries) <= 5 + stats.chunks * 14, len(queries)
    assert dict(Customer.objects.values_list("customer_id", "health_score")) == expected
    changed = [customer_id for customer_id, score in expected.items() if score != 50]
    assert stats.changed == len(changed) > 200
    assert {event.customer_id for event in events_of("health_score_change")} == set(changed)
    assert HealthSnapshot.objects.filter(source="recompute").count() == COUNT  # every first breakdown is kept
    for customer in Customer.objects.all():
        assert customer.risk_level == scoring.risk_level_for_score(customer.health_score)

    snapshot = HealthSnapshot.objects.filter(source="recompute").first()
    assert round(sum(entry["contribution"] for entry in snapshot.breakdown), 2) == snapshot.score
    assert snapshot.scorecard.is_default and snapshot.change_reason == "scheduled_recompute"

    # Nothing moved: a second run writes no snapshot and publishes nothing.
    events_before = len(events_of("health_score_change"))
    again = health.health_recompute_all(chunk_size=100)
    assert (again.changed, again.snapshots, again.events) == (0, 0, 0)
    assert len(events_of("health_score_change")) == events_before


def test_a_scorecard_edit_moves_scores_and_raises_churn_alerts(customers_with_signals):
    health.health_recompute_all(chunk_size=120)
    before = dict(Customer.objects.values_list("customer_id", "health_score"))
    risk_before = dict(Customer.objects.values_list("customer_id", "risk_level"))
    events_before = {event.event_id for event in events_of("health_score_change")}
    churn_before = {event.event_id for event in events_of("churn_risk_detected")}

    # Payment status now weighs most: every overdue or delinquent customer falls.
    # (Saved as the admin saves it: the scorecard caches of every process see the edit.)
    payment = ScorecardMeasure.objects.get(scorecard__is_default=True, measure="payment_status")
    payment.weight = 200
    payment.save()
    stats = health.health_recompute_all(chunk_size=120)

    after = dict(Customer.objects.values_list("customer_id", "health_score"))
    moved = {customer_id for customer_id in after if after[customer_id] != before[customer_id]}
    assert stats.changed == len(moved) > 0
    new_changes = [e for e in events_of("health_score_change") if e.event_id not in events_before]
    assert {event.customer_id for event in new_changes} == moved
    for event in new_changes:
        assert event.payload["previous_score"] == before[event.customer_id]
        assert event.payload["new_score"] == after[event.customer_id]
        assert event.payload["change_reason"] == "scheduled_recompute"
    delinquent = [f"cust_n{index:04d}" for index in range(COUNT) if index % 3 == 2]
    assert all(after[customer_id] < before[customer_id] for customer_id in delinquent)

    new_churn = [e for e in events_of("churn_risk_detected") if e.event_id not in churn_before]
    crossed = {
        customer_id
        for customer_id, risk in Customer.objects.values_list("customer_id", "risk_level")
        if risk in ("high", "critical") and risk_before[customer_id] not in ("high", "critical")
    }
    dropped = {c for c in moved if before[c] - after[c] >= conf.CHURN_DROP_POINTS}
    assert {event.customer_id for event in new_churn} == crossed | dropped
    assert len(new_churn) == len(crossed | dropped) > 0
    some = next(event for event in new_churn if event.customer_id in delinquent)
    # Nothing fell; the scorecard changed: the alert names the weakest measure and what to do about it.
    assert some.payload["risk_indicators"][0] == "payment_status_low"
    assert some.payload["recommended_actions"][0] == "finance_follow_up"

    # The same scores again: no second alert for the same episode.
    health.health_recompute_all(chunk_size=120)
    assert len(events_of("churn_risk_detected")) == len(churn_before) + len(new_churn)


def test_the_task_runs_on_the_bulk_queue_nightly(customers_with_signals):
    route = recompute_all_health.app.amqp.router.route({}, recompute_all_health.name)
    assert route["queue"].name == "bulk"
    entry = settings.CELERY_BEAT_SCHEDULE["customers-recompute-all-health"]
    assert entry["task"] == recompute_all_health.name == "customers.recompute_all_health"
    assert entry["options"]["queue"] == "bulk"
    result = recompute_all_health.apply().get()
    assert result["customers"] == COUNT and result["scored"] == COUNT
    assert Customer.objects.exclude(health_score=50).count() == result["changed"]


def test_a_chunk_read_by_key_range_is_what_its_ids_read(customers_with_signals):
    """The recompute reads a chunk by its first and last id: the same signals, scores and breakdowns as
    the list of its ids, and nothing of the customers outside it."""
    health.health_recompute_all(chunk_size=100)
    CustomerSignal.objects.filter(customer_id="cust_n0050").update(value=3.0)
    health.health_recompute_all(chunk_size=100)  # a second score in the window for some
    chunk = list(Customer.objects.filter(pk__gte="cust_n0040", pk__lte="cust_n0139").order_by("pk"))
    since = health._lookback_start(timezone.now())
    by_ids = selectors.health_states(customers=chunk, since=since)
    by_range = selectors.health_states(
        customers=chunk[1:-1], since=since, key_range=(chunk[0].pk, chunk[-1].pk), rows=False
    )
    assert set(by_range) == {customer.pk for customer in chunk[1:-1]}
    for customer in chunk[1:-1]:
        one, other = by_ids[customer.pk], by_range[customer.pk]
        assert other.points == one.points and other.latest_breakdown == one.latest_breakdown
        assert other.measure_values(customer) == one.measure_values(customer)
    assert any(len(state.points) > 1 for state in by_range.values())


def test_a_score_given_reads_the_history_without_the_signals(customers_with_signals):
    """Setting a score (by hand, a bulk import, a reported change) does not compute it from the measures:
    the same history and breakdown as a full read, and no signal query."""
    health.health_recompute_all(chunk_size=100)
    chunk = list(Customer.objects.filter(pk__gte="cust_n0000", pk__lte="cust_n0009").order_by("pk"))
    since = health._lookback_start(timezone.now())
    full = selectors.health_states(customers=chunk, since=since)
    with CaptureQueriesContext(connection) as queries:
        given = selectors.health_states(customers=chunk, since=since, signals=False)
    assert not any("customersignal" in query["sql"] for query in queries.captured_queries)
    assert len(queries) == 2
    for customer in chunk:
        assert given[customer.pk].points == full[customer.pk].points
        assert given[customer.pk].latest_breakdown == full[customer.pk].latest_breakdown
        assert given[customer.pk].signal_rows == {} and full[customer.pk].signal_rows
