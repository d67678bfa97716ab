"""Features and usage end to end with real tokens and signatures: the upsert that replaces, the bulk of
5000 with per-item results, adoption and its event, the adoption rate reaching the health engine, and
every error path."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from domains.customers.models import Customer, CustomerSignal, HealthSnapshot
from domains.product.aggregates import today_utc
from domains.product.models import AdoptionCell, Feature, FeatureAdoption, FeatureUsage
from tests.conftest import openapi_document, sign_request_kwargs

from ..customers.test_customer_api import assert_problem
from .conftest import BASE, events_of, signed_post

pytestmark = pytest.mark.django_db

TODAY = today_utc()
FEATURES = f"{BASE}/features"
USAGE = f"{BASE}/usage"
BULK = f"{BASE}/usage/bulk"


def usage(customer_id="cust_12345", feature_id="feat_analytics", day=None, count=3):
    return {
        "customer_id": customer_id,
        "feature_id": feature_id,
        "date": (day or TODAY).isoformat(),
        "count": count,
    }


# --- Features ----------------------------------------------------------------------------------------


def test_features_are_created_listed_read_and_updated(product_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        created = product_api.post(
            FEATURES,
            {"feature_id": "feat_analytics", "name": "Analytics", "adoption_threshold": 5},
            format="json",
        )
    assert created.status_code == 201, created.content
    assert created["Location"].endswith(f"{FEATURES}/feat_analytics")
    body = created.json()
    assert (body["adoption_threshold"], body["window_days"], body["is_active"]) == (5, 30, True)
    assert body["recomputing"] is False
    assert len(callbacks) == 1  # an active feature: every adoption rate is recomputed in the background

    generated = product_api.post(FEATURES, {"name": "Reports"}, format="json").json()
    assert generated["feature_id"].startswith("feat_") and generated["adoption_threshold"] == 1

    listing = product_api.get(FEATURES).json()
    assert [feature["name"] for feature in listing["results"]] == ["Analytics", "Reports"]
    assert product_api.get(FEATURES, {"is_active": "false"}).json()["results"] == []
    assert product_api.get(f"{FEATURES}/feat_analytics").json()["name"] == "Analytics"

    with django_capture_on_commit_callbacks() as callbacks:
        patched = product_api.patch(f"{FEATURES}/feat_analytics", {"adoption_threshold": 2}, format="json")
    assert patched.status_code == 200
    assert patched.json()["recomputing"] is True  # until the background recompute has run
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "X", "feature_id": "analytics"}, "feature_id"),
        ({"name": "X", "adoption_threshold": 0}, "adoption_threshold"),
        ({"name": "X", "adoption_threshold": "5"}, "adoption_threshold"),
        ({"name": "X", "window_days": 91}, "window_days"),
        ({"name": "X", "window_days": 2.5}, "window_days"),
    ],
)
def test_invalid_features_are_400(product_api, body, field):
    response = assert_problem(product_api.post(FEATURES, body, format="json"), 400, "validation-error")
    assert field in [error["field"] for error in response["errors"]]


def test_feature_conflicts_and_unknowns(product_api, make_feature):
    make_feature("feat_analytics")
    assert_problem(
        product_api.post(FEATURES, {"feature_id": "feat_analytics", "name": "Again"}, format="json"),
        409,
        "feature-exists",
    )
    assert_problem(product_api.get(f"{FEATURES}/feat_nothing"), 404, "not-found")
    assert_problem(product_api.patch(f"{FEATURES}/feat_nothing", {"name": "X"}, format="json"), 404)
    body = assert_problem(
        product_api.patch(f"{FEATURES}/feat_analytics", {"feature_id": "feat_other"}, format="json"), 400
    )
    assert body["errors"][0]["field"] == "feature_id"


def test_feature_endpoints_need_their_scopes(api, make_feature):
    make_feature()
    assert_problem(APIClient().get(FEATURES), 401)
    reader = api(scopes="product:read")
    body = assert_problem(reader.post(FEATURES, {"name": "X"}, format="json"), 403)
    assert "product:write" in body["detail"]
    assert reader.get(FEATURES).status_code == 200
    assert_problem(api(scopes="product:write").get(FEATURES), 403)


# --- Usage ---------------------------------------------------------------------------------------------


@pytest.fixture
def customer_and_feature(make_customer, make_feature):
    make_feature("feat_analytics", adoption_threshold=5, window_days=30)
    make_feature("feat_reports", adoption_threshold=1, window_days=30)
    return make_customer("cust_12345", segment="enterprise", health_score=60)


def test_usage_is_recorded_and_the_same_day_replaces_its_count(product_api, customer_and_feature):
    first = product_api.post(USAGE, usage(count=3), format="json")
    assert first.status_code == 201, first.content
    assert first.json() == {
        "customer_id": "cust_12345",
        "feature_id": "feat_analytics",
        "date": TODAY.isoformat(),
        "count": 3,
        "status": "created",
        "adopted": False,  # 3 of the 5 uses the threshold asks for
        "adoption_rate": 0.0,
    }
    more = product_api.post(USAGE, usage(day=TODAY - timedelta(days=3), count=2), format="json").json()
    assert (more["status"], more["adopted"], more["adoption_rate"]) == ("created", True, 0.5)
    [adopted] = events_of("feature_adopted", "cust_12345")
    assert {key: adopted.payload[key] for key in ("feature_id", "adoption_threshold", "window_days")} == {
        "feature_id": "feat_analytics",
        "adoption_threshold": 5,
        "window_days": 30,
    }
    assert adopted.payload["adopted_from"] == (TODAY - timedelta(days=3)).isoformat()

    replaced = product_api.post(USAGE, usage(count=1), format="json")
    assert replaced.status_code == 200
    assert (replaced.json()["status"], replaced.json()["adopted"]) == ("replaced", False)  # 1 + 2 < 5
    assert (
        FeatureUsage.objects.get(customer_id="cust_12345", feature_id="feat_analytics", date=TODAY).count == 1
    )
    assert FeatureUsage.objects.count() == 2
    row = FeatureAdoption.objects.get(customer_id="cust_12345", feature_id="feat_analytics")
    assert row.adopted_from is None and row.last_used_on == TODAY
    assert sum(AdoptionCell.objects.values_list("adopters", flat=True)) == 0  # moved out again
    assert len(events_of("feature_adopted")) == 1

    listing = product_api.get(USAGE, {"customer_id": "cust_12345", "date_from": TODAY.isoformat()}).json()
    assert [(row["date"], row["count"]) for row in listing["results"]] == [(TODAY.isoformat(), 1)]


def test_the_adoption_rate_reaches_the_health_engine(product_api, customer_and_feature):
    product_api.post(USAGE, usage(feature_id="feat_reports", count=1), format="json")
    customer = Customer.objects.get(pk="cust_12345")
    assert customer.adoption_rate == 0.5  # one of the two active features
    signal = CustomerSignal.objects.get(customer=customer, name="adoption_rate")
    assert signal.value == 0.5
    latest = HealthSnapshot.objects.filter(customer=customer).order_by("-id").first()
    assert latest.source == "signals"
    assert {entry["measure"]: entry["raw_value"] for entry in latest.breakdown}["adoption_rate"] == 0.5


def test_bulk_usage_is_signed_and_answers_per_item(product_api, customer_and_feature):
    items = [
        usage(count=2),
        usage(day=TODAY - timedelta(days=1), count=4),
        usage(customer_id="cust_nobody"),
        usage(feature_id="feat_nothing"),
        usage(count=9),  # the same triple as the first: an error on this one
        {"customer_id": "cust_12345", "feature_id": "feat_reports", "date": "yesterday", "count": 1},
        usage(feature_id="feat_reports", count=-1),
    ]
    response = signed_post(product_api, BULK, {"items": items})
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [result["status"] for result in results] == [
        "created",
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
    ]
    assert results[1]["adopted"] is True and results[1]["adoption_rate"] == 0.5
    assert results[2]["errors"] == [
        {"field": "customer_id", "code": "not_found", "message": "No such customer."}
    ]
    assert results[3]["errors"][0]["field"] == "feature_id"
    assert results[4]["errors"][0]["code"] == "duplicate"
    assert results[5]["errors"][0]["field"] == "date"
    assert results[6]["errors"][0]["field"] == "count"
    assert FeatureUsage.objects.count() == 2

    again = signed_post(product_api, BULK, {"items": [usage(count=2), usage(feature_id="feat_reports")]})
    assert again.status_code == 200
    assert [result["status"] for result in again.json()["results"]] == ["replaced", "created"]


def test_bulk_usage_refuses_unsigned_oversized_and_empty_requests(product_api, customer_and_feature):
    unsigned = product_api.post(BULK, {"items": [usage()]}, format="json")
    assert_problem(unsigned, 401, "signature-required")
    too_many = [usage(count=1)] * 5001
    body = assert_problem(signed_post(product_api, BULK, {"items": too_many}), 400, "validation-error")
    assert body["errors"][0]["field"] == "items"
    assert_problem(signed_post(product_api, BULK, {"items": []}), 400)
    assert_problem(signed_post(product_api, BULK, {"records": [usage()]}), 400)


def test_a_bulk_of_5000_is_written_in_a_bounded_number_of_queries(product_api, make_feature, make_customer):
    for index in range(10):
        make_feature(f"feat_b{index}")
    for index in range(50):
        make_customer(f"cust_b{index:03d}", segment="mid_market", health_score=50)
    items = [
        usage(f"cust_b{c:03d}", f"feat_b{f}", TODAY - timedelta(days=d), 1 + d)
        for c in range(50)
        for f in range(10)
        for d in range(10)
    ]
    assert len(items) == 5000
    raw = json.dumps({"items": items}).encode()
    headers = sign_request_kwargs(product_api.integration, "POST", BULK, raw)
    with CaptureQueriesContext(connection) as queries:
        response = product_api.post(BULK, data=raw, content_type="application/json", **headers)
    assert response.status_code == 200, response.content[:500]
    assert FeatureUsage.objects.count() == 5000
    assert all(result["adopted"] for result in response.json()["results"])
    assert Customer.objects.get(pk="cust_b000").adoption_rate == 1.0
    assert len(queries.captured_queries) < 120, len(queries.captured_queries)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_id": "12345"}, "customer_id"),
        ({"feature_id": "analytics"}, "feature_id"),
        ({"date": "2025-13-01"}, "date"),
        ({"date": (TODAY + timedelta(days=2)).isoformat()}, "date"),
        ({"date": (TODAY - timedelta(days=400)).isoformat()}, "date"),
        ({"count": -1}, "count"),
        ({"count": 1.5}, "count"),
        ({"count": "3"}, "count"),
        ({"count": True}, "count"),
    ],
)
def test_invalid_usage_is_400(product_api, customer_and_feature, change, field):
    body = assert_problem(
        product_api.post(USAGE, {**usage(), **change}, format="json"), 400, "validation-error"
    )
    assert [error["field"] for error in body["errors"]] == [field]
    assert not FeatureUsage.objects.exists()


def test_usage_for_unknown_customers_or_features_is_404(product_api, customer_and_feature):
    body = assert_problem(product_api.post(USAGE, usage(customer_id="cust_nobody"), format="json"), 404)
    assert "cust_nobody" in body["detail"]
    body = assert_problem(product_api.post(USAGE, usage(feature_id="feat_nothing"), format="json"), 404)
    assert "feat_nothing" in body["detail"]


def test_malformed_bodies_and_other_media_types(product_api, customer_and_feature):
    response = product_api.post(USAGE, data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed-request")
    response = product_api.post(
        USAGE, data="customer_id=cust_12345", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)
    assert_problem(product_api.get(USAGE, {"date_from": "soon"}), 400)
    assert_problem(product_api.get(FEATURES, {"is_active": "maybe"}), 400)


def test_usage_needs_product_write(api, customer_and_feature):
    assert_problem(APIClient().post(USAGE, usage(), format="json"), 401)
    body = assert_problem(api(scopes="product:read").post(USAGE, usage(), format="json"), 403)
    assert "product:write" in body["detail"]
    assert not FeatureUsage.objects.exists()


def test_a_threshold_change_recomputes_adoption(product_api, customer_and_feature):
    from domains.product.tasks import recompute_feature_adoption

    product_api.post(USAGE, usage(count=3), format="json")
    assert not FeatureAdoption.objects.get(feature_id="feat_analytics").adopted_from
    product_api.patch(f"{FEATURES}/feat_analytics", {"adoption_threshold": 3}, format="json")
    recompute_feature_adoption("feat_analytics")  # what the bulk worker runs
    assert FeatureAdoption.objects.get(feature_id="feat_analytics").adopted_from == TODAY
    assert Feature.objects.get(pk="feat_analytics").recomputing is False
    assert Customer.objects.get(pk="cust_12345").adoption_rate == 0.5
    body = product_api.get(f"{BASE}/adoption/feat_analytics").json()
    assert body["adoption_metrics"]["adopters"] == 1 and body["recomputing"] is False


def test_the_days_usage_may_be_for_are_in_the_schema(settings):
    settings.PRODUCT_USAGE_RETENTION_DAYS, settings.PRODUCT_USAGE_FUTURE_DAYS = 400, 2
    date = openapi_document()["components"]["schemas"]["UsageRequest"]["properties"]["date"]
    assert date["x-relative-to-now"] == {"earliest_seconds": -399 * 86400, "latest_seconds": 2 * 86400}
