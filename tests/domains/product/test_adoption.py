"""GET /adoption/{feature_id}: shares and Pearson correlations against a hand-computed example and against
NumPy on random data, the window and segment filters, a query count that does not grow with the number
of customers, and the maintained aggregates matching a rebuild from scratch."""

import random
from datetime import timedelta

import numpy
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from domains.customers import services as customer_services
from domains.customers.models import Customer
from domains.product import aggregates, selectors
from domains.product.aggregates import today_utc
from domains.product.models import AdoptionCell, AdoptionPopulation, AdoptionSnapshot
from tests.conftest import openapi_document, query_parameter_schema

from ..customers.test_customer_api import assert_problem
from .conftest import BASE, record_usage

pytestmark = pytest.mark.django_db

TODAY = today_utc()


def adoption_url(feature_id: str = "feat_analytics") -> str:
    return f"{BASE}/adoption/{feature_id}"


def days_ago(days: int):
    return TODAY - timedelta(days=days)


@pytest.fixture
def hand_example(make_customer, make_feature):
    """Six customers, one feature (3 uses within 30 days). Adopted: A and C. B's and E's uses are 40
    days old (outside 30 days, inside 60)."""
    make_feature("feat_analytics", adoption_threshold=3, window_days=30)
    for customer_id, segment, score, stage in (
        ("cust_a", "enterprise", 80, "adoption"),
        ("cust_b", "enterprise", 60, "renewal"),
        ("cust_c", "mid_market", 40, "adoption"),
        ("cust_d", "small_business", 90, "expansion"),
        ("cust_e", "small_business", 20, "churned"),
        ("cust_f", "mid_market", 70, "churned"),
    ):
        make_customer(customer_id, segment=segment, health_score=score, lifecycle_stage=stage)
    record_usage(
        ("cust_a", "feat_analytics", TODAY, 2),
        ("cust_a", "feat_analytics", days_ago(10), 1),
        ("cust_b", "feat_analytics", days_ago(40), 5),
        ("cust_c", "feat_analytics", TODAY, 3),
        ("cust_d", "feat_analytics", TODAY, 1),
        ("cust_e", "feat_analytics", days_ago(40), 5),
    )
    # The beat job brings the customers without usage (F) into the figures; health scores are
    # recomputed by the engine from the adoption rate, so set them back as the example wants.
    for customer_id, score in (("cust_a", 80), ("cust_b", 60), ("cust_c", 40), ("cust_d", 90)):
        customer_services.customer_update(
            customer=Customer.objects.get(pk=customer_id), data={"health_score": score}
        )
    aggregates.profiles_catch_up()


def test_the_hand_computed_example(product_api, hand_example):
    response = product_api.get(adoption_url())
    assert response.status_code == 200, response.content
    body = response.json()
    metrics = body["adoption_metrics"]
    # Non-churned: A (80, adopted), B (60), C (40, adopted), D (90).
    assert metrics["overall_adoption"] == 0.5
    assert metrics["segment_adoption"] == {"enterprise": 0.5, "mid_market": 1.0, "small_business": 0.0}
    assert (metrics["customers"], metrics["adopters"]) == (4, 2)
    assert metrics["segment_customers"] == {"enterprise": 2, "mid_market": 1, "small_business": 1}
    assert (metrics["window_days"], metrics["adoption_threshold"]) == (30, 3)
    assert metrics["as_of"] == TODAY.isoformat()
    correlation = body["success_correlation"]
    # x = (1, 0, 1, 0), y = (80, 60, 40, 90): cov -15, var x 1, var y 1475 (sums of squared deviations).
    assert correlation["adoption_success_link"] == round(-15 / 1475**0.5, 4) == -0.3906
    assert correlation["health_impact"] == "negative"
    # Everyone: adopted (1, 0, 1, 0, 0, 0) against retained (1, 1, 1, 1, 0, 0): r = (6/9) / (12/9).
    assert correlation["retention_correlation"] == 0.5
    assert (correlation["customers"], correlation["churned_customers"]) == (6, 2)
    assert body["feature_id"] == "feat_analytics" and body["segment"] is None
    assert body["recomputing"] is False and body["customers_synced_until"].endswith("Z")


