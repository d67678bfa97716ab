"""On PostgreSQL: usage writes, customer changes, profile syncs and a deletion running at once neither
deadlock nor drift (what the writes kept equals a rebuild from scratch)."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import connections

from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.product import aggregates, selectors, services
from domains.product.aggregates import today_utc
from domains.product.models import Feature

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 30
FEATURES = ("feat_c1", "feat_c2", "feat_c3")


def _run(workers):
    """Run each (worker, seed) in its own thread and database connection; returns the errors raised."""
    errors = []

    def target(worker, seed):
        try:
            worker(random.Random(seed))
        except Exception as exc:  # reported below, with the thread that raised it
            errors.append(f"{seed}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(worker, seed)) for seed, worker in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_writers_neither_deadlock_nor_drift(make_customer, make_feature):
    today = today_utc()
    for feature_id in FEATURES:
        make_feature(feature_id, adoption_threshold=3)
    for index in range(CUSTOMERS):
        make_customer(f"cust_c{index:03d}", segment=("enterprise", "mid_market")[index % 2], health_score=50)

    def usage_writer(rng):
        for _ in range(6):
            chosen = rng.sample(range(CUSTOMERS), 12)
            items = [
                services.UsageInput(
                    n,
                    f"cust_c{c:03d}",
                    rng.choice(FEATURES),
                    today - timedelta(days=rng.randrange(40)),
                    rng.randint(0, 4),
                )
                for n, c in enumerate(chosen)
            ]
            services.usage_record_many(items=items)

    def customer_editor(rng):
        for _ in range(10):
            customer = Customer.objects.get(pk=f"cust_c{rng.randrange(CUSTOMERS):03d}")
            customer_services.customer_update(
                customer=customer,
                data={
                    "health_score": rng.randint(0, 100),
                    "lifecycle_stage": rng.choice(["adoption", "churned"]),
                },
            )
            aggregates.profiles_sync(customer_ids=[customer.pk])

    def syncer(rng):
        for _ in range(4):
            aggregates.profiles_catch_up()

    errors = _run([usage_writer, usage_writer, usage_writer, customer_editor, customer_editor, syncer])
    customer_services.customer_delete(customer=Customer.objects.get(pk="cust_c000"))
    assert errors == []

    aggregates.profiles_catch_up()
    kept = {
        feature.feature_id: selectors.adoption_sums(feature=feature, window_days=30, today=today)
        for feature in Feature.objects.all()
    }
    assert aggregates.aggregates_rebuild().drift == {}
    for feature in Feature.objects.all():
        raw = selectors.adoption_sums_from_usage(feature=feature, window_days=30, today=today)
        assert _nonzero(kept[feature.feature_id][1]) == _nonzero(raw[1])
        assert _nonzero(kept[feature.feature_id][0]) == _nonzero(raw[0])


def _nonzero(sums):
    return {key: value for key, value in sums.items() if any(vars(value).values())}
