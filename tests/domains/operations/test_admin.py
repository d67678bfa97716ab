"""The operations back-office: every page loads, rules and templates are checked on save, runs are
read-only and resumable, tasks close through the service, a manager's "My tasks", the customer's panel."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from csintegration.adminsite.totp import totp_current_code, totp_device_enroll
from csintegration.events.models import Event
from domains.operations import services
from domains.operations.models import AutomationRule, CSTask, RunStatus, WorkflowRun, WorkflowTemplate
from tests.conftest import STAFF_PASSWORD

from .conftest import drain

pytestmark = pytest.mark.django_db

ADMIN = "/admin/operations"


@pytest.mark.parametrize(
    "model",
    [
        "skill",
        "successmanager",
        "playbook",
        "workflowtemplate",
        "automationrule",
        "rulefiring",
        "workflowrun",
        "cstask",
        "mytask",
        "performancesnapshot",
    ],
)
def test_every_page_loads(staff_client, model, team, make_customer):
    make_customer("cust_pages")
    services.workflow_run_start(
        customer_id="cust_pages", workflow_type="onboarding_kickoff", triggered_by="api"
    )
    services.performance_snapshots_record()
    assert staff_client.get(f"{ADMIN}/{model}/").status_code == 200
    if model not in ("mytask",):
        assert staff_client.get(f"{ADMIN}/{model}/add/").status_code in (200, 403)


def rule_form(**fields):
    form = {
        "name": "Low NPS",
        "description": "",
        "is_active": "on",
        "position": "50",
        "event_type": "customer.updated",
        "conditions": json.dumps({"attr": "payload.changes.nps_score.current", "op": "lt", "value": 0}),
        "action": "publish_event",
        "action_params": json.dumps({"label": "nps_detractor"}),
        "suppress_while_open": "[]",
    }
    return {**form, **fields}


def test_rules_are_checked_when_saved(staff_client):
    refused = staff_client.post(
        f"{ADMIN}/automationrule/add/",
        rule_form(conditions=json.dumps({"attr": "payload.x", "op": "like", "value": 1})),
    )
    assert refused.status_code == 200 and "Unknown operator" in refused.content.decode()
    refused = staff_client.post(f"{ADMIN}/automationrule/add/", rule_form(event_type="nobody_publishes_this"))
    assert refused.status_code == 200 and "No app publishes" in refused.content.decode()
    created = staff_client.post(f"{ADMIN}/automationrule/add/", rule_form())
    assert created.status_code == 302, created.content.decode()[:3000]
    rule = AutomationRule.objects.get(name="Low NPS")
    assert rule.rule_id.startswith("rule_") and rule.conditions["op"] == "lt"
    page = staff_client.get(f"{ADMIN}/automationrule/{rule.pk}/change/").content.decode()
    assert "Never fired." in page


def template_form(**step):
    form = {
        "workflow_type": "vip_outreach",
        "name": "VIP outreach",
        "description": "",
        "is_active": "on",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "1",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "0",
        "steps-0-action": "schedule_priority_check_in",
        "steps-0-params": json.dumps({"due_in_hours": 8}),
        "steps-0-max_attempts": "",
    }
    form.update({f"steps-0-{key}": value for key, value in step.items()})
    return form


def test_templates_check_their_steps(staff_client):
    refused = staff_client.post(
        f"{ADMIN}/workflowtemplate/add/", template_form(params=json.dumps({"due_in_hours": 0}))
    )
    assert refused.status_code == 200 and "due_in_hours" in refused.content.decode()
    refused = staff_client.post(
        f"{ADMIN}/workflowtemplate/add/", template_form(action="deploy_success_playbook", params="{}")
    )
    assert (
        refused.status_code == 200 and "No active playbook" in refused.content.decode()
    )  # none named vip_outreach
    refused = staff_client.post(f"{ADMIN}/workflowtemplate/add/", template_form(action="fly"))
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    created = staff_client.post(f"{ADMIN}/workflowtemplate/add/", template_form())
    assert created.status_code == 302, created.content.decode()[:3000]
    assert list(
        WorkflowTemplate.objects.get(workflow_type="vip_outreach").steps.values_list("action", "params")
    ) == [("schedule_priority_check_in", {"due_in_hours": 8})]


def test_runs_are_read_only_and_a_failed_one_resumes(staff_client, make_customer, team, settings):
    settings.OPERATIONS_STEP_MAX_ATTEMPTS = 1
    make_customer("cust_admin_run", success_manager="")
    settings.OPERATIONS_TEAM_EMAILS = []
    run = services.workflow_run_start(
        customer_id="cust_admin_run",
        workflow_type="health_decline_intervention",
        step_names=["send_immediate_alert"],
        triggered_by="api",
    )
    drain()  # no success manager, no operations inbox: the alert fails for good
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    page = staff_client.get(f"{ADMIN}/workflowrun/{run.pk}/change/").content.decode()
    assert "send_immediate_alert" in page and "no success manager" in page
    assert staff_client.post(f"{ADMIN}/workflowrun/{run.pk}/delete/").status_code == 403
    settings.OPERATIONS_TEAM_EMAILS = ["cs-ops@example.com"]
    staff_client.post(f"{ADMIN}/workflowrun/", {"action": "resume_failed", "_selected_action": [run.pk]})
    assert drain() == ["succeeded"]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_a_task_is_created_and_closed_through_the_service(staff_client, make_customer, team):
    make_customer("cust_admin_task")
    due = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    created = staff_client.post(
        f"{ADMIN}/cstask/add/",
        {
            "kind": "follow_up",
            "title": "Send the ROI deck",
            "description": "",
            "customer_id": "cust_admin_task",
            "priority": "normal",
            "required_skill": "renewals",
            "effort_hours": "1.5",
            "due_at_0": due[:10],
            "due_at_1": due[11:],
            "assignee": "",
        },
    )
    assert created.status_code == 302, created.content.decode()[:3000]
    task = CSTask.objects.get(title="Send the ROI deck")
    assert task.assignee == team["li"] and task.source == "manual"  # the one with renewals
    assert Event.objects.filter(event_type="task_created", payload__task_id=task.task_id).exists()
    changed = staff_client.post(
        f"{ADMIN}/cstask/{task.pk}/change/",
        {
            "title": task.title,
            "description": "",
            "priority": "normal",
            "effort_hours": "1.5",
            "due_at_0": due[:10],
            "due_at_1": due[11:],
            "assignee": team["li"].pk,
            "new_status": "done",
            "new_satisfaction": "4",
        },
    )
    assert changed.status_code == 302, changed.content.decode()[:3000]
    task.refresh_from_db()
    assert task.status == "done" and task.satisfaction == 4
    assert Event.objects.filter(event_type="task_completed", payload__task_id=task.task_id).exists()
    assert staff_client.post(f"{ADMIN}/cstask/{task.pk}/delete/").status_code == 403


def _sign_in(username: str) -> Client:
    totp_device_enroll(username=username)
    client = Client()
    response = client.post(
        "/admin/login/",
        {"username": username, "password": STAFF_PASSWORD, "otp_token": totp_current_code(username=username)},
    )
    assert response.status_code == 302
    return client


def test_my_tasks_shows_the_signed_in_managers_tasks(make_customer, team):
    make_customer("cust_mine")
    sarah = team["sarah"].user
    sarah.set_password(STAFF_PASSWORD)
    sarah.save()
    due = timezone.now() + timedelta(days=1)
    mine = services.task_create(
        customer_id="cust_mine",
        spec=services.TaskSpec(kind="check_in", title="Mine", due_at=due),
        source="manual",
        preferred_email="sarah.smith@example.com",
    )
    theirs = services.task_create(
        customer_id="cust_mine",
        spec=services.TaskSpec(kind="check_in", title="Theirs", due_at=due),
        source="manual",
        preferred_email="li.wei@example.com",
    )
    client = _sign_in(sarah.username)
    listing = client.get(f"{ADMIN}/mytask/")
    assert listing.status_code == 200
    assert mine.task_id in listing.content.decode() and theirs.task_id not in listing.content.decode()
    assert client.get(f"{ADMIN}/mytask/{theirs.pk}/change/").status_code in (302, 403, 404)
    assert client.get(f"{ADMIN}/cstask/").status_code == 403  # the whole team's list needs a permission
    client.post(f"{ADMIN}/mytask/", {"action": "mark_done", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.status == "done" and mine.completed_at is not None
    # someone on the staff but not on the CS team has no such page
    get_user_model().objects.create_user("auditor", "auditor@example.com", STAFF_PASSWORD, is_staff=True)
    assert _sign_in("auditor").get(f"{ADMIN}/mytask/").status_code == 403


def test_the_customer_page_shows_tasks_and_runs(staff_client, make_customer, team):
    make_customer("cust_panel")
    run = services.workflow_run_start(
        customer_id="cust_panel", workflow_type="health_decline_intervention", triggered_by="api"
    )
    drain()
    page = staff_client.get("/admin/customers/customer/cust_panel/change/").content.decode()
    assert "Operations: tasks and workflows" in page and run.run_id in page
    assert "Priority check-in" in page and "send_immediate_alert: succeeded (1)" in page
    assert WorkflowRun.objects.get(pk=run.run_id).status == RunStatus.COMPLETED