def test_a_longer_window_counts_older_usage(product_api, hand_example):
    body = product_api.get(adoption_url(), {"window_days": 60}).json()
    # B (60) adopts within 60 days: x = (1, 1, 1, 0) over y = (80, 60, 40, 90).
    assert body["adoption_metrics"]["overall_adoption"] == 0.75
    assert body["adoption_metrics"]["segment_adoption"]["enterprise"] == 1.0
    expected = numpy.corrcoef([1, 1, 1, 0], [80, 60, 40, 90])[0, 1]
    assert body["success_correlation"]["adoption_success_link"] == round(expected, 4)
    # E (churned) adopted within 60 days too: adopted (1, 1, 1, 0, 1, 0), retained (1, 1, 1, 1, 0, 0).
    expected = numpy.corrcoef([1, 1, 1, 0, 1, 0], [1, 1, 1, 1, 0, 0])[0, 1]
    assert body["success_correlation"]["retention_correlation"] == round(expected, 4)


def test_a_segment_narrows_every_figure(product_api, hand_example):
    body = product_api.get(adoption_url(), {"segment": "enterprise"}).json()
    assert body["segment"] == "enterprise"
    assert body["adoption_metrics"]["segment_adoption"] == {"enterprise": 0.5}
    assert body["adoption_metrics"]["overall_adoption"] == 0.5
    assert body["success_correlation"]["adoption_success_link"] == 1.0  # A (80) adopted, B (60) not
    assert body["success_correlation"]["health_impact"] == "high"
    # No churned enterprise customer: retention is constant, its correlation undefined.
    assert body["success_correlation"]["retention_correlation"] is None


def test_undefined_correlations_and_empty_segments_are_null(product_api, make_feature, make_customer):
    make_feature("feat_new")
    make_customer("cust_only", segment="enterprise", health_score=70)
    aggregates.profiles_catch_up()
    body = product_api.get(adoption_url("feat_new")).json()
    assert body["adoption_metrics"]["overall_adoption"] == 0.0
    assert body["adoption_metrics"]["segment_adoption"] == {
        "enterprise": 0.0,
        "mid_market": None,
        "small_business": None,
    }
    assert body["success_correlation"]["adoption_success_link"] is None
    assert body["success_correlation"]["health_impact"] == "unknown"
    assert body["improvement_opportunities"] == []  # one customer is below PRODUCT_RULES_MIN_CUSTOMERS


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window_days": "0"}, "window_days"),
        ({"window_days": "91"}, "window_days"),
        ({"window_days": "thirty"}, "window_days"),
        ({"window_days": "-5"}, "window_days"),
        ({"segment": "galactic"}, "segment"),
        ({"segment": ""}, "segment"),
    ],
)
def test_invalid_parameters_are_400(product_api, make_feature, params, field):
    make_feature()
    body = assert_problem(product_api.get(adoption_url(), params), 400, "validation-error")
    assert [error["field"] for error in body["errors"]] == [field]


def test_unknown_feature_is_404_and_the_scope_is_product_read(api, product_api, make_feature):
    assert_problem(product_api.get(adoption_url("feat_nothing")), 404, "not-found")
    make_feature()
    response = APIClient().get(adoption_url())
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = assert_problem(api(scopes="product:write customers:read").get(adoption_url()), 403)
    assert "product:read" in body["detail"]


def _customers(count: int, start: int = 0):
    for index in range(start, start + count):
        customer_services.customer_create(
            customer_id=f"cust_q{index:04d}",
            data={
                "name": f"Q {index}",
                "segment": ("enterprise", "mid_market", "small_business")[index % 3],
                "health_score": (index * 37) % 101,
                "lifecycle_stage": "churned" if index % 7 == 0 else "adoption",
            },
        )
    record_usage(
        *[
            (f"cust_q{index:04d}", "feat_analytics", TODAY, index % 4)
            for index in range(start, start + count, 2)
        ]
    )
    aggregates.profiles_catch_up()


