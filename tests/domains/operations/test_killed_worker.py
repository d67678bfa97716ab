"""A real Celery worker process SIGKILLed between two steps of a run, then a new one started: the run
resumes where it stopped and completes, and no step that had succeeded runs again (counted by its side
effects: e-mails written by the worker, tasks created, events published).

PostgreSQL and Redis (``services``): the worker is a separate process on the test database, with a
broker key prefix of its own; the beat job that finds the stalled step is called by the test."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from csintegration.events.models import Event
from domains.operations import services
from domains.operations.actions import unregister_step_action
from domains.operations.models import CSTask, RunStatus, StepStatus, WorkflowRun
from tests.celery_support import use_broker, wait_until

from . import plugin_actions
from .conftest import BASE
from .mailbox import sent_messages

pytestmark = [
    pytest.mark.services,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

LEASE_SECONDS = 3
STEPS = [
    "send_immediate_alert",
    "schedule_priority_check_in",
    plugin_actions.NAME,
    "deploy_success_playbook",
    "notify_account_team",
]


@pytest.fixture
def worker_world(tmp_path, celery_test_app, settings):
    """A key prefix on the broker for the worker processes and this process, a mail directory, a
    directory for the plug-in action, and the action registered here too (the API checks the steps)."""
    prefix = f"ops-killed-{uuid.uuid4().hex[:8]}:"
    previous = (celery_test_app.conf.broker_url, dict(celery_test_app.conf.broker_transport_options or {}))
    use_broker(settings.REDIS_URL, {"visibility_timeout": 3600, "global_keyprefix": prefix})
    (tmp_path / "mail").mkdir()
    settings.OPERATIONS_STEP_LEASE_SECONDS = LEASE_SECONDS
    yield {"prefix": prefix, "dir": tmp_path, "mail": tmp_path / "mail"}
    use_broker(*previous)
    unregister_step_action(plugin_actions.NAME)
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def start_worker(world) -> subprocess.Popen:
    database = settings.DATABASES["default"]
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "VAR_DIR": str(settings.VAR_DIR),
        "EMAIL_BACKEND": "tests.domains.operations.mailbox.DirectoryEmailBackend",
        "OPERATIONS_TEST_MAIL_DIR": str(world["mail"]),
        "OPERATIONS_TEST_DIR": str(world["dir"]),
        "OPERATIONS_ACTION_MODULES": "tests.domains.operations.plugin_actions",
        "OPERATIONS_STEP_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    command = [sys.executable, "-m", "tests.domains.operations.worker_process", world["prefix"]]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)


def stop(worker: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if worker.poll() is None:
        worker.send_signal(sig)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)


def calls(world) -> list[str]:
    path = Path(world["dir"]) / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_a_worker_killed_between_steps_resumes_without_repeating_them(
    ops_api, make_customer, team, worker_world
):
    make_customer("cust_killed", health_score=58)
    response = ops_api().post(
        f"{BASE}/workflows/cust_killed",
        {"workflow_type": "health_decline_intervention", "automation_steps": STEPS},
        format="json",
    )
    assert response.status_code == 202
    run_id = response.json()["run_id"]

    worker = start_worker(worker_world)
    try:
        wait_until(lambda: calls(worker_world), timeout=60)  # the third step is under way
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        stop(worker, signal.SIGKILL)

    run = WorkflowRun.objects.get(pk=run_id)
    steps = list(run.steps.order_by("position"))
    assert run.status == RunStatus.RUNNING
    assert [step.status for step in steps] == ["succeeded", "succeeded", "running", "pending", "pending"]
    assert steps[2].attempts == 1 and steps[2].lease_expires_at is not None
    assert len(sent_messages(worker_world["mail"])) == 1 and CSTask.objects.count() == 1

    (Path(worker_world["dir"]) / "release").touch()
    worker = start_worker(worker_world)  # the restarted worker
    try:
        # beat's job finds the step whose lease ran out and hands it to the new worker
        time.sleep(max(0.0, (steps[2].lease_expires_at - timezone.now()).total_seconds()) + 0.2)
        assert services.steps_resume_stalled().lost == 1
        run = wait_until(
            lambda: WorkflowRun.objects.filter(pk=run_id, status__in=("completed", "failed")).first(),
            timeout=60,
        )
    finally:
        stop(worker)

    assert run.status == RunStatus.COMPLETED
    steps = list(run.steps.order_by("position"))
    assert [(s.status, s.attempts) for s in steps] == [(StepStatus.SUCCEEDED, 1)] * 2 + [
        (StepStatus.SUCCEEDED, 2)
    ] + [(StepStatus.SUCCEEDED, 1)] * 2
    assert [entry["outcome"] for entry in steps[2].attempt_log] == ["lost", "succeeded"]
    assert [line.split()[1] for line in calls(worker_world)] == ["1", "2"]  # only the lost step ran again
    messages = sent_messages(worker_world["mail"])
    assert messages == [
        f"<{run_id}.0@localhost>",
        f"<{run_id}.4@localhost>",
    ]  # the alert and the notice, once each
    assert CSTask.objects.filter(run=run, kind="check_in").count() == 1
    assert CSTask.objects.filter(run=run, kind="playbook_task").count() == 3
    assert Event.objects.filter(event_type="cs_alert_raised", customer_id="cust_killed").count() == 1
    assert Event.objects.filter(event_type="workflow_completed", customer_id="cust_killed").count() == 1
