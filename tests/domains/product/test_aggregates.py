"""How the adoption aggregates stay true: customers deleted or changed, the beat job's catch-up, the nightly
rollover (prune, roll-off, lapsed adoption rates, snapshots, drift), and adopted_from against its
definition on random usage."""

import random
from datetime import timedelta

import pytest
from django.core.cache import cache

from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.product import adoption, aggregates, services
from domains.product.aggregates import today_utc
from domains.product.models import (
    AdoptionCell,
    AdoptionPopulation,
    AdoptionProfile,
    AdoptionSnapshot,
    AdoptionSyncState,
    FeatureAdoption,
    FeatureUsage,
)
from domains.product.tasks import nightly_rollover, sync_adoption_profiles

from .conftest import record_usage

pytestmark = pytest.mark.django_db

TODAY = today_utc()


def population() -> dict:
    return {
        (segment, churned): (customers, health)
        for segment, churned, customers, health in AdoptionPopulation.objects.exclude(
            customers=0
        ).values_list("segment", "churned", "customers", "health_sum")
    }


def adopters(feature_id="feat_analytics") -> int:
    return sum(AdoptionCell.objects.filter(feature_id=feature_id).values_list("adopters", flat=True))


@pytest.fixture
def two_customers(make_customer, make_feature):
    make_feature("feat_analytics")
    first = make_customer("cust_one", segment="enterprise", health_score=70)
    second = make_customer("cust_two", segment="mid_market", health_score=40)
    record_usage(("cust_one", "feat_analytics", TODAY, 1), ("cust_two", "feat_analytics", TODAY, 1))
    return first, second


def test_a_deleted_customer_leaves_the_figures_in_the_same_transaction(two_customers):
    first, _ = two_customers
    assert adopters() == 2
    customer_services.customer_delete(customer=Customer.objects.get(pk=first.pk))
    assert adopters() == 1
    assert ("enterprise", False) not in population()
    assert not AdoptionProfile.objects.filter(pk="cust_one").exists()
    assert not FeatureAdoption.objects.filter(customer_id="cust_one").exists()
    assert aggregates.aggregates_rebuild().drift == {}


def test_customer_changes_arrive_with_the_catch_up(two_customers):
    _, second = two_customers
    aggregates.profiles_catch_up()
    second = Customer.objects.get(pk=second.pk)
    customer_services.customer_update(
        customer=second, data={"segment": "enterprise", "lifecycle_stage": "churned", "health_score": 10}
    )
    assert ("enterprise", True) not in population()  # not yet: the beat job brings it in
    stats = sync_adoption_profiles()
    assert stats["changed"] == 1
    assert population()[("enterprise", True)] == (1, 10)
    cell = AdoptionCell.objects.get(feature_id="feat_analytics", segment="enterprise", churned=True)
    assert (cell.adopters, cell.health_sum) == (1, 10)
    assert AdoptionSyncState.objects.get().synced_until is not None
    assert aggregates.profiles_catch_up().changed == 0  # nothing new: the overlap re-reads, changes nothing
    assert aggregates.aggregates_rebuild().drift == {}


def test_one_catch_up_at_a_time(two_customers):
    cache.add(aggregates.SYNC_LOCK_KEY, "another worker", timeout=60)
    try:
        assert aggregates.profiles_catch_up().skipped is True
    finally:
        cache.delete(aggregates.SYNC_LOCK_KEY)
    assert aggregates.profiles_catch_up().skipped is False


def test_the_rebuild_corrects_and_reports_drift(two_customers):
    AdoptionCell.objects.filter(feature_id="feat_analytics").update(adopters=7)
    stats = aggregates.aggregates_rebuild()
    assert stats.drift["feat_analytics"]["before"][0] == 14
    assert stats.drift["feat_analytics"]["after"][0] == 2
    assert adopters() == 2
    assert AdoptionSyncState.objects.get().last_drift == stats.drift


