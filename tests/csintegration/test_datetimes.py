"""Every time the API reads, in a query or a body, is a strict RFC 3339 time within PostgreSQL's reach."""

import json
import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from csintegration.api.datetimes import (
    RFC3339_PATTERN,
    RFC3339DateField,
    full_date_pattern,
    parse_rfc3339,
    year_range_pattern,
)

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cs-integration"
REFUSED = [
    "2025-01-01T00:00:00+16:40",  # an offset PostgreSQL cannot hold
    "2025-01-01T00:00:00+14:01",
    "0244-02-15T00:00:00Z",  # would print as "244-02-15T…"
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "2025-01-01T00:00:00",  # no offset
    "2025-01-01",
    "2025-02-30T00:00:00Z",
    "2025-01-01T24:00:00Z",
    "2025-01-01 00:00:00Z",
    "yesterday",
]
ACCEPTED = ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00.123456789-14:00", "1970-01-01T00:00:00+14:00"]


@pytest.mark.parametrize("value", REFUSED)
def test_refused_values(value):
    assert parse_rfc3339(value) is None


@pytest.mark.parametrize("value", ACCEPTED)
def test_accepted_values_are_instants_in_utc(value):
    parsed = parse_rfc3339(value)
    assert parsed is not None and parsed.utcoffset().total_seconds() == 0


@pytest.fixture
def client_with_endpoint(api, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client = api(scopes="customers:read customers:write events:write webhooks:manage")
    endpoint = client.post(
        f"{BASE}/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["*"]}, format="json"
    )
    client.post(f"{BASE}/customers", {"customer_id": "cust_time1", "name": "Time"}, format="json")
    return client, endpoint.json()["id"]


def _uses(endpoint_id: str):
    return [
        ("GET", f"{BASE}/customers", "updated_since"),
        ("GET", f"{BASE}/events", "occurred_after"),
        ("GET", f"{BASE}/events", "occurred_before"),
        ("GET", f"{BASE}/webhooks/{endpoint_id}/deliveries", "created_since"),
        ("POST", f"{BASE}/webhooks/{endpoint_id}/replay", "since"),
        ("POST", f"{BASE}/events/health-change", "timestamp"),
        ("POST", f"{BASE}/customers/cust_time1/signals", "observed_at"),
    ]


def _call(client, method: str, path: str, field: str, value: str):
    if method == "GET":
        return client.get(path, {field: value})
    body = {
        "since": {},
        "timestamp": {
            "customer_id": "cust_time1",
            "previous_score": 50,
            "new_score": 60,
            "change_reason": "x",
        },
        "observed_at": {"signals": {"login_frequency": 3}},
    }[field]
    return client.post(path, {**body, field: value}, format="json")


@pytest.mark.parametrize(
    "value", ["2025-01-01T00:00:00+16:40", "0244-02-15T00:00:00Z", "2025-01-01T00:00:00"]
)
def test_every_time_input_refuses_what_is_not_rfc_3339(client_with_endpoint, value):
    client, endpoint_id = client_with_endpoint
    for method, path, field in _uses(endpoint_id):
        response = _call(client, method, path, field, value)
        assert response.status_code == 400, (path, field, response.content)
        assert response.json()["errors"][0]["field"] == field


def test_every_time_input_accepts_rfc_3339(client_with_endpoint):
    client, endpoint_id = client_with_endpoint
    for method, path, field in _uses(endpoint_id):
        response = _call(client, method, path, field, "2025-01-01T00:00:00.5+01:00")
        assert response.status_code < 300, (path, field, response.content)


def test_every_time_the_schema_takes_is_documented_with_the_rule():
    document = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("format") == "date-time" and not node.get("readOnly"):
                found.append((where, node.get("pattern")))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                walk(parameter.get("schema", {}), f"{method} {path} ?{parameter['name']}")
    for name, component in document["components"]["schemas"].items():
        if name.endswith("Request"):  # request bodies (COMPONENT_SPLIT_REQUEST)
            walk(component, name)
    assert found, "no time inputs found: the walk is broken"
    assert [where for where, pattern in found if pattern != RFC3339_PATTERN] == []


@pytest.mark.parametrize(
    "first, last", [(1970, 2199), (1975, 1983), (2000, 2000), (1999, 2001), (1970, 9998)]
)
def test_a_year_range_pattern_matches_exactly_its_years(first, last):
    years = re.compile(f"^({year_range_pattern(first, last)})$")
    assert [year for year in range(1000, 10000) if years.match(str(year))] == list(range(first, last + 1))


def test_a_date_field_reads_exactly_the_dates_its_pattern_states():
    from datetime import date

    from rest_framework.exceptions import ValidationError

    field = RFC3339DateField(first_year=1970, last_year=2199)
    assert field.schema()["pattern"] == full_date_pattern(1970, 2199)
    assert field.to_internal_value("2199-12-31") == date(2199, 12, 31)
    for value in (
        "1969-12-31",
        "2200-01-01",
        "20250131",
        "2025-W05-1",
        "2025-02-30",
        " 2025-01-31",
        20250131,
    ):
        with pytest.raises(ValidationError):
            field.to_internal_value(value)
        assert not re.fullmatch(field.schema()["pattern"], str(value)) or value == "2025-02-30"
