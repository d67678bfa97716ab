"""GET /api/v1/cs-integration/events: the event log, its filters, its pages and its scope."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import resolve
from django.utils import timezone

from csintegration.events import publish
from csintegration.events.models import Event

URL = "/api/v1/cs-integration/events"
#: what reads every type of the log below
READ_ALL = "customers:read sales:read operations:read"
START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def event_log(db):
    """Six events an hour apart: customer.updated and churn risk for cust_a, expansion for cust_b."""
    kinds = [
        ("customer.updated", "cust_a", {"changes": ["arr"]}),
        ("churn_risk_detected", "cust_a", {"risk_level": "high"}),
        ("test.sales_event", "cust_b", {"expansion_score": 81}),
        ("customer.updated", "cust_b", {"changes": ["name"]}),
        ("test.operations_event", None, {"workflow_id": "run_1"}),
        ("churn_risk_detected", "cust_b", {"risk_level": "critical"}),
    ]
    events = [
        publish(event_type, customer_id=customer_id, payload=payload, occurred_at=START + timedelta(hours=n))
        for n, (event_type, customer_id, payload) in enumerate(kinds)
    ]
    # As if their fan-out were still pending (an inline subscriber such as webhooks dispatches at once).
    Event.objects.update(dispatched_at=None)
    return events


def ids(response) -> list[str]:
    return [item["event_id"] for item in response.json()["results"]]


def test_lists_newest_first_in_the_documented_shape(api, event_log):
    response = api(scopes=READ_ALL).get(URL)
    assert response.status_code == 200
    assert ids(response) == [event.event_id for event in reversed(event_log)]
    newest = response.json()["results"][0]
    assert newest == {
        "event_id": event_log[-1].event_id,
        "event_type": "churn_risk_detected",
        "customer_id": "cust_b",
        "payload": {
            "event": "churn_risk_detected",
            "customer_id": "cust_b",
            "risk_level": "critical",
            "timestamp": "2024-06-01T17:00:00Z",
        },
        "occurred_at": "2024-06-01T17:00:00Z",
        "dispatched_at": None,
    }


def test_the_log_shows_only_the_types_the_token_may_read(api, event_log):
    customers_only = api(scopes="customers:read")
    assert ids(customers_only.get(URL)) == [
        event.event_id for event in reversed(event_log) if not event.event_type.startswith("test.")
    ]
    # Another area's event does not exist for it, in the list or by id, even when asked for by type.
    assert ids(customers_only.get(URL, {"event_type": "test.sales_event"})) == []
    assert customers_only.get(f"{URL}/{event_log[2].event_id}").status_code == 404
    with_sales = api(scopes="customers:read sales:read")
    assert with_sales.get(f"{URL}/{event_log[2].event_id}").status_code == 200
    assert event_log[4].event_id not in ids(with_sales.get(URL))


def test_filters_combine(api, event_log):
    client = api(scopes=READ_ALL)
    churn_or_expansion = client.get(URL, {"event_type": ["churn_risk_detected", "test.sales_event"]})
    assert ids(churn_or_expansion) == [event_log[5].event_id, event_log[2].event_id, event_log[1].event_id]
    of_a = client.get(URL, {"customer_id": "cust_a", "event_type": "churn_risk_detected"})
    assert ids(of_a) == [event_log[1].event_id]
    window = client.get(
        URL, {"occurred_after": "2024-06-01T13:00:00Z", "occurred_before": "2024-06-01T15:00:00Z"}
    )
    assert ids(window) == [event_log[2].event_id, event_log[1].event_id]  # after inclusive, before exclusive
    offset = client.get(URL, {"occurred_after": "2024-06-01T16:00:00+02:00"})  # 14:00 UTC
    assert ids(offset) == [event.event_id for event in reversed(event_log[2:])]
    assert ids(client.get(URL, {"dispatched": "true"})) == []
    assert len(ids(client.get(URL, {"dispatched": "false"}))) == 6
    Event.objects.filter(pk=event_log[0].event_id).update(dispatched_at=timezone.now())
    assert ids(client.get(URL, {"dispatched": "true"})) == [event_log[0].event_id]


def test_cursor_pages_walk_the_whole_log(api, event_log):
    client = api(scopes=READ_ALL)
    seen, url = [], f"{URL}?page_size=4"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += ids(page)
        url = page.json()["next"]
    assert seen == [event.event_id for event in reversed(event_log)]
    first = client.get(URL, {"page_size": 4}).json()
    assert len(first["results"]) == 4 and first["previous"] is None and first["next"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"occurred_after": "yesterday"}, "occurred_after"),
        ({"occurred_before": "2024-13-45T00:00:00Z"}, "occurred_before"),
        ({"event_type": "health_changed"}, "event_type"),
        ({"customer_id": ""}, "customer_id"),
        ({"dispatched": "maybe"}, "dispatched"),
        ({"page_size": "501"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_a_bad_filter_is_a_400_problem(api, event_log, params, field):
    response = api(scopes=READ_ALL).get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 400 and body["instance"] == URL
    assert field in {error["field"] for error in body["errors"]}


def test_detail(api, event_log):
    client = api(scopes=READ_ALL)
    event = event_log[2]
    response = client.get(f"{URL}/{event.event_id}")
    assert response.status_code == 200
    assert response.json()["payload"]["expansion_score"] == 81
    assert client.get(f"{URL}/{event.event_id}/").status_code == 200  # a trailing slash is tolerated
    missing = client.get(f"{URL}/evt_0000000000nothere0000000000")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/problem+json")


def test_the_log_does_not_shadow_other_event_routes():
    # POST …/events/health-change belongs to the customers domain; the detail route matches evt_ ids only.
    match = resolve(f"{URL}/health-change")
    assert "EventViewSet" not in repr(match.func)
    assert resolve(f"{URL}/evt_01jd3k").url_name == "event-detail"


def test_needs_a_token_and_the_customers_read_scope(api, event_log, client):
    anonymous = client.get(URL)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong_scope = api(scopes="marketing:read").get(URL)
    assert wrong_scope.status_code == 403 and "customers:read" in wrong_scope.json()["detail"]
    writer = api(scopes="customers:write events:write").get(f"{URL}/{event_log[0].event_id}")
    assert writer.status_code == 403
    invalid = client.get(URL, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert invalid.status_code == 401


def test_the_log_is_read_only(api, event_log):
    client = api(scopes="customers:read customers:write events:write")
    assert client.post(URL, {"event_type": "customer.created"}).status_code == 405
    assert client.delete(f"{URL}/{event_log[0].event_id}").status_code == 405
