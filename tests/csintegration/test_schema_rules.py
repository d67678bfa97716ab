"""The OpenAPI document states what the server enforces: links from creates, signed operations, the
Idempotency-Key's format, closed request bodies, bounded parameters."""

import json

import pytest
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


def test_choice_filters_state_their_choices_even_when_a_callable_gives_them():
    from csintegration.events.types import event_types

    events = _document()["paths"][f"{BASE}/events"]["get"]
    assert _query(events, "event_type")["items"]["enum"] == [t.name for t in event_types()]


def test_a_nullable_free_form_field_admits_any_value_once():
    # oneOf [{}, {"type": "null"}] would match null twice, which oneOf refuses.
    output = _document()["components"]["schemas"]["Step"]["properties"]["output"]
    assert "oneOf" not in output and "anyOf" not in output and "type" not in output


def test_a_bounded_integer_reads_what_it_documents():
    from rest_framework.exceptions import ValidationError
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from csintegration.api.query import BoundedInteger

    days = BoundedInteger("days", 1, 30, 7, "The window")
    parameter = days.parameter()
    assert (parameter.name, parameter.location) == ("days", "query")
    assert parameter.type == {"type": "integer", "minimum": 1, "maximum": 30}
    assert parameter.description == "The window: an integer from 1 to 30 (default 7)"

    def read(query: str):
        return days.read(Request(APIRequestFactory().get(f"/x{query}")))

    assert read("") == 7 and read("?days=1") == 1 and read("?days=30") == 30
    for value in ("0", "31", "-1", "1.5", "abc", "", "²", "٣", "9" * 12):
        with pytest.raises(ValidationError) as refused:
            read(f"?days={value}")
        assert refused.value.detail == {"days": ["An integer from 1 to 30."]}


class _Thing:
    key = "alpha"
    name = "Alpha"


def _thing_serializer():
    from rest_framework import serializers

    from csintegration.api.updates import CreateOnlyFieldsMixin, NonEmptyBodyMixin

    class ThingSerializer(CreateOnlyFieldsMixin, NonEmptyBodyMixin, serializers.Serializer):
        create_only_fields = ("key",)
        key = serializers.CharField()
        name = serializers.CharField(required=False)

    return ThingSerializer


def test_a_create_only_field_may_be_repeated_not_changed_and_an_update_names_something():
    serializer_class = _thing_serializer()
    assert serializer_class(data={"key": "beta", "name": "B"}).is_valid()  # a create sets it
    same = serializer_class(_Thing(), data={"key": "alpha", "name": "A"}, partial=True)
    assert same.is_valid(), same.errors
    other = serializer_class(_Thing(), data={"key": "beta"}, partial=True)
    assert not other.is_valid()
    assert other.errors["key"][0].code == "immutable"
    empty = serializer_class(_Thing(), data={}, partial=True)
    assert not empty.is_valid()
    assert empty.errors["non_field_errors"] == ["Send at least one of key, name."]
    assert empty.errors["non_field_errors"][0].code == "empty"


def test_a_patch_body_marks_create_only_fields_read_only_and_needs_a_field():
    schemas = _document()["components"]["schemas"]
    assert schemas["PatchedSegmentRequest"]["properties"]["key"]["readOnly"] is True
    assert "readOnly" not in schemas["SegmentRequest"]["properties"]["key"]  # a create sets it
    assert schemas["PatchedTaskUpdateRequest"]["minProperties"] == 1
    # …and must be sent: a PATCH without a body reads as {}.
    task_patch = _document()["paths"]["/api/v1/cs-ops/tasks/{task_id}"]["patch"]
    assert task_patch["requestBody"]["required"] is True


def test_a_validator_regex_is_published_as_an_ecma_pattern():
    from csintegration.api.schema import json_schema_pattern

    assert json_schema_pattern(r"^cust_[A-Za-z0-9_-]{1,59}\Z") == "^cust_[A-Za-z0-9_-]{1,59}$"


def _links(document: dict, path: str, method: str, code: str) -> dict:
    return {
        name: link["parameters"]
        for name, link in document["paths"][path][method]["responses"][code].get("links", {}).items()
    }


def test_lists_and_creates_link_to_every_operation_on_what_they_yield():
    document = _document()
    # A list links to the read and update of its first item, never to a delete.
    tasks = _links(document, "/api/v1/cs-ops/tasks", "get", "200")
    assert tasks["cs_ops_tasks_partial_update"] == {"task_id": "$response.body#/results/0/task_id"}
    customers = _links(document, f"{BASE}/customers", "get", "200")
    assert "cs_integration_customers_retrieve" in customers
    assert "cs_integration_customers_destroy" not in customers
    # A create links below its path, as deep as the answer and the path supply every parameter.
    webhooks = _links(document, f"{BASE}/webhooks", "post", "201")
    assert webhooks["cs_integration_webhooks_deliveries_list"] == {"endpoint_id": "$response.body#/id"}
    assert "cs_integration_webhooks_destroy" in webhooks
    deliveries = _links(document, f"{BASE}/webhooks/{{endpoint_id}}/deliveries", "get", "200")
    assert deliveries["cs_integration_webhooks_deliveries_retry_create"] == {
        "endpoint_id": "$request.path.endpoint_id",
        "delivery_id": "$response.body#/results/0/id",
    }
    # …and to what else of its area it made, named in its answer, not to what the request named.
    workflows = _links(document, "/api/v1/cs-ops/workflows/{customer_id}", "post", "202")
    assert workflows["cs_ops_workflows_runs_retrieve"] == {"run_id": "$response.body#/run_id"}
    opportunities = _links(document, "/api/v1/cs-sales/opportunities", "post", "201")
    assert set(opportunities) == {"cs_sales_opportunities_retrieve", "cs_sales_opportunities_partial_update"}


def test_a_time_bound_by_the_servers_clock_says_its_window():
    from datetime import UTC, datetime, timedelta

    from rest_framework.exceptions import ValidationError

    from csintegration.api.datetimes import WithinClock, not_in_future

    now = datetime.now(UTC)
    assert not_in_future(now + timedelta(minutes=4)) and not_in_future.schema() == {
        "x-relative-to-now": {"latest_seconds": 300}
    }
    with pytest.raises(ValidationError) as late:
        not_in_future(now + timedelta(minutes=6))
    assert late.value.detail[0].code == "future"
    recent = WithinClock(lambda: (-timedelta(days=2), timedelta(0)), too_early=("Before {bound}.", "too_old"))
    assert recent.schema() == {"x-relative-to-now": {"earliest_seconds": -172800, "latest_seconds": 0}}
    today = now.date()
    assert recent(today) == today and recent(today - timedelta(days=2)) == today - timedelta(days=2)
    with pytest.raises(ValidationError) as old:
        recent(today - timedelta(days=3))
    assert old.value.detail == [f"Before {(today - timedelta(days=2)).isoformat()}."]
    request = _document()["components"]["schemas"]["HealthChangeRequestRequest"]["properties"]["timestamp"]
    assert request["x-relative-to-now"] == {"latest_seconds": 300}


def test_a_list_whose_values_may_appear_once_says_so():
    """The handoff refuses a repeated success criterion (test_handoff_api.py); the document must
    say so, or a client generating from it sends a 'valid' request that is refused."""
    criteria = _document()["components"]["schemas"]["HandoffDataRequest"]["properties"]["success_criteria"]
    assert criteria["uniqueItems"] is True
    assert criteria["maxItems"] == 20
    assert criteria["items"]["pattern"] == "^[A-Za-z0-9_.:-]{1,100}$"
