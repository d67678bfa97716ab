"""The nightly recompute on several threads (``HEALTH_RECOMPUTE_WORKERS``): the chunks are disjoint key
ranges that together cover every customer, each thread commits its own, and the result is the serial run's."""

import importlib
import itertools
import threading
import time
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from domains.customers import health
from domains.customers.models import Customer, HealthSnapshot

from .test_health_recompute import COUNT, customers_with_signals, expected_scores  # noqa: F401 (a fixture)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the threads run on PostgreSQL (their own connections)"
)


@pytest.fixture
def customers(customers_with_signals):  # noqa: F811
    # A transactional test before this one may have flushed the data migration's default scorecard.
    migration = importlib.import_module("domains.customers.migrations.0003_default_scorecard")
    migration.create_default_scorecard(django_apps, None)
    return customers_with_signals


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_ranges_cover_every_key_once(customers):
    ranges = health._chunk_ranges(70)
    assert len(ranges) == 5 and ranges[0][0] is None and ranges[-1][1] is None
    assert all(high == next_low for (_, high), (next_low, _) in itertools.pairwise(ranges))
    keys = sorted(Customer.objects.values_list("pk", flat=True))
    assert [low for low, _ in ranges[1:]] == keys[70::70]
    assert health._chunk_ranges(COUNT) == [(None, None)]


@pytest.mark.django_db
def test_inside_a_transaction_the_chunks_run_in_it(customers):
    # The test's transaction holds the customers: other connections would not see them.
    stats = health.health_recompute_all(chunk_size=50, workers=4)
    assert (stats.customers, stats.scored, stats.chunks) == (COUNT, COUNT, 6)


@pytest.mark.django_db(transaction=True)
def test_threads_recompute_what_one_would(customers):
    expected = expected_scores()
    before = _backends()
    stats = health.health_recompute_all(chunk_size=50, workers=3)
    assert (stats.customers, stats.scored, stats.chunks) == (COUNT, COUNT, 6)
    assert dict(Customer.objects.values_list("customer_id", "health_score")) == expected
    assert stats.snapshots == HealthSnapshot.objects.filter(source="recompute").count() == COUNT
    assert _backends() <= before  # each thread closed its connection
    again = health.health_recompute_all(chunk_size=50, workers=3)
    assert (again.customers, again.changed, again.snapshots, again.events) == (COUNT, 0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_fails_the_run(customers, monkeypatch):
    real = health.health_recompute_customers

    def failing(*, customers, **kwargs):
        if customers[0].pk >= "cust_n0150":
            raise RuntimeError("the database went away")
        return real(customers=customers, **kwargs)

    monkeypatch.setattr(health, "health_recompute_customers", failing)
    with pytest.raises(RuntimeError, match="went away"):
        health.health_recompute_all(chunk_size=50, workers=2)
    # The chunks before the failing ones committed; the failing ones wrote nothing.
    scored = set(HealthSnapshot.objects.values_list("customer_id", flat=True))
    assert scored and all(customer_id < "cust_n0150" for customer_id in scored)


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_run_stops_its_threads(customers, monkeypatch):
    taken = []
    real = health._recompute_range

    def slow(key_range, specs):
        taken.append(key_range)
        time.sleep(0.05)
        return real(key_range, specs)

    class Interrupted(threading.Thread):
        def join(self, timeout=None):  # as a time limit raised in the waiting task
            super().join(0.02)
            raise TimeoutError("soft time limit")

    monkeypatch.setattr(health, "_recompute_range", slow)
    monkeypatch.setattr(
        health, "threading", SimpleNamespace(Thread=Interrupted, Lock=threading.Lock, Event=threading.Event)
    )
    with pytest.raises(TimeoutError):
        health.health_recompute_all(chunk_size=10, workers=2)
    deadline = time.monotonic() + 10
    while any(t.name.startswith("health-recompute-") for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert 2 <= len(taken) <= 4  # each thread finished the chunk it had, and took no other of the 30
