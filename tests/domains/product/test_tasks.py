"""The product's jobs on a real Celery worker: the threshold recompute a feature change enqueues, the beat
job that syncs customer changes, and the nightly rollover; and their schedules."""

import pytest
from django.conf import settings

from csintegration.tasks import enqueue
from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.product.aggregates import today_utc
from domains.product.models import AdoptionProfile, AdoptionSnapshot, Feature, FeatureAdoption
from tests.celery_support import wait_until

from .conftest import BASE, record_usage


def test_the_jobs_are_scheduled():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["product-sync-adoption-profiles"]["task"] == "product.sync_adoption_profiles"
    assert schedule["product-sync-adoption-profiles"]["schedule"] == 60.0
    assert schedule["product-nightly-rollover"]["task"] == "product.nightly_rollover"
    assert schedule["product-nightly-rollover"]["options"] == {"queue": "bulk"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_threshold_change_is_recomputed_by_the_worker(
    celery_worker, product_api, make_customer, make_feature
):
    make_feature("feat_analytics", adoption_threshold=5)
    make_customer("cust_worker", segment="enterprise", health_score=60)
    record_usage(("cust_worker", "feat_analytics", today_utc(), 3))
    assert FeatureAdoption.objects.get(customer_id="cust_worker").adopted_from is None

    response = product_api.patch(f"{BASE}/features/feat_analytics", {"adoption_threshold": 3}, format="json")
    assert response.json()["recomputing"] is True
    wait_until(lambda: not Feature.objects.get(pk="feat_analytics").recomputing, timeout=30)
    assert FeatureAdoption.objects.get(customer_id="cust_worker").adopted_from == today_utc()
    wait_until(lambda: Customer.objects.get(pk="cust_worker").adoption_rate == 1.0, timeout=30)
    body = product_api.get(f"{BASE}/adoption/feat_analytics").json()
    assert body["adoption_metrics"]["adopters"] == 1 and body["recomputing"] is False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_jobs_run_on_the_worker(celery_worker, make_customer, make_feature):
    make_feature("feat_analytics")
    make_customer("cust_beat", segment="mid_market", health_score=60)
    record_usage(("cust_beat", "feat_analytics", today_utc(), 1))
    customer_services.customer_update(
        customer=Customer.objects.get(pk="cust_beat"), data={"health_score": 15}
    )

    assert enqueue("product.sync_adoption_profiles", queue="bulk")
    wait_until(lambda: AdoptionProfile.objects.get(pk="cust_beat").health_score == 15, timeout=30)

    assert enqueue("product.nightly_rollover", queue="bulk")
    wait_until(lambda: AdoptionSnapshot.objects.filter(day=today_utc()).count() == 3, timeout=60)
    snapshot = AdoptionSnapshot.objects.get(day=today_utc(), segment="mid_market")
    assert (snapshot.customers, snapshot.adopters) == (1, 1)
