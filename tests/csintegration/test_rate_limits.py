"""Rate limits per client and category (CONTRACT.md §4): headers, 429, isolation, concurrency, Redis
outage, and overload shedding."""

import json
import logging
import re
import threading
from contextlib import ExitStack, contextmanager

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient

from csintegration.api.ratelimit import in_flight
from csintegration.api.views import PlatformAPIView
from tests.conftest import fetch_token, sign_request_kwargs

CUSTOMERS = "/api/v1/cs-integration/customers"
_HEADER = re.compile(r'^"(?P<category>[a-z]+)";(?P<params>.*)$')


def parse_rate_header(value: str) -> tuple[str, dict[str, int]]:
    match = _HEADER.match(value)
    assert match, value
    params = dict(item.split("=") for item in match["params"].split(";"))
    return match["category"], {name: int(number) for name, number in params.items()}


def signed_bulk(client, customers):
    body = json.dumps({"customers": customers}).encode()
    signature = sign_request_kwargs(client.integration, "POST", f"{CUSTOMERS}/bulk", body)
    return client.post(f"{CUSTOMERS}/bulk", data=body, content_type="application/json", **signature)


@pytest.mark.django_db
def test_headers_count_down_then_429_with_retry_after(api):
    client = api(rate_limits={"standard": "5/hour"})
    for expected_remaining in (4, 3, 2, 1, 0):
        response = client.get(CUSTOMERS)
        assert response.status_code == 200
        assert response["RateLimit-Policy"] == '"standard";q=5;w=3600'
        category, state = parse_rate_header(response["RateLimit"])
        assert category == "standard" and state["r"] == expected_remaining
        assert 0 < state["t"] <= 3600

    refused = client.get(CUSTOMERS)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["type"].endswith("quota-exceeded")
    assert body["violated-policies"] == ["standard"]
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert parse_rate_header(refused["RateLimit"])[1]["r"] == 0


@pytest.mark.django_db
def test_quota_defaults_come_from_settings(api):
    client = api()
    response = client.get(CUSTOMERS)
    assert response["RateLimit-Policy"] == '"standard";q=1000;w=3600'
    with override_settings(
        RATE_LIMIT_DEFAULTS={"standard": "7/minute", "realtime": "1/hour", "bulk": "1/day", "admin": "1/hour"}
    ):
        response = client.get(CUSTOMERS)
    # A new policy is a new window: the first request under it leaves 6 of 7.
    assert response["RateLimit-Policy"] == '"standard";q=7;w=60'
    assert parse_rate_header(response["RateLimit"])[1]["r"] == 6


@pytest.mark.django_db
def test_one_clients_exhaustion_leaves_another_untouched(api):
    first, second = api(rate_limits={"standard": "2/hour"}), api(rate_limits={"standard": "2/hour"})
    assert [first.get(CUSTOMERS).status_code for _ in range(3)] == [200, 200, 429]
    response = second.get(CUSTOMERS)
    assert response.status_code == 200
    assert parse_rate_header(response["RateLimit"])[1]["r"] == 1


@pytest.mark.django_db
def test_each_category_counts_separately(api):
    client = api(rate_limits={"standard": "2/hour", "bulk": "1/day"})
    customer = {"name": "Bulk Co", "segment": "enterprise", "arr": 1000, "success_manager": "a@example.com"}

    assert [client.get(CUSTOMERS).status_code for _ in range(3)] == [200, 200, 429]
    bulk = signed_bulk(client, [customer])
    assert bulk.status_code == 200, bulk.content
    assert bulk["RateLimit-Policy"] == '"bulk";q=1;w=86400'
    assert parse_rate_header(bulk["RateLimit"])[1]["r"] == 0

    refused = signed_bulk(client, [{**customer, "name": "Bulk Co 2"}])
    assert refused.status_code == 429
    assert refused.json()["violated-policies"] == ["bulk"]
    assert client.get(CUSTOMERS).json()["violated-policies"] == ["standard"]


@pytest.mark.django_db(transaction=True)
def test_no_more_requests_than_the_quota_are_admitted_under_concurrency(make_integration_client):
    credentials = make_integration_client(scopes="customers:read", rate_limits={"standard": "50/hour"})
    token = fetch_token(credentials)["access_token"]
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def worker():
        from django.db import connection

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            start.wait(timeout=10)
            for _ in range(4):
                status = client.get(f"{CUSTOMERS}?page_size=1").status_code
                with lock:
                    statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(statuses) == 80
    assert statuses.count(200) == 50
    assert statuses.count(429) == 30