def test_the_query_count_does_not_grow_with_the_customers(product_api, make_feature):
    make_feature("feat_analytics", adoption_threshold=2)
    _customers(6)
    product_api.get(adoption_url())  # warm the token and scorecard caches
    with CaptureQueriesContext(connection) as few:
        assert product_api.get(adoption_url()).status_code == 200
    _customers(120, start=6)
    with CaptureQueriesContext(connection) as many:
        body = product_api.get(adoption_url()).json()
    assert body["success_correlation"]["customers"] == 126
    # The platform's own lookups (token, client) may be cached in between; the report's queries are fixed.
    assert len(many.captured_queries) <= len(few.captured_queries)
    adoption_queries = [q["sql"] for q in many.captured_queries if "product_" in q["sql"]]
    assert len(adoption_queries) == len([q for q in few.captured_queries if "product_" in q["sql"]])
    assert len(adoption_queries) <= 5, adoption_queries


# --- Random data against NumPy -----------------------------------------------------------------------


def _truth(customers, usage, feature, window_days, today):
    """Adoption, health and retention per customer computed in Python from what was written."""
    start = today - timedelta(days=window_days - 1)
    totals = {}
    for (customer_id, feature_id, day), count in usage.items():
        if feature_id == feature.feature_id and day >= start:
            totals[customer_id] = totals.get(customer_id, 0) + count
    rows = []
    for customer in customers:
        adopted = 1 if totals.get(customer.customer_id, 0) >= feature.adoption_threshold else 0
        rows.append((customer.segment, customer.lifecycle_stage == "churned", adopted, customer.health_score))
    return rows


def test_random_data_agrees_with_numpy(product_api, make_feature):
    rng = random.Random(1234)
    features = [
        make_feature("feat_r1", adoption_threshold=1, window_days=30),
        make_feature("feat_r2", adoption_threshold=6, window_days=14),
        make_feature("feat_r3", adoption_threshold=20, window_days=90),
    ]
    for index in range(150):
        customer_services.customer_create(
            customer_id=f"cust_r{index:04d}",
            data={
                "name": f"R {index}",
                "segment": rng.choice(["enterprise", "mid_market", "small_business"]),
                "health_score": rng.randint(0, 100),
                "lifecycle_stage": rng.choice(["onboarding", "adoption", "renewal", "churned"]),
            },
        )
    usage = {}
    for _ in range(4):  # several batches, some replacing earlier counts
        batch = {}
        for _ in range(900):
            key = (
                f"cust_r{rng.randrange(150):04d}",
                rng.choice(features).feature_id,
                days_ago(rng.randrange(95)),
            )
            batch[key] = rng.randint(0, 6)
        record_usage(*[(*key, count) for key, count in batch.items()])
        usage.update(batch)
    # Customers change afterwards: health, stage and segment, and a few leave.
    for customer in Customer.objects.order_by("pk")[:40]:
        customer_services.customer_update(
            customer=customer,
            data={
                "health_score": rng.randint(0, 100),
                "lifecycle_stage": rng.choice(["adoption", "churned"]),
                "segment": rng.choice(["enterprise", "small_business"]),
            },
        )
    for customer in Customer.objects.order_by("-pk")[:5]:
        customer_services.customer_delete(customer=customer)
    aggregates.profiles_catch_up()

    customers = list(Customer.objects.all())
    for feature in features:
        for window in (feature.window_days, 7, 90):
            body = product_api.get(adoption_url(feature.feature_id), {"window_days": window}).json()
            rows = _truth(customers, usage, feature, window, TODAY)
            live = [row for row in rows if not row[1]]
            adopted = numpy.array([row[2] for row in live])
            health = numpy.array([row[3] for row in live])
            assert body["adoption_metrics"]["overall_adoption"] == round(adopted.mean(), 4)
            for segment in ("enterprise", "mid_market", "small_business"):
                in_segment = [row[2] for row in live if row[0] == segment]
                expected = round(sum(in_segment) / len(in_segment), 4) if in_segment else None
                assert body["adoption_metrics"]["segment_adoption"][segment] == expected
            link = _corrcoef(adopted, health)
            assert body["success_correlation"]["adoption_success_link"] == link
            everyone_adopted = numpy.array([row[2] for row in rows])
            retained = numpy.array([0 if row[1] else 1 for row in rows])
            assert body["success_correlation"]["retention_correlation"] == _corrcoef(
                everyone_adopted, retained
            )
            # And the reference computation from the raw usage gives the same sums.
            kept = selectors.adoption_sums(feature=feature, window_days=window, today=TODAY)
            raw = selectors.adoption_sums_from_usage(feature=feature, window_days=window, today=TODAY)
            assert _nonzero(kept[0]) == _nonzero(raw[0]) and _nonzero(kept[1]) == _nonzero(raw[1])

    # What the writes kept current is what a rebuild from scratch finds: no drift.
    cells = _cell_state()
    population = set(
        AdoptionPopulation.objects.values_list(
            "segment", "churned", "customers", "health_sum", "health_square_sum"
        )
    )
    stats = aggregates.aggregates_rebuild()
    assert stats.drift == {}
    assert _cell_state() == cells
    rebuilt = set(
        AdoptionPopulation.objects.values_list(
            "segment", "churned", "customers", "health_sum", "health_square_sum"
        )
    )
    assert {row for row in rebuilt if row[2]} == {row for row in population if row[2]}


