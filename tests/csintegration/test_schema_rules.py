"""The OpenAPI document states what the server enforces: links from creates, signed operations, the
Idempotency-Key's format, closed request bodies, bounded parameters."""

import json

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

BASE = "/api/v1/cs-integration"


def _document() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _query(operation: dict, name: str) -> dict:
    return next(p["schema"] for p in operation["parameters"] if p["in"] == "query" and p["name"] == name)


def test_creates_link_to_the_operations_on_what_they_created():
    paths = _document()["paths"]
    customer_links = paths[f"{BASE}/customers"]["post"]["responses"]["201"]["links"]
    assert {link["parameters"]["customer_id"] for link in customer_links.values()} == {
        "$response.body#/customer_id"
    }
    assert {
        paths[f"{BASE}/customers/{{customer_id}}"][method]["operationId"] for method in ("get", "delete")
    } <= set(customer_links)
    webhook_links = paths[f"{BASE}/webhooks"]["post"]["responses"]["201"]["links"]
    assert {link["parameters"]["endpoint_id"] for link in webhook_links.values()} == {"$response.body#/id"}


def test_signed_operations_are_marked():
    paths = _document()["paths"]
    assert paths[f"{BASE}/customers/{{customer_id}}"]["delete"]["x-signature-required"] is True
    assert paths[f"{BASE}/customers/bulk"]["post"]["x-signature-required"] is True
    assert "x-signature-required" not in paths[f"{BASE}/customers"]["post"]


def test_parameters_and_bodies_are_bounded_as_the_server_reads_them():
    document = _document()
    customers = document["paths"][f"{BASE}/customers"]
    key = next(p["schema"] for p in customers["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert key["minLength"] == 1 and key["maxLength"] == 255 and key["pattern"]
    assert _query(customers["get"], "health_score_min") == {"type": "integer", "minimum": 0, "maximum": 100}
    assert _query(customers["get"], "search")["minLength"] == 1
    assert _query(customers["get"], "cursor")["minLength"] == 1
    assert _query(customers["get"], "ordering")["pattern"].startswith("^-?(")
    health = document["paths"][f"{BASE}/customers/{{customer_id}}/health"]["get"]
    assert _query(health, "history_limit") == {"type": "integer", "minimum": 0, "maximum": 200}
    request = document["components"]["schemas"]["CustomerRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["arr"] == {
        "type": "number",
        "maximum": 999999999999.99,
        "minimum": 0.0,
        "description": "Annual recurring revenue (rounded to cents)",
    }