@pytest.mark.django_db
def test_the_api_keeps_serving_when_redis_is_unreachable(api, caplog):
    client = api(rate_limits={"standard": "3/hour"})
    with override_settings(REDIS_URL="redis://127.0.0.1:6390/0"), caplog.at_level(logging.ERROR):
        responses = [client.get(CUSTOMERS) for _ in range(4)]
    assert [response.status_code for response in responses] == [200, 200, 200, 429]
    assert [parse_rate_header(r["RateLimit"])[1]["r"] for r in responses[:3]] == [2, 1, 0]
    assert any("cannot reach Redis" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
def test_health_reports_the_cache_failing_when_redis_is_down():
    dead_redis = {
        "default": {
            "BACKEND": "csintegration.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6390/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=dead_redis):
        response = APIClient().get("/api/v1/cs-integration/health")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "failing"


# --- Overload shedding: probe views, one per category, served by this module as a URLconf ------------


class _Probe(PlatformAPIView):
    scope_area = "customers"

    def get(self, request):
        return Response({"in_flight": in_flight.value})


class BulkProbe(_Probe):
    rate_limit_category = "bulk"


class RealtimeProbe(_Probe):
    rate_limit_category = "realtime"


class StandardProbe(_Probe):
    rate_limit_category = "standard"


class AdminProbe(_Probe):
    rate_limit_category = "admin"


urlpatterns = [
    path("api/probe/bulk", BulkProbe.as_view()),
    path("api/probe/realtime", RealtimeProbe.as_view()),
    path("api/probe/standard", StandardProbe.as_view()),
    path("api/probe/admin", AdminProbe.as_view()),
]


@contextmanager
def others_in_flight(count: int):
    """Holds ``count`` slots of the gauge, as that many concurrent requests of this process would."""
    with ExitStack() as stack:
        for _ in range(count):
            stack.enter_context(in_flight.track())
        yield


@pytest.fixture
def probe_client(api):
    client = api(scopes="customers:read")  # its token comes from the real /o/token/ first
    with override_settings(ROOT_URLCONF=__name__, OVERLOAD_SHED_AT={"bulk": 2, "realtime": 4}):
        yield client


@pytest.mark.django_db
def test_overload_sheds_bulk_before_realtime_before_critical_work(probe_client):
    client = probe_client

    def statuses() -> dict[str, int]:
        return {
            name: client.get(f"/api/probe/{name}").status_code
            for name in ("bulk", "realtime", "standard", "admin")
        }

    # The gauge counts the request itself: alone, the probe sees one request in flight.
    assert client.get("/api/probe/standard").json() == {"in_flight": 1}
    assert statuses() == {"bulk": 200, "realtime": 200, "standard": 200, "admin": 200}

    def with_others_in_flight(count: int) -> dict[str, int]:
        with others_in_flight(count):
            return statuses()

    assert with_others_in_flight(1) == {"bulk": 200, "realtime": 200, "standard": 200, "admin": 200}
    assert with_others_in_flight(2) == {"bulk": 503, "realtime": 200, "standard": 200, "admin": 200}
    assert with_others_in_flight(4) == {"bulk": 503, "realtime": 503, "standard": 200, "admin": 200}
    assert with_others_in_flight(50) == {"bulk": 503, "realtime": 503, "standard": 200, "admin": 200}
    assert in_flight.value == 0

    with others_in_flight(2):
        shed = client.get("/api/probe/bulk")
    assert shed.status_code == 503
    assert shed["Content-Type"] == "application/problem+json"
    assert shed.json()["type"].endswith("overloaded")
    assert int(shed["Retry-After"]) >= 1


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL")
def test_one_redis_script_counts_and_reads_the_window_as_limits_does():
    """The hit and the window's state come from one script run on the ``limits`` key, and ``limits``'
    own reads of that window agree with it."""
    import time
    import uuid

    from limits import parse

    from csintegration.api.ratelimit import ClientRateLimiter

    limiter, item, client_id = ClientRateLimiter(), parse("3/minute"), uuid.uuid4().hex
    answers = [limiter.hit(item, client_id, "standard") for _ in range(4)]
    assert [admitted for admitted, _, _ in answers] == [True, True, True, False]
    assert [remaining for _, remaining, _ in answers] == [2, 1, 0, 0]
    assert all(time.time() < reset <= time.time() + 60 for _, _, reset in answers)
    redis_limiter = limiter._redis_limiter()
    assert redis_limiter is not None and not redis_limiter.test(item, client_id, "standard")
    assert redis_limiter.get_window_stats(item, client_id, "standard").remaining == 0
    assert limiter.hit(parse("0/minute"), client_id, "admin")[0] is False
