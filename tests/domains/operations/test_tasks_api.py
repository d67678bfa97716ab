"""GET /tasks, GET and PATCH /tasks/{task_id}: filters, closing with a satisfaction score, reassigning, and
every refusal (400 with the field, 409 for a transition the task's state machine does not allow)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from csintegration.events.models import Event
from domains.operations import services
from domains.operations.models import CSTask, TaskStatus
from tests.conftest import openapi_document

from .conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(make_customer, team):
    make_customer("cust_t1")
    make_customer("cust_t2", name="Globex", success_manager="li.wei@example.com")
    now = timezone.now()

    def make(customer_id, kind, title, due_in_hours, skill=None):
        return services.task_create(
            customer_id=customer_id,
            spec=services.TaskSpec(
                kind=kind, title=title, due_at=now + timedelta(hours=due_in_hours), required_skill=skill
            ),
            source="manual",
            preferred_email="sarah.smith@example.com" if customer_id == "cust_t1" else "li.wei@example.com",
        )

    return {
        "check_in": make("cust_t1", "check_in", "Check in", 24, "health_recovery"),
        "overdue": make("cust_t1", "follow_up", "Send the deck", -2),
        "escalation": make("cust_t2", "escalation", "Escalate", 4, "escalation"),
    }


def patch(client, task_id, body, **extra):
    return client.patch(f"{BASE}/tasks/{task_id}", body, format="json", **extra)


def test_list_and_filters(ops_api, tasks):
    client = ops_api(scopes="operations:read")

    def ids(query=""):
        response = client.get(f"{BASE}/tasks{query}")
        assert response.status_code == 200, response.content
        return {task["task_id"] for task in response.json()["results"]}

    everything = {task.task_id for task in tasks.values()}
    assert ids() == everything
    assert ids("?customer_id=cust_t1") == {tasks["check_in"].task_id, tasks["overdue"].task_id}
    assert ids("?assignee=LI.WEI@example.com") == {tasks["escalation"].task_id}
    assert ids("?kind=escalation&kind=check_in") == {tasks["escalation"].task_id, tasks["check_in"].task_id}
    assert ids("?status=open") == everything and ids("?status=done") == set()
    assert ids("?overdue=true") == {tasks["overdue"].task_id}
    assert ids("?overdue=false") == everything - {tasks["overdue"].task_id}
    by_due = client.get(f"{BASE}/tasks?ordering=due_at").json()["results"]
    assert by_due[0]["task_id"] == tasks["overdue"].task_id
    for query, field in (
        ("?status=closed", "status"),
        ("?kind=", "kind"),
        ("?overdue=yes", "overdue"),
        ("?ordering=title", "ordering"),
    ):
        response = client.get(f"{BASE}/tasks{query}")
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field, query
    detail = client.get(f"{BASE}/tasks/{tasks['overdue'].task_id}").json()
    assert (
        detail["overdue"] is True
        and detail["assignee"] == "sarah.smith@example.com"
        and detail["status"] == "open"
    )
    assert (
        detail["resolution_hours"] is None
        and detail["satisfaction"] is None
        and detail["kind"] == "follow_up"
    )
    assert client.get(f"{BASE}/tasks/task_nothere").status_code == 404


def test_closing_a_task_with_the_customers_satisfaction(ops_api, tasks):
    client = ops_api()
    task = tasks["check_in"]
    response = patch(client, task.task_id, {"status": "done", "satisfaction": 5})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "done" and body["satisfaction"] == 5 and body["completed_at"]
    assert body["resolution_hours"] is not None and body["overdue"] is False
    [closed] = Event.objects.filter(event_type="task_completed")
    assert closed.payload["task_id"] == task.task_id and closed.payload["satisfaction"] == 5
    # the same status again changes nothing; the satisfaction of a done task can still be corrected
    assert patch(client, task.task_id, {"status": "done"}).status_code == 200
    assert patch(client, task.task_id, {"satisfaction": 4}).json()["satisfaction"] == 4
    assert Event.objects.filter(event_type="task_completed").count() == 1
    # a closed task does not reopen
    refused = patch(client, task.task_id, {"status": "in_progress"})
    assert refused.status_code == 409 and refused.json()["type"].endswith("transition-not-allowed")
    assert refused.json()["allowed"] == []


def test_moving_a_task_through_its_states(ops_api, tasks):
    client = ops_api()
    task = tasks["overdue"]
    assert patch(client, task.task_id, {"status": "in_progress"}).json()["status"] == "in_progress"
    assert patch(client, task.task_id, {"status": "cancelled"}).json()["status"] == "cancelled"
    refused = patch(client, task.task_id, {"status": "done"})
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    assert CSTask.objects.get(pk=task.task_id).status == TaskStatus.CANCELLED


def test_reassigning_and_rescheduling(ops_api, tasks, team):
    client = ops_api()
    task = tasks["check_in"]  # requires health_recovery: Sarah has it, Omar does not
    body = patch(client, task.task_id, {"assignee": "omar.haddad@example.com"}).json()
    assert body["assignee"] == "omar.haddad@example.com" and body["skill_matched"] is False
    later = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    body = patch(client, task.task_id, {"due_at": later.isoformat(), "assignee": None}).json()
    assert body["assignee"] is None and body["due_at"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"status": "done", "satisfaction": 6}, 400, "satisfaction"),
        ({"status": "done", "satisfaction": "5"}, 400, "satisfaction"),
        ({"status": "done", "satisfaction": 4.5}, 400, "satisfaction"),
        ({"status": "open"}, 400, "status"),
        ({"status": "finished"}, 400, "status"),
        ({}, 400, "non_field_errors"),
        ({"title": "renamed"}, 400, "title"),
        ({"assignee": "nobody@example.com"}, 400, "assignee"),
        ({"assignee": "not an address"}, 400, "assignee"),
        ({"due_at": "next week"}, 400, "due_at"),
        ({"satisfaction": 4}, 409, None),  # only a task that is, or becomes, done has a score
    ],
)
def test_refusals(ops_api, tasks, body, status, field):
    response = patch(ops_api(), tasks["overdue"].task_id, body)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert response.json()["errors"][0]["field"] == field
    else:
        assert response.json()["type"].endswith("task-not-done")
    assert CSTask.objects.get(pk=tasks["overdue"].task_id).status == TaskStatus.OPEN


def test_auth_methods_and_bodies(api, ops_api, tasks):
    task_id = tasks["overdue"].task_id
    assert patch(APIClient(), task_id, {"status": "done"}).status_code == 401
    read_only = patch(ops_api(scopes="operations:read"), task_id, {"status": "done"})
    assert read_only.status_code == 403 and "operations:write" in read_only.json()["detail"]
    client = ops_api()
    assert client.put(f"{BASE}/tasks/{task_id}", {"status": "done"}, format="json").status_code == 405
    assert client.delete(f"{BASE}/tasks/{task_id}").status_code == 405
    assert client.post(f"{BASE}/tasks", {}, format="json").status_code == 405
    assert (
        client.patch(f"{BASE}/tasks/{task_id}", "status=done", content_type="text/plain").status_code == 415
    )
    assert client.patch(f"{BASE}/tasks/{task_id}", "{", content_type="application/json").status_code == 400
    assert patch(client, "task_missing", {"status": "done"}).status_code == 404


def test_the_patch_body_needs_a_field_as_its_schema_says():
    schema = openapi_document()["components"]["schemas"]["PatchedTaskUpdateRequest"]
    assert schema["minProperties"] == 1
    assert set(schema["properties"]) == {"status", "satisfaction", "assignee", "due_at"}
