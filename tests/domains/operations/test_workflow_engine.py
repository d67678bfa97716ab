"""The workflow engine in the test's own thread: retries with backoff then failure, permanent failures,
a redelivered step that is skipped, a lost worker whose step resumes, a worker fenced out once its lease
was taken over, queued steps whose task never ran, resuming a failed run, and the state machines."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from csintegration.events.models import Event
from domains.operations import services
from domains.operations.actions import PermanentStepError, register_step_action, unregister_step_action
from domains.operations.models import CSTask, RunStatus, RunTrigger, StepStatus, WorkflowRun, WorkflowStep
from domains.operations.services import workflows

from .conftest import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky_action():
    """A step action that raises ``fail_times`` times, then succeeds; records each call."""
    state = {"calls": 0, "fail_times": 0, "permanent": False}

    @register_step_action("test_flaky", label="Fails, then works")
    def flaky(context, params):
        state["calls"] += 1
        if state["permanent"]:
            raise PermanentStepError("the data will not get better")
        if state["calls"] <= state["fail_times"]:
            raise ConnectionError(f"downstream unavailable (call {state['calls']})")
        return {"calls": state["calls"]}

    yield state
    unregister_step_action("test_flaky")


def start(customer_id, steps, workflow_type="health_decline_intervention"):
    return services.workflow_run_start(
        customer_id=customer_id, workflow_type=workflow_type, step_names=steps, triggered_by=RunTrigger.API
    )


def steps_of(run):
    return list(WorkflowStep.objects.filter(run=run).order_by("position"))


def test_a_failing_step_retries_with_backoff_then_fails_the_run(make_customer, team, flaky_action, settings):
    settings.OPERATIONS_STEP_MAX_ATTEMPTS = 3
    settings.OPERATIONS_STEP_RETRY_BASE_SECONDS = 60
    flaky_action["fail_times"] = 99
    make_customer("cust_flaky")
    run = start("cust_flaky", ["send_immediate_alert", "test_flaky", "notify_account_team"])

    assert drain(resume=False) == ["succeeded", "retry"]
    step = steps_of(run)[1]
    assert step.status == StepStatus.WAITING_RETRY and step.attempts == 1
    assert 48 <= (step.next_attempt_at - timezone.now()).total_seconds() <= 72  # 60 s ± 20 %
    assert "downstream unavailable (call 1)" in step.error
    # Not due yet: beat leaves it; once due, it runs again (backoff doubles: 120 s ± 20 %)
    assert services.steps_resume_stalled().total == 0
    assert services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=73)).retries == 1
    assert services.step_execute(step_id=step.pk) == "retry"
    step.refresh_from_db()
    assert 96 <= (step.next_attempt_at - timezone.now()).total_seconds() <= 144
    assert drain() == ["failed"]

    run.refresh_from_db()
    step, last = steps_of(run)[1:]
    assert run.status == RunStatus.FAILED and run.finished_at and "test_flaky: ConnectionError" in run.error
    assert (step.status, step.attempts, flaky_action["calls"]) == (StepStatus.FAILED, 3, 3)
    assert [entry["outcome"] for entry in step.attempt_log] == ["failed", "failed", "failed"]
    assert last.status == StepStatus.SKIPPED and last.output == {"skipped": "run_failed"}
    [failed] = Event.objects.filter(event_type="workflow_failed")
    assert failed.payload["steps"] == [
        {"name": "send_immediate_alert", "status": "succeeded"},
        {"name": "test_flaky", "status": "failed"},
        {"name": "notify_account_team", "status": "skipped"},
    ]
    assert (
        failed.payload["error"].startswith("test_flaky: ConnectionError")
        and failed.payload["run_id"] == run.run_id
    )
    assert len(mail.outbox) == 1  # the alert, once; the notice never went out


def test_a_step_that_recovers_within_its_tries_completes_the_run(make_customer, team, flaky_action):
    flaky_action["fail_times"] = 2
    make_customer("cust_recovers")
    run = start("cust_recovers", ["test_flaky"])
    assert drain() == ["retry", "retry", "succeeded"]
    run.refresh_from_db()
    [step] = steps_of(run)
    assert run.status == RunStatus.COMPLETED and step.attempts == 3 and step.output == {"calls": 3}
    assert step.error == "" and Event.objects.filter(event_type="workflow_completed").count() == 1


def test_a_permanent_error_fails_at_once(make_customer, flaky_action):
    flaky_action["permanent"] = True
    make_customer("cust_perm")
    run = start("cust_perm", ["test_flaky", "notify_account_team"])
    assert drain() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and steps_of(run)[0].attempts == 1


def test_a_redelivered_step_is_not_repeated(make_customer, team):
    make_customer("cust_redelivered")
    run = start("cust_redelivered", ["send_immediate_alert", "schedule_priority_check_in"])
    first, second = steps_of(run)
    assert services.step_execute(step_id=first.pk) == "succeeded"
    # the broker delivers the same message again (a worker restart, a visibility timeout)
    assert services.step_execute(step_id=first.pk) == "already_done"
    assert services.step_execute(step_id=second.pk) == "succeeded"
    assert services.step_execute(step_id=second.pk) == "already_done"
    assert len(mail.outbox) == 1 and CSTask.objects.count() == 1
    assert Event.objects.filter(event_type="cs_alert_raised").count() == 1


def test_a_lost_worker_is_resumed_once_its_lease_runs_out(make_customer, team, settings):
    settings.OPERATIONS_STEP_LEASE_SECONDS = 60
    make_customer("cust_lost")
    run = start("cust_lost", ["schedule_priority_check_in", "notify_account_team"])
    step = steps_of(run)[0]
    claimed = workflows._claim(step.pk, timezone.now())  # a worker claims the step… and dies
    assert not isinstance(claimed, str)
    step.refresh_from_db()
    run.refresh_from_db()
    assert step.status == StepStatus.RUNNING and step.attempts == 1 and run.status == RunStatus.RUNNING
    # another delivery while the lease is live: busy, nothing done
    assert services.step_execute(step_id=step.pk) == "busy"
    assert services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=30)).lost == 0
    stats = services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=61))
    assert stats.lost == 1 and stats.step_ids == [step.pk]
    assert drain() == ["succeeded", "succeeded"]
    step.refresh_from_db()
    assert step.attempts == 2 and [entry["outcome"] for entry in step.attempt_log] == ["lost", "succeeded"]
    assert CSTask.objects.count() == 1


def test_a_worker_that_lost_its_lease_is_fenced_out(make_customer, team, settings):
    settings.OPERATIONS_STEP_LEASE_SECONDS = 60
    make_customer("cust_fenced")
    run = start("cust_fenced", ["schedule_priority_check_in"])
    step = steps_of(run)[0]
    slow_step, slow_run, slow_token = workflows._claim(step.pk, timezone.now())
    services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=61))
    assert services.step_execute(step_id=step.pk) == "succeeded"  # the second worker did it
    with pytest.raises(workflows._LeaseLost):
        workflows._execute(slow_step, slow_run, slow_token)  # the first one wakes up: its try is void
    assert CSTask.objects.count() == 1


def test_a_queued_step_whose_task_never_ran_is_queued_again(make_customer, settings):
    settings.OPERATIONS_QUEUE_LEASE_SECONDS = 300
    make_customer("cust_unqueued")
    run = start("cust_unqueued", ["notify_account_team"])
    assert services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=200)).unqueued == 0
    assert services.steps_resume_stalled(now=timezone.now() + timedelta(seconds=301)).unqueued == 1
    assert steps_of(run)[0].status == StepStatus.QUEUED


def test_a_failed_run_can_be_resumed_from_its_failed_step(make_customer, team, flaky_action, settings):
    settings.OPERATIONS_STEP_MAX_ATTEMPTS = 1
    flaky_action["fail_times"] = 1
    make_customer("cust_resume")
    run = start("cust_resume", ["send_immediate_alert", "test_flaky", "schedule_priority_check_in"])
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    completed = start("cust_resume", ["notify_account_team"])
    drain()
    with pytest.raises(services.RunNotResumable):
        services.workflow_run_resume(run_id=completed.run_id)  # only a failed run resumes
    services.workflow_run_resume(run_id=run.run_id)
    assert drain() == ["succeeded", "succeeded"]
    run.refresh_from_db()
    statuses = [(step.name, step.status, step.attempts) for step in steps_of(run)]
    assert run.status == RunStatus.COMPLETED and statuses == [
        ("send_immediate_alert", "succeeded", 1),
        ("test_flaky", "succeeded", 2),
        ("schedule_priority_check_in", "succeeded", 1),
    ]
    assert len([m for m in mail.outbox if m.to == ["sarah.smith@example.com"] and "[HIGH]" in m.subject]) == 1


def test_a_customer_deleted_mid_run_fails_it_for_good(make_customer):
    customer = make_customer("cust_gone")
    run = start("cust_gone", ["notify_account_team"])
    customer.delete()
    assert drain() == ["failed"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "no longer exists" in run.error


def test_template_steps_of_an_absent_app_are_skipped(make_customer, team, no_marketing):
    make_customer("cust_skip")
    run = services.workflow_run_start(
        customer_id="cust_skip", workflow_type="churn_risk_response", triggered_by="api"
    )
    drain()
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    skipped = [step for step in steps_of(run) if step.status == StepStatus.SKIPPED]
    assert [(s.name, s.output) for s in skipped] == [("trigger_campaign", {"skipped": "app_absent"})]


def test_the_state_machines_refuse_undocumented_moves(make_customer):
    make_customer("cust_fsm")
    run = start("cust_fsm", ["notify_account_team"])
    step = steps_of(run)[0]
    with pytest.raises(TransitionNotAllowed):
        step.succeed(now=timezone.now(), output={})  # queued, not running
    with pytest.raises(TransitionNotAllowed):
        run.resume()  # only a failed run resumes
    with pytest.raises(AttributeError):
        run.status = RunStatus.COMPLETED  # the field moves only through transitions
    task = services.task_create(
        customer_id="cust_fsm",
        spec=services.TaskSpec(kind="follow_up", title="t", due_at=timezone.now()),
        source="manual",
    )
    task.cancel(now=timezone.now())
    with pytest.raises(TransitionNotAllowed):
        task.complete(now=timezone.now())


def test_a_run_with_nothing_to_run_completes_at_once(make_customer, no_marketing):
    make_customer("cust_nothing")
    run = services.workflow_run_start(
        customer_id="cust_nothing", workflow_type="campaign_trigger", triggered_by="api"
    )
    assert run.status == RunStatus.COMPLETED
    assert Event.objects.filter(event_type="workflow_completed", customer_id="cust_nothing").exists()


def test_marketing_steps_call_its_public_functions(make_customer, team, fake_marketing):
    make_customer("cust_mkt")
    with pytest.raises(services.InvalidStepParams) as missing_stage:
        start("cust_mkt", ["move_journey_stage"])  # no template step gives it a stage
    assert missing_stage.value.index == 0 and "stage" in missing_stage.value.errors
    run = services.workflow_run_start(
        customer_id="cust_mkt",
        workflow_type="churn_risk_response",
        step_names=["trigger_campaign", "move_journey_stage", "trigger_campaign"],
        triggered_by=RunTrigger.API,
        param_overrides={"move_journey_stage": {"stage": "at_risk"}},
    )
    # the churn template's trigger_campaign parameters apply to both named trigger_campaign steps
    assert drain() == ["succeeded"] * 3
    first, move, second = steps_of(run)
    assert first.output == {
        "campaign_id": "camp_fake1",
        "enrolled": True,
        "campaign_type": "retention",
        "trigger_type": "churn_risk",
    }
    assert second.output["enrolled"] is False  # already enrolled: the marketing app said so
    assert fake_marketing.enrolments == [
        {
            "customer_id": "cust_mkt",
            "campaign_type": "retention",
            "trigger_type": "churn_risk",
            "reason": f"churn_risk_response ({run.run_id})",
        }
    ]
    assert move.output == {"moved": True, "stage": "at_risk"}
    assert fake_marketing.moves[0]["changed_by"] == f"operations:{run.run_id}"


def test_a_refused_journey_move_is_reported_not_failed(make_customer, fake_marketing):
    make_customer("cust_journey")
    template_run = services.workflow_run_start(
        customer_id="cust_journey",
        workflow_type="health_decline_intervention",
        step_names=["move_journey_stage"],
        triggered_by="api",
        param_overrides={"move_journey_stage": {"stage": "churned"}},
    )
    assert drain() == ["succeeded"]
    [step] = steps_of(template_run)
    assert step.output == {"moved": False, "stage": "churned", "allowed": fake_marketing.ALLOWED_STAGES}


def test_a_rule_run_is_exclusive_per_customer_and_type(make_customer):
    make_customer("cust_excl")
    services.workflow_run_start(
        customer_id="cust_excl", workflow_type="onboarding_kickoff", triggered_by="rule", exclusive=True
    )
    with pytest.raises(services.RunAlreadyOpen):
        services.workflow_run_start(
            customer_id="cust_excl", workflow_type="onboarding_kickoff", triggered_by="rule", exclusive=True
        )
    # an explicit API call is not held back
    services.workflow_run_start(
        customer_id="cust_excl", workflow_type="onboarding_kickoff", triggered_by="api"
    )
    assert WorkflowRun.objects.filter(customer_id="cust_excl").count() == 2


def test_finished_runs_are_counted_by_outcome(
    make_customer, no_marketing, django_capture_on_commit_callbacks
):
    from domains.operations.metrics import workflow_runs

    completed = workflow_runs.labels("campaign_trigger", "completed")
    before = completed._value.get()
    make_customer("cust_counted")
    with django_capture_on_commit_callbacks(execute=True):
        services.workflow_run_start(
            customer_id="cust_counted", workflow_type="campaign_trigger", triggered_by="api"
        )
    assert completed._value.get() - before == 1