def test_the_nightly_rollover(make_customer, make_feature, settings):
    settings.PRODUCT_USAGE_RETENTION_DAYS = 120
    make_feature("feat_analytics", window_days=30)
    make_feature("feat_reports", window_days=7)
    make_customer("cust_lapse", segment="enterprise", health_score=50)
    record_usage(
        ("cust_lapse", "feat_analytics", TODAY - timedelta(days=100), 4),  # older than the longest window
        ("cust_lapse", "feat_reports", TODAY - timedelta(days=7), 1),  # lapsed from the 7-day window today
        ("cust_lapse", "feat_analytics", TODAY - timedelta(days=5), 1),
    )
    FeatureUsage.objects.create(
        customer_id="cust_lapse", feature_id="feat_analytics", date=TODAY - timedelta(days=150), count=1
    )
    # As the rows stood before time passed: reports still adopted, rate 1.0.
    Customer.objects.filter(pk="cust_lapse").update(adoption_rate=1.0)
    FeatureAdoption.objects.filter(feature_id="feat_analytics").update(
        adopted_from=TODAY - timedelta(days=100)
    )
    AdoptionCell.objects.create(
        feature_id="feat_analytics",
        segment="enterprise",
        churned=False,
        adopted_from=TODAY - timedelta(days=100),
        adopters=1,
        health_sum=50,
    )

    summary = nightly_rollover()
    assert summary["usage_pruned"] == 1
    assert not FeatureUsage.objects.filter(date__lt=TODAY - timedelta(days=119)).exists()
    assert summary["rebuild"]["rolled_off"] == 1
    assert FeatureAdoption.objects.get(feature_id="feat_analytics").adopted_from is None
    assert not AdoptionCell.objects.filter(adopted_from__lt=aggregates.oldest_counted_day(TODAY)).exists()
    assert summary["lapsed_rates_sent"] == 1
    assert Customer.objects.get(pk="cust_lapse").adoption_rate == 0.0
    assert summary["snapshots"] == 6
    snapshot = AdoptionSnapshot.objects.get(feature_id="feat_reports", day=TODAY, segment="enterprise")
    assert (snapshot.customers, snapshot.adopters, snapshot.window_days) == (1, 0, 7)
    again = nightly_rollover()  # idempotent
    assert (again["usage_pruned"], again["lapsed_rates_sent"], again["rebuild"]["drift"]) == (0, 0, {})
    assert AdoptionSnapshot.objects.count() == 6


def test_adopted_from_matches_its_definition_on_random_usage(make_customer, make_feature):
    rng = random.Random(99)
    thresholds = {"feat_x1": 1, "feat_x2": 5, "feat_x3": 17}
    for feature_id, threshold in thresholds.items():
        make_feature(feature_id, adoption_threshold=threshold)
    for index in range(20):
        make_customer(f"cust_x{index:02d}")
    daily: dict = {}
    triples = {}
    for _ in range(700):
        key = (
            f"cust_x{rng.randrange(20):02d}",
            rng.choice(list(thresholds)),
            TODAY - timedelta(days=rng.randrange(100)),
        )
        triples[key] = rng.randint(0, 4)
    record_usage(*[(*key, count) for key, count in triples.items()])
    for (customer_id, feature_id, day), count in triples.items():
        daily.setdefault((customer_id, feature_id), {})[day] = count
    since = aggregates.oldest_counted_day(TODAY)
    computed = aggregates.adoption_from_usage(pairs=daily.keys(), today=TODAY)
    for pair, days in daily.items():
        expected = adoption.adopted_from_daily(days, thresholds[pair[1]], since=since)
        assert computed[pair][0] == expected, pair
        assert FeatureAdoption.objects.get(customer_id=pair[0], feature_id=pair[1]).adopted_from == expected


def test_adoption_rates_follow_the_set_of_active_features(product_api, make_customer, make_feature):
    make_feature("feat_analytics")
    make_customer("cust_rate")
    record_usage(("cust_rate", "feat_analytics", TODAY, 1))
    assert Customer.objects.get(pk="cust_rate").adoption_rate == 1.0
    make_feature("feat_new")
    assert services.adoption_rates_refresh() == 1  # what the background job does after a new feature
    assert Customer.objects.get(pk="cust_rate").adoption_rate == 0.5
    product_api.patch("/api/v1/cs-product/features/feat_new", {"is_active": False}, format="json")
    services.adoption_rates_refresh()
    assert Customer.objects.get(pk="cust_rate").adoption_rate == 1.0


def test_a_recompute_in_chunks_covers_every_customer(make_customer, make_feature):
    feature = make_feature("feat_chunks", adoption_threshold=1)
    for index in range(7):
        make_customer(f"cust_k{index}")
    record_usage(
        *[(f"cust_k{index}", "feat_chunks", TODAY - timedelta(days=index), index + 1) for index in range(7)]
    )
    feature.adoption_threshold = 4
    feature.save(update_fields=["adoption_threshold"])
    assert aggregates.feature_adoption_recompute(feature_id="feat_chunks", chunk_size=3) == 7
    adopted = dict(
        FeatureAdoption.objects.filter(feature_id="feat_chunks").values_list("customer_id", "adopted_from")
    )
    assert adopted == {
        f"cust_k{index}": (TODAY - timedelta(days=index) if index >= 3 else None) for index in range(7)
    }
    assert adopters("feat_chunks") == 4
    assert aggregates.aggregates_rebuild().drift == {}
