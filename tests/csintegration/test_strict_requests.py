"""Every operation refuses what it does not declare: query parameters (as Stripe does) and body fields,
and takes JSON types as the schema states them."""

import json
import re

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework.test import APIClient

from tests.conftest import fetch_token

pytestmark = pytest.mark.django_db
CUSTOMERS = "/api/v1/cs-integration/customers"
ALL_SCOPES = " ".join(settings.API_SCOPES)


def _document() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _sample(schema: dict) -> str:
    """A made-up value of a path parameter that its pattern admits (``cust_nobody``, ``2026-q1``)."""
    pattern = (schema or {}).get("pattern", "")
    for candidate in ("nobody", "2026-q1"):
        prefix = re.match(r"\^([a-z]+_)", pattern)
        value = f"{prefix.group(1)}{candidate}" if prefix else candidate
        if not pattern or re.fullmatch(pattern.strip("^$"), value):
            return value
    raise AssertionError(f"no made-up value for the pattern {pattern}")


def _concrete(path: str, operation: dict) -> str:
    """A path of the document with made-up ids: the parameters are judged before the resource is looked up."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", _sample(parameter.get("schema")))
    assert "{" not in path, f"no made-up id for {path}"
    return path


def test_every_get_of_the_document_refuses_an_undeclared_query_parameter(api):
    client = api(scopes=ALL_SCOPES)
    operations = [
        (path, {**operation, "parameters": [*item.get("parameters", []), *operation.get("parameters", [])]})
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
        if method == "get"
    ]
    assert len(operations) >= 8
    for path, operation in operations:
        response = client.get(_concrete(path, operation), {"riskLevel": "high"})
        assert response.status_code == 400, (path, response.status_code, response.content)
        assert response.json()["errors"][0]["field"] == "riskLevel", path
        # What the operation declares is still taken.
        declared = [parameter for parameter in operation.get("parameters", []) if parameter["in"] == "query"]
        if any(parameter["name"] == "page_size" for parameter in declared):
            assert client.get(_concrete(path, operation), {"page_size": 5}).status_code in (200, 404), path


def test_declared_parameters_of_a_list_and_of_a_detail(api):
    client = api()
    assert (
        client.get(CUSTOMERS, {"risk_level": "high", "ordering": "-arr", "page_size": 5}).status_code == 200
    )
    client.post(CUSTOMERS, {"customer_id": "cust_strict1", "name": "Strict"}, format="json")
    assert client.get(f"{CUSTOMERS}/cust_strict1/health", {"history_limit": 3}).status_code == 200
    refused = client.get(f"{CUSTOMERS}/cust_strict1", {"risk_level": "high"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "risk_level"


def test_a_method_the_view_does_not_take_is_405_whatever_its_query():
    assert APIClient().generic("TRACE", f"{CUSTOMERS}?riskLevel=high").status_code in (401, 405)


def test_an_undeclared_body_field_is_refused_and_a_read_only_one_ignored(api):
    client = api()
    refused = client.post(CUSTOMERS, {"name": "Acme", "healthScore": 80}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "healthScore"
    nested = client.post(CUSTOMERS, {"name": "Acme", "success_metrics": {"nps": 3}}, format="json")
    assert nested.status_code == 400 and nested.json()["errors"][0]["field"] == "success_metrics.nps"
    created = client.post(CUSTOMERS, {"name": "Acme", "created_at": "2020-01-01T00:00:00Z"}, format="json")
    assert created.status_code == 201, created.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("health_score", "80"),
        ("health_score", True),
        ("name", 5),
        ("arr", "1000"),
        ("arr", False),
        ("success_metrics", {"engagement_score": False}),
        ("success_metrics", {"adoption_rate": "0.5"}),
    ],
)
def test_json_types_are_kept(api, field, value):
    response = api().post(CUSTOMERS, {"name": "Typed", field: value}, format="json")
    assert response.status_code == 400, response.content


def test_strings_are_taken_as_sent(api):
    client = api()
    response = client.post(CUSTOMERS, {"customer_id": "cust_spaces", "name": " Acme "}, format="json")
    assert response.status_code == 201 and response.json()["name"] == " Acme "


def test_money_is_rounded_to_cents_within_its_range(api):
    client = api()
    rounded = client.post(CUSTOMERS, {"name": "Cents", "arr": 0.30000000000000004}, format="json")
    assert rounded.status_code == 201 and rounded.json()["arr"] == 0.3
    assert client.post(CUSTOMERS, {"name": "Big", "arr": 999999999999.99}, format="json").status_code == 201
    assert client.post(CUSTOMERS, {"name": "Too big", "arr": 1e12}, format="json").status_code == 400
    assert client.post(CUSTOMERS, {"name": "Negative", "arr": -0.001}, format="json").status_code == 400


def test_the_token_fixture_still_works_for_the_oauth_views(make_integration_client):
    # /o/ is not an API view: its form fields are not judged by these rules.
    assert fetch_token(make_integration_client())["access_token"]
