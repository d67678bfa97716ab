"""The event-type registry: apps declare the types they publish; the platform checks names, areas and
examples, refuses to publish an undeclared type, and reports subscriptions to types nobody declares."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from csintegration.events import publish, register_event_type, subscribe
from csintegration.events.checks import check_subscriptions
from csintegration.events.models import Event
from csintegration.events.registry import unsubscribe
from csintegration.events.services import queue_for
from csintegration.events.types import event_type_get, schema_of, unregister_event_type


@pytest.fixture
def declared():
    """A type declared as a test app would declare it, forgotten afterwards."""
    event_type = register_event_type(
        "test.report_published",
        label="Report published",
        area="finance",
        critical=True,
        example={"report_id": "rep_1", "pages": 3, "ready_at": "2025-12-05T08:20:00Z"},
    )
    yield event_type
    unregister_event_type(event_type.name)


@pytest.mark.django_db
def test_a_declared_type_is_in_the_catalogue_and_can_be_published(declared, api):
    catalogue = api(scopes="webhooks:manage finance:read").get("/api/v1/cs-integration/webhooks/event-types")
    entry = next(item for item in catalogue.json() if item["name"] == "test.report_published")
    assert entry["area"] == "finance" and entry["critical"] and entry["readable"]
    assert entry["example"]["pages"] == 3
    assert entry["schema"]["properties"]["ready_at"] == {"type": "string", "format": "date-time"}

    with transaction.atomic():
        event = publish("test.report_published", customer_id="cust_1", payload={"report_id": "rep_9"})
    assert Event.objects.get(pk=event.pk).payload["report_id"] == "rep_9"
    assert queue_for("test.report_published") == "critical"


@pytest.mark.django_db
def test_an_undeclared_type_cannot_be_published():
    with pytest.raises(ValueError, match="register_event_type"), transaction.atomic():
        publish("test.never_declared", customer_id=None, payload={})
    assert not Event.objects.exists()


def test_declarations_are_checked(declared):
    # The same declaration again is harmless (ready() may run twice); another one under the name is not.
    register_event_type(
        "test.report_published",
        label="Report published",
        area="finance",
        critical=True,
        example={"report_id": "rep_1", "pages": 3, "ready_at": "2025-12-05T08:20:00Z"},
    )
    with pytest.raises(ImproperlyConfigured, match="already registered"):
        register_event_type("test.report_published", label="Other", area="finance")
    with pytest.raises(ImproperlyConfigured, match="area"):
        register_event_type("test.bad_area", label="x", area="nowhere")
    with pytest.raises(ImproperlyConfigured, match="lower-case"):
        register_event_type("Bad Name", label="x", area="finance")
    with pytest.raises(ImproperlyConfigured, match="may not set"):
        register_event_type("test.reserved", label="x", area="finance", example={"timestamp": "now"})
    assert event_type_get("test.report_published").read_scope == "finance:read"


def test_schema_of_describes_an_example():
    assert schema_of({"a": [1], "b": None, "c": {"d": 0.5}}) == {
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "integer"}},
            "b": {"description": "may be null"},
            "c": {"type": "object", "properties": {"d": {"type": "number"}}, "required": ["d"]},
        },
        "required": ["a", "b", "c"],
    }


def test_a_subscription_to_an_undeclared_type_fails_the_system_check():
    subscribe("test.orphan", lambda event: None, event_types=["test.nobody_declares_this"])
    subscribe("test.optional", lambda event: None, event_types=["test.nobody_declares_that"], optional=True)
    try:
        errors = check_subscriptions()
        assert [error.id for error in errors] == ["events.E001"]
        assert "test.orphan" in errors[0].msg and "test.nobody_declares_this" in errors[0].msg
    finally:
        unsubscribe("test.orphan")
        unsubscribe("test.optional")
    assert check_subscriptions() == []
