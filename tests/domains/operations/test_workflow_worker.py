"""Workflows through a real Celery worker (a thread of this process, on the run's real broker): the seed's
request end to end, a health drop that starts and finishes its intervention with no other call, and a
step that raises, is retried by the beat job and fails its run."""

import threading

import pytest
from django.core import mail

from csintegration.events.models import Event
from domains.operations.actions import register_step_action, unregister_step_action
from domains.operations.models import CSTask, RunStatus, StepStatus, WorkflowRun
from domains.operations.tasks import resume_stalled_steps
from tests.celery_support import wait_until

from .conftest import BASE
from .test_workflow_api import SEED_REQUEST

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def finished(run_id):
    return WorkflowRun.objects.filter(pk=run_id, status__in=(RunStatus.COMPLETED, RunStatus.FAILED)).first()


def test_the_seed_request_through_a_worker(ops_api, make_customer, team, celery_worker):
    make_customer("cust_12345", health_score=65)
    mail.outbox.clear()
    response = ops_api().post(f"{BASE}/workflows/cust_12345", SEED_REQUEST, format="json")
    assert response.status_code == 202
    run = wait_until(lambda: finished(response.json()["run_id"]), timeout=30)
    assert run.status == RunStatus.COMPLETED
    assert [(s.name, s.status, s.attempts) for s in run.steps.order_by("position")] == [
        (name, StepStatus.SUCCEEDED, 1) for name in SEED_REQUEST["automation_steps"]
    ]
    assert [message.to for message in mail.outbox] == [
        ["sarah.smith@example.com"],
        ["li.wei@example.com", "omar.haddad@example.com", "sarah.smith@example.com"],
    ]
    assert CSTask.objects.filter(run=run).count() == 4
    assert Event.objects.filter(event_type="workflow_completed", payload__run_id=run.run_id).count() == 1
    assert Event.objects.filter(event_type="cs_alert_raised", customer_id="cust_12345").count() == 1


def test_a_health_drop_runs_its_intervention_with_no_other_call(api, make_customer, team, celery_worker):
    make_customer("cust_drop", health_score=88)
    reporter = api(scopes="events:write")
    body = {
        "customer_id": "cust_drop",
        "previous_score": 88,
        "new_score": 60,
        "change_reason": "decreased_usage",
    }
    assert (
        reporter.post("/api/v1/cs-integration/events/health-change", body, format="json").status_code == 202
    )
    run = wait_until(lambda: WorkflowRun.objects.filter(customer_id="cust_drop").first(), timeout=10)
    assert run.triggered_by == "rule" and run.workflow_type == "health_decline_intervention"
    run = wait_until(lambda: finished(run.run_id), timeout=30)
    assert run.status == RunStatus.COMPLETED and run.trigger_conditions == {"health_score_drop": 28.0}


@pytest.fixture
def beat():
    """Stands in for celery beat: sends ``operations.resume_stalled_steps`` every 0.1 s."""
    stop = threading.Event()

    def tick():
        while not stop.wait(0.1):
            resume_stalled_steps.apply_async()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture
def broken_action():
    calls = []

    @register_step_action("test_broken", label="Always raises")
    def broken(context, params):
        calls.append(context.attempt)
        raise TimeoutError("the CRM did not answer")

    yield calls
    unregister_step_action("test_broken")


def test_a_step_that_raises_is_retried_then_fails_the_run(
    ops_api, make_customer, team, settings, broken_action, celery_worker, beat
):
    settings.OPERATIONS_STEP_MAX_ATTEMPTS = 3
    settings.OPERATIONS_STEP_RETRY_BASE_SECONDS = 0.2
    make_customer("cust_broken")
    body = {
        "workflow_type": "health_decline_intervention",
        "automation_steps": ["schedule_priority_check_in", "test_broken", "notify_account_team"],
    }
    response = ops_api().post(f"{BASE}/workflows/cust_broken", body, format="json")
    run = wait_until(lambda: finished(response.json()["run_id"]), timeout=30)
    assert run.status == RunStatus.FAILED and run.error.startswith("test_broken: TimeoutError")
    first, broken, last = run.steps.order_by("position")
    assert (first.status, broken.status, last.status) == ("succeeded", "failed", "skipped")
    assert broken.attempts == 3 and broken_action == [1, 2, 3]
    assert [entry["outcome"] for entry in broken.attempt_log] == ["failed"] * 3
    [failed] = Event.objects.filter(event_type="workflow_failed", payload__run_id=run.run_id)
    assert failed.payload["steps"][1] == {"name": "test_broken", "status": "failed"}
    assert CSTask.objects.filter(run=run).count() == 1  # the check-in, once
