"""POST /workflows/{customer_id} (the seed's request), GET /workflows/runs and /workflows/runs/{run_id}: the
run and each step's effect, and every refusal with its problem document."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from csintegration.events.models import Event
from domains.operations.actions import step_actions
from domains.operations.models import CSTask, RunStatus, StepStatus, WorkflowRun
from tests.conftest import openapi_document

from .conftest import BASE, drain

pytestmark = pytest.mark.django_db

SEED_REQUEST = {
    "workflow_type": "health_decline_intervention",
    "customer_id": "cust_12345",
    "trigger_conditions": {"health_score_drop": 20, "usage_decline": 0.30, "support_increase": 0.50},
    "automation_steps": [
        "send_immediate_alert",
        "schedule_priority_check_in",
        "deploy_success_playbook",
        "notify_account_team",
    ],
}


def start(client, customer_id="cust_12345", body=None, **extra):
    return client.post(f"{BASE}/workflows/{customer_id}", body or SEED_REQUEST, format="json", **extra)


def event_types(customer_id):
    return list(
        Event.objects.filter(customer_id=customer_id)
        .order_by("occurred_at", "event_id")
        .values_list("event_type", flat=True)
    )


def test_the_seed_request_runs_every_step(ops_api, make_customer, team):
    make_customer("cust_12345", health_score=65)
    mail.outbox.clear()
    response = start(ops_api())
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["run_id"].startswith("run_") and body["customer_id"] == "cust_12345"
    assert body["workflow_type"] == "health_decline_intervention" and body["status"] == "queued"
    assert [(step["name"], step["status"]) for step in body["steps"]] == [
        ("send_immediate_alert", "queued"),
        ("schedule_priority_check_in", "pending"),
        ("deploy_success_playbook", "pending"),
        ("notify_account_team", "pending"),
    ]
    assert response["Location"].endswith(f"/api/v1/cs-ops/workflows/runs/{body['run_id']}")

    assert drain() == ["succeeded"] * 4
    run = WorkflowRun.objects.get(pk=body["run_id"])
    assert run.status == RunStatus.COMPLETED and run.trigger_conditions == SEED_REQUEST["trigger_conditions"]
    # the alert, then the account team's notice, both through Django's mail
    alert, notice = mail.outbox
    assert alert.to == ["sarah.smith@example.com"] and "[HIGH] Acme Analytics: health 65" in alert.subject
    assert "health_score_drop=20" in alert.body and alert.extra_headers["Message-ID"].startswith(
        f"<{run.run_id}.0@"
    )
    assert notice.to == ["li.wei@example.com", "omar.haddad@example.com", "sarah.smith@example.com"]
    # the check-in (for Sarah: her customer, and she has the skill) and the playbook's three tasks
    tasks = list(CSTask.objects.filter(run=run).order_by("source_key"))
    assert [(task.kind, task.title, task.assignee.email) for task in tasks] == [
        ("check_in", "Priority check-in", "sarah.smith@example.com"),
        ("playbook_task", "Review usage and support history", "sarah.smith@example.com"),
        ("playbook_task", "Run an adoption workshop with the champion", "omar.haddad@example.com"),
        ("playbook_task", "Agree a success plan with the executive sponsor", "li.wei@example.com"),
    ]
    assert all(task.skill_matched for task in tasks)
    assert event_types("cust_12345")[-7:] == [
        "cs_alert_raised",
        "task_created",
        "task_created",
        "task_created",
        "task_created",
        "account_team_notified",
        "workflow_completed",
    ]
    completed = Event.objects.get(event_type="workflow_completed")
    assert completed.payload["run_id"] == run.run_id and completed.payload["error"] is None
    assert completed.payload["steps"] == [
        {"name": s, "status": "succeeded"} for s in SEED_REQUEST["automation_steps"]
    ]

    detail = ops_api(scopes="operations:read").get(f"{BASE}/workflows/runs/{run.run_id}")
    assert detail.status_code == 200
    steps = detail.json()["steps"]
    assert detail.json()["status"] == "completed" and detail.json()["triggered_by"] == "api"
    assert [(s["status"], s["attempts"], s["error"]) for s in steps] == [("succeeded", 1, None)] * 4
    assert all(s["started_at"] and s["finished_at"] for s in steps)
    assert steps[1]["output"]["task_id"] == tasks[0].task_id
    assert steps[2]["output"]["playbook"] == "health_decline_intervention"


def test_without_automation_steps_the_template_runs(ops_api, make_customer, team):
    make_customer("cust_12345")
    response = start(ops_api(), body={"workflow_type": "renewal_preparation"})
    assert response.status_code == 202
    assert [step["name"] for step in response.json()["steps"]] == [
        "schedule_priority_check_in",
        "deploy_success_playbook",
        "notify_account_team",
    ]
    drain()
    check_in = CSTask.objects.get(kind="check_in")
    assert check_in.title == "Renewal check-in" and check_in.required_skill_id == "renewals"
    assert check_in.assignee.email == "li.wei@example.com"  # the only one with the skill


def test_named_steps_take_the_templates_parameters(ops_api, make_customer, team):
    make_customer("cust_12345")
    response = start(
        ops_api(),
        body={"workflow_type": "churn_risk_response", "automation_steps": ["schedule_priority_check_in"]},
    )
    assert response.status_code == 202
    drain()
    task = CSTask.objects.get()
    assert task.priority == "urgent" and task.required_skill_id == "executive_relations"
    assert (task.due_at - task.created_at).total_seconds() == pytest.approx(4 * 3600, abs=5)


def test_churn_risk_runs_go_to_the_critical_queue(ops_api, make_customer, no_marketing):
    make_customer("cust_12345")
    body = start(ops_api(), body={"workflow_type": "churn_risk_response"}).json()
    assert body["queue"] == "critical"
    # its template's marketing step is skipped while marketing offers nothing
    assert ("trigger_campaign", "skipped") in [(s["name"], s["status"]) for s in body["steps"]]
    assert (
        start(ops_api(), body={"workflow_type": "health_decline_intervention"}).json()["queue"] == "default"
    )


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({**SEED_REQUEST, "workflow_type": "no_such_workflow"}, "workflow_type", "invalid"),
        (
            {
                **SEED_REQUEST,
                "automation_steps": ["send_immediate_alert", "schedule_priority_check_in", "fly_to_the_moon"],
            },
            "automation_steps.2",
            "invalid",
        ),
        (
            {**SEED_REQUEST, "automation_steps": ["send_immediate_alert", "trigger_campaign"]},
            "automation_steps.1",
            "invalid",
        ),
        ({**SEED_REQUEST, "automation_steps": []}, "automation_steps", "min_length"),
        (
            {**SEED_REQUEST, "automation_steps": ["send immediate alert"]},
            "automation_steps.0",
            "invalid_label",
        ),
        ({**SEED_REQUEST, "customer_id": "cust_other"}, "customer_id", "invalid"),
        ({**SEED_REQUEST, "customer_id": "acme"}, "customer_id", "invalid_id"),
        (
            {**SEED_REQUEST, "trigger_conditions": {"health_score_drop": {"points": 20}}},
            "trigger_conditions.health_score_drop",
            "invalid",
        ),
        ({**SEED_REQUEST, "trigger_conditions": ["health_score_drop"]}, "trigger_conditions", "invalid"),
        (
            {key: value for key, value in SEED_REQUEST.items() if key != "workflow_type"},
            "workflow_type",
            "required",
        ),
    ],
)
def test_invalid_requests_name_the_dotted_field(ops_api, make_customer, no_marketing, body, field, code):
    make_customer("cust_12345")
    response = start(ops_api(), body=body)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (
        problem["type"].endswith("validation-error")
        and problem["instance"] == "/api/v1/cs-ops/workflows/cust_12345"
    )
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ], problem
    assert not WorkflowRun.objects.exists()


def test_an_unknown_customer_is_a_404(ops_api):
    response = start(
        ops_api(), customer_id="cust_nobody", body={**SEED_REQUEST, "customer_id": "cust_nobody"}
    )
    assert response.status_code == 404 and response.json()["type"].endswith("not-found")


def test_auth_scope_media_type_and_malformed_bodies(api, ops_api, make_customer):
    make_customer("cust_12345")
    client = ops_api()
    anonymous = start(APIClient())
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    read_only = start(api(scopes="operations:read"))
    assert read_only.status_code == 403 and "operations:write" in read_only.json()["detail"]
    form = client.post(
        f"{BASE}/workflows/cust_12345", "workflow_type=x", content_type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415 and form["Content-Type"] == "application/problem+json"
    broken = client.post(f"{BASE}/workflows/cust_12345", "{not json", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["type"].endswith("malformed-request")
    assert client.get(f"{BASE}/workflows/cust_12345").status_code == 405


def test_an_idempotency_key_replays_the_first_run(ops_api, make_customer):
    make_customer("cust_12345")
    client = ops_api()
    first = start(client, HTTP_IDEMPOTENCY_KEY="intervene-1")
    again = start(client, HTTP_IDEMPOTENCY_KEY="intervene-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json()["run_id"] == first.json()["run_id"]
    assert WorkflowRun.objects.count() == 1
    other = start(
        client,
        body={**SEED_REQUEST, "automation_steps": ["notify_account_team"]},
        HTTP_IDEMPOTENCY_KEY="intervene-1",
    )
    assert other.status_code == 422


def test_run_list_filters_and_detail(ops_api, make_customer, team):
    make_customer("cust_12345")
    make_customer("cust_67890", name="Globex")
    client = ops_api()
    first = start(client).json()["run_id"]
    start(client, customer_id="cust_67890", body={"workflow_type": "renewal_preparation"})
    drain()
    start(client, body={"workflow_type": "onboarding_kickoff"})  # still queued
    reader = ops_api()

    def ids(query=""):
        response = reader.get(f"{BASE}/workflows/runs{query}")
        assert response.status_code == 200, response.content
        return [run["run_id"] for run in response.json()["results"]]

    assert len(ids()) == 3
    assert len(ids("?customer_id=cust_12345")) == 2
    assert ids("?workflow_type=health_decline_intervention") == [first]
    assert len(ids("?status=completed")) == 2 and len(ids("?status=queued")) == 1
    assert len(ids("?status=queued&status=completed")) == 3
    assert len(ids("?triggered_by=api")) == 3 and ids("?triggered_by=rule") == []
    page = reader.get(f"{BASE}/workflows/runs?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    for query, field in (
        ("?status=bogus", "status"),
        ("?status=", "status"),
        ("?page_size=0", "page_size"),
        ("?ordering=run_id", "ordering"),
        ("?created_since=yesterday", "created_since"),
    ):
        response = reader.get(f"{BASE}/workflows/runs{query}")
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field, query
    assert reader.get(f"{BASE}/workflows/runs/run_doesnotexist").status_code == 404
    assert reader.get(f"{BASE}/workflows/runs/{first}").json()["steps"][0]["status"] == StepStatus.SUCCEEDED
    assert ops_api(scopes="customers:read").get(f"{BASE}/workflows/runs").status_code == 403


def test_rules_are_listed_read_only(ops_api):
    client = ops_api()
    response = client.get(f"{BASE}/rules")
    assert response.status_code == 200
    rules = {rule["rule_id"]: rule for rule in response.json()["results"]}
    health = rules["rule_default_health_drop"]
    assert health["event_type"] == "health_score_change" and health["action"] == "start_workflow"
    assert health["action_params"] == {"workflow_type": "health_decline_intervention"}
    assert health["conditions"]["and"][0]["op"] == "changed_by" and health["fired_last_30_days"] == 0
    assert (
        client.get(f"{BASE}/rules?event_type=churn_risk_detected").json()["results"][0]["rule_id"]
        == "rule_default_churn_risk"
    )
    assert client.get(f"{BASE}/rules?is_active=maybe").status_code == 400
    assert client.get(f"{BASE}/rules/rule_default_health_drop").json()["name"].startswith("Health score drop")
    assert client.get(f"{BASE}/rules/rule_nope").status_code == 404
    assert client.post(f"{BASE}/rules", {}, format="json").status_code == 405


def test_the_steps_a_request_may_name_are_the_registered_ones():
    schemas = openapi_document()["components"]["schemas"]
    steps = schemas["WorkflowRequestRequest"]["properties"]["automation_steps"]["items"]
    enum = schemas[steps["allOf"][0]["$ref"].rsplit("/", 1)[1]]["enum"]
    assert enum == [action.name for action in step_actions(available_only=True)] and enum


def test_trigger_conditions_are_keyed_by_labels_as_the_schema_says():
    conditions = openapi_document()["components"]["schemas"]["WorkflowRequestRequest"]["properties"][
        "trigger_conditions"
    ]
    assert conditions["propertyNames"] == {"pattern": "^[A-Za-z0-9_.:-]{1,100}$"}