def _corrcoef(x, y):
    """NumPy's Pearson r, rounded as the API rounds it; None where it is undefined (a constant)."""
    if x.std() == 0 or y.std() == 0:
        return None
    return pytest.approx(round(float(numpy.corrcoef(x, y)[0, 1]), 4), abs=1e-4)


def _nonzero(sums: dict) -> dict:
    return {key: value for key, value in sums.items() if any(vars(value).values())}


def _cell_state() -> set:
    return set(
        AdoptionCell.objects.filter(adopted_from__gte=aggregates.oldest_counted_day(TODAY))
        .exclude(adopters=0, health_sum=0)
        .values_list("feature_id", "segment", "churned", "adopted_from", "adopters", "health_sum")
    )


# --- Improvement opportunities -------------------------------------------------------------------------


def test_the_rules_read_low_segments_weak_links_and_falling_adoption(product_api, make_feature, settings):
    settings.PRODUCT_RULES_MIN_CUSTOMERS = 3
    feature = make_feature("feat_rules", window_days=30)
    # Enterprise adopts, small business does not; adoption does not go with health (weak link).
    for index in range(12):
        segment = "enterprise" if index < 6 else "small_business"
        customer_services.customer_create(
            customer_id=f"cust_s{index:02d}",
            data={"name": f"S {index}", "segment": segment, "health_score": 50 + (index % 2) * 10},
        )
    record_usage(*[(f"cust_s{index:02d}", "feat_rules", TODAY, 1) for index in range(6)])
    record_usage(("cust_s06", "feat_rules", TODAY, 1))
    for index in range(12):
        customer_services.customer_update(
            customer=Customer.objects.get(pk=f"cust_s{index:02d}"),
            data={"health_score": 50 + (index % 2) * 10},
        )
    aggregates.profiles_catch_up()
    # A month ago every one of them had adopted (the nightly snapshot says so).
    for segment, customers in (("enterprise", 6), ("small_business", 6), ("mid_market", 0)):
        AdoptionSnapshot.objects.create(
            feature=feature,
            day=days_ago(31),
            segment=segment,
            window_days=30,
            adoption_threshold=1,
            customers=customers,
            adopters=customers,
        )
    body = product_api.get(adoption_url("feat_rules")).json()
    assert body["adoption_metrics"]["segment_adoption"]["small_business"] == round(1 / 6, 4)
    assert body["adoption_metrics"]["previous_window"] == {
        "day": days_ago(31).isoformat(),
        "overall_adoption": 1.0,
        "customers": 12,
    }
    assert body["improvement_opportunities"] == [
        "enhanced_onboarding",
        "training_content",
        "re_engagement_campaign",
    ]
    reasons = {(item["rule"], item["segment"]) for item in body["opportunity_reasons"]}
    assert reasons == {
        ("low_segment_adoption", "small_business"),
        ("weak_success_link", None),
        ("falling_adoption", None),
    }


def test_the_schema_states_the_window_the_view_reads(product_api, make_feature):
    operation = openapi_document()["paths"][f"{BASE}/adoption/{{feature_id}}"]["get"]
    assert query_parameter_schema(operation, "window_days") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 90,
    }
    make_feature()
    assert product_api.get(adoption_url(), {"window_days": "90"}).status_code == 200
    assert_problem(product_api.get(adoption_url(), {"window_days": "²"}), 400, "validation-error")
