"""The segments API with real tokens: built-in segments, live sizes, members, and every error path."""

import pytest
from rest_framework.test import APIClient

from domains.marketing.models import Segment
from tests.conftest import openapi_document

from .conftest import BASE, assert_problem, error_fields

pytestmark = pytest.mark.django_db
SEGMENTS = f"{BASE}/segments"


@pytest.fixture
def customers(make_customer):
    make_customer("cust_a", health_score=20, engagement_score=3, segment="enterprise")  # critical, low
    make_customer("cust_b", health_score=40, engagement_score=8, segment="mid_market")  # high
    make_customer("cust_c", health_score=80, engagement_score=4, lifecycle_stage="at_risk")  # stage, low
    make_customer("cust_d", health_score=90, engagement_score=9)
    make_customer("cust_e", health_score=70)  # no engagement score


def test_builtin_segments_exist_with_their_live_sizes(marketing_api, customers):
    body = marketing_api.get(SEGMENTS, {"ordering": "key"}).json()
    by_key = {segment["key"]: segment for segment in body["results"]}
    assert by_key["at_risk"]["size"] == 3  # a, b (risk), c (stage)
    assert by_key["low_engagement"]["size"] == 2  # a, c; e has no score
    assert by_key["at_risk"]["is_builtin"] is True
    assert by_key["at_risk"]["filters"] == {
        "any": [{"risk_level": ["high", "critical"]}, {"lifecycle_stage": ["at_risk"]}]
    }
    assert body["next"] is None


def test_create_get_and_patch_a_segment(marketing_api, customers):
    created = marketing_api.post(
        SEGMENTS,
        {"key": "low_nps", "name": "Detractors", "filters": {"nps_score_max": 0, "segment": "enterprise"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created["Location"].endswith(f"{SEGMENTS}/low_nps")
    assert created.json()["filters"] == {"nps_score_max": 0, "segment": ["enterprise"]}
    assert created.json()["size"] == 0

    patched = marketing_api.patch(
        f"{SEGMENTS}/low_nps", {"filters": {"health_score_max": 50}, "name": "Weak"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["size"] == 2 and patched.json()["name"] == "Weak"
    assert marketing_api.get(f"{SEGMENTS}/low_nps/").json()["size"] == 2

    # the size is live: a new matching customer counts at once
    from domains.customers import services

    services.customer_create(customer_id="cust_f", data={"name": "F", "health_score": 10})
    assert marketing_api.get(f"{SEGMENTS}/low_nps").json()["size"] == 3


def test_members_are_the_customers_the_filters_select(marketing_api, customers):
    body = marketing_api.get(f"{SEGMENTS}/at_risk/members", {"ordering": "health_score"}).json()
    assert [member["customer_id"] for member in body["results"]] == ["cust_a", "cust_b", "cust_c"]
    assert body["results"][0]["risk_level"] == "critical"
    page = marketing_api.get(
        f"{SEGMENTS}/at_risk/members", {"page_size": 2, "ordering": "health_score"}
    ).json()
    assert len(page["results"]) == 2 and page["next"]
    assert marketing_api.get(page["next"]).json()["results"][0]["customer_id"] == "cust_c"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"key": "x", "name": "X", "filters": {"arr_min": 1}}, {"filters.arr_min"}),
        ({"key": "x", "name": "X", "filters": {"risk_level": ["bad"]}}, {"filters.risk_level"}),
        ({"key": "x", "name": "X", "filters": {"any": [{"stage": "onboarding"}]}}, {"filters.any.0.stage"}),
        ({"key": "x", "name": "X", "filters": "risk"}, {"filters"}),
        ({"key": "Bad Key", "name": "X", "filters": {}}, {"key"}),
        ({"name": "X"}, {"key", "filters"}),
    ],
)
def test_invalid_segments_are_400_with_dotted_fields(marketing_api, body, fields):
    response = marketing_api.post(SEGMENTS, body, format="json")
    assert_problem(response, 400, "validation-error")
    assert error_fields(response) == fields
    assert not Segment.objects.filter(key="x").exists()


def test_a_key_in_use_is_409_and_the_key_is_fixed(marketing_api):
    assert_problem(
        marketing_api.post(SEGMENTS, {"key": "at_risk", "name": "Again", "filters": {}}, format="json"),
        409,
        "segment-exists",
    )
    response = marketing_api.patch(f"{SEGMENTS}/at_risk", {"key": "other"}, format="json")
    assert_problem(response, 400)
    assert error_fields(response) == {"key"}
    response = marketing_api.patch(
        f"{SEGMENTS}/at_risk", {"filters": {"lifecycle_stage": "x"}}, format="json"
    )
    assert error_fields(response) == {"filters.lifecycle_stage"}


def test_unknown_segment_is_404_and_guards_apply(marketing_api, api):
    assert_problem(marketing_api.get(f"{SEGMENTS}/nothing_here"), 404)
    assert_problem(marketing_api.get(f"{SEGMENTS}/nothing_here/members"), 404)
    assert_problem(marketing_api.patch(f"{SEGMENTS}/nothing_here", {"name": "x"}, format="json"), 404)
    assert_problem(APIClient().get(SEGMENTS), 401)
    reader = api(scopes="marketing:read")
    body = assert_problem(reader.post(SEGMENTS, {"key": "a", "name": "A", "filters": {}}, format="json"), 403)
    assert "marketing:write" in body["detail"]
    assert_problem(api(scopes="customers:read").get(SEGMENTS), 403)


def test_malformed_json_and_wrong_media_type(marketing_api):
    assert_problem(marketing_api.post(SEGMENTS, data="{", content_type="application/json"), 400)
    assert_problem(marketing_api.post(SEGMENTS, data="key=a", content_type="text/plain"), 415)


def test_a_segment_of_everyone_counts_everyone(marketing_api, customers):
    created = marketing_api.post(SEGMENTS, {"key": "everyone", "name": "All", "filters": {}}, format="json")
    assert created.json()["size"] == 5
    listed = {s["key"]: s["size"] for s in marketing_api.get(SEGMENTS).json()["results"]}
    assert listed == {"at_risk": 3, "everyone": 5, "low_engagement": 2}


def test_the_key_may_be_sent_back_unchanged(marketing_api):
    same = marketing_api.patch(f"{SEGMENTS}/at_risk", {"key": "at_risk", "name": "At risk"}, format="json")
    assert same.status_code == 200, same.content
    properties = openapi_document()["components"]["schemas"]["PatchedSegmentRequest"]["properties"]
    assert properties["key"]["readOnly"] is True
