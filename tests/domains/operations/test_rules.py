"""Automation rules on the event bus: a health drop of 20 points starts health_decline_intervention with
no other call, never twice while a run is open; the seed's usage and support conditions when those
signals exist; churn risk on the critical queue; the other actions; redelivery; edits seen at once."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from csintegration.events import publish
from csintegration.events.models import Event
from domains.customers import health
from domains.operations import services
from domains.operations.models import (
    AutomationRule,
    FiringOutcome,
    RuleFiring,
    RunStatus,
    StepStatus,
    WorkflowRun,
)
from tests.celery_support import queued_messages

from .conftest import drain

HEALTH_CHANGE = "/api/v1/cs-integration/events/health-change"


@pytest.fixture
def reporter(api):
    return api(scopes="events:write")


def report(client, customer_id, previous, new, **extra):
    body = {
        "customer_id": customer_id,
        "previous_score": previous,
        "new_score": new,
        "change_reason": "decreased_usage",
    }
    response = client.post(HEALTH_CHANGE, {**body, **extra}, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def runs_of(customer_id, workflow_type="health_decline_intervention"):
    return list(
        WorkflowRun.objects.filter(customer_id=customer_id, workflow_type=workflow_type).order_by(
            "created_at"
        )
    )


@pytest.mark.django_db
def test_a_drop_of_20_points_starts_the_intervention_with_no_other_call(reporter, make_customer, team):
    make_customer("cust_drop", health_score=85)
    event_id = report(reporter, "cust_drop", 85, 62)["event_id"]
    [run] = runs_of("cust_drop")
    assert run.triggered_by == "rule" and run.rule_id == "rule_default_health_drop"
    assert run.trigger_event_id == event_id and run.trigger_conditions == {"health_score_drop": 23.0}
    assert run.status == RunStatus.QUEUED and run.queue == "default"
    assert run.steps.get(position=0).status == StepStatus.QUEUED  # its task is enqueued on commit
    firing = RuleFiring.objects.get(rule_id="rule_default_health_drop")
    assert firing.outcome == FiringOutcome.STARTED_RUN and firing.run == run and firing.event_id == event_id
    assert firing.detail["observed"] == {"payload.new_score": 62, "payload.previous_score": 85}
    assert drain() == ["succeeded"] * 4
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


@pytest.mark.django_db
def test_smaller_drops_and_rises_start_nothing(reporter, make_customer):
    make_customer("cust_small", health_score=80)
    report(reporter, "cust_small", 80, 61)  # 19 points
    report(reporter, "cust_small", 61, 90)  # a rise
    assert not WorkflowRun.objects.exists()
    assert not RuleFiring.objects.exists()


@pytest.mark.django_db
def test_not_a_second_run_while_one_is_open(reporter, make_customer, team):
    make_customer("cust_twice", health_score=90)
    report(reporter, "cust_twice", 90, 65)
    report(reporter, "cust_twice", 65, 90)
    report(reporter, "cust_twice", 90, 60)  # a second drop while the first run is open
    assert len(runs_of("cust_twice")) == 1
    outcomes = list(RuleFiring.objects.order_by("created_at").values_list("outcome", flat=True))
    assert outcomes == [FiringOutcome.STARTED_RUN, FiringOutcome.SUPPRESSED]
    assert (
        RuleFiring.objects.order_by("created_at").last().detail["open_run_id"]
        == runs_of("cust_twice")[0].run_id
    )
    drain()  # the first run finishes; the next drop starts a new one
    report(reporter, "cust_twice", 60, 90)
    report(reporter, "cust_twice", 90, 55)
    assert [run.status for run in runs_of("cust_twice")] == [RunStatus.COMPLETED, RunStatus.QUEUED]


@pytest.mark.django_db
def test_a_drop_into_high_risk_starts_one_intervention_not_two(reporter, make_customer, team):
    make_customer("cust_both", health_score=85)
    report(reporter, "cust_both", 85, 40)  # health_score_change and churn_risk_detected together
    assert Event.objects.filter(event_type="churn_risk_detected", customer_id="cust_both").exists()
    assert [run.workflow_type for run in WorkflowRun.objects.all()] == ["health_decline_intervention"]
    churn = RuleFiring.objects.get(rule_id="rule_default_churn_risk")
    assert churn.outcome == FiringOutcome.SUPPRESSED


def _signal_history(customer_id, logins_then, tickets_then, logins_now, tickets_now):
    then = timezone.now() - timedelta(days=40)
    health.health_signals_record(
        items=[
            health.SignalInput(
                customer_id, {"login_frequency": logins_then, "support_tickets": tickets_then}, then
            )
        ]
    )
    health.health_signals_record(
        items=[
            health.SignalInput(customer_id, {"login_frequency": logins_now, "support_tickets": tickets_now})
        ]
    )


@pytest.mark.django_db
def test_usage_and_support_conditions_apply_when_those_signals_exist(reporter, make_customer, team):
    make_customer("cust_steady")
    _signal_history("cust_steady", 20, 2, 19, 2)  # logins steady, tickets steady
    make_customer("cust_declining")
    _signal_history("cust_declining", 20, 2, 10, 4)  # logins halved, tickets doubled
    for customer_id in ("cust_steady", "cust_declining"):
        report(reporter, customer_id, 90, 60, timestamp=(timezone.now() + timedelta(seconds=1)).isoformat())
    assert runs_of("cust_steady") == []
    [run] = runs_of("cust_declining")
    assert (
        run.trigger_conditions["usage_decline"] == 0.5 and run.trigger_conditions["support_increase"] == 1.0
    )
    assert "health_score_drop" in run.trigger_conditions


@pytest.mark.django_db(transaction=True)
def test_churn_risk_runs_are_enqueued_on_the_critical_queue(reporter, make_customer, team, celery_test_app):
    from tests.celery_support import purge_queues

    purge_queues()
    make_customer("cust_churn", health_score=60)
    report(reporter, "cust_churn", 60, 44)  # 16 points below its peak, and high risk: no 20-point drop
    [run] = runs_of("cust_churn", "churn_risk_response")
    assert run.queue == "critical" and run.trigger_conditions == {"risk_level": "high"}
    waiting = queued_messages()
    assert waiting["critical"] >= 1  # the first step's task (the churn event's own fan-out may be there too)
    purge_queues()


@pytest.fixture
def rule(db):
    created = []

    def _make(**fields):
        fields.setdefault("name", f"test rule {len(created)}")
        instance = AutomationRule(**fields)
        instance.full_clean()
        instance.save()
        created.append(instance)
        return instance

    return _make


@pytest.mark.django_db
def test_a_rule_can_publish_an_event(make_customer, rule, api):
    make_customer("cust_nps", nps_score=30)
    rule(
        event_type="customer.updated",
        conditions={"attr": "payload.changes.nps_score.current", "op": "lt", "value": 0},
        action="publish_event",
        action_params={"label": "nps_detractor"},
    )
    client = api()
    client.patch(
        "/api/v1/cs-integration/customers/cust_nps", {"success_metrics": {"nps_score": 10}}, format="json"
    )
    assert not Event.objects.filter(event_type="rule_matched").exists()
    client.patch(
        "/api/v1/cs-integration/customers/cust_nps", {"success_metrics": {"nps_score": -40}}, format="json"
    )
    [matched] = Event.objects.filter(event_type="rule_matched")
    assert matched.customer_id == "cust_nps" and matched.payload["label"] == "nps_detractor"
    assert matched.payload["observed"] == {"payload.changes.nps_score.current": -40}
    assert matched.payload["trigger_event_type"] == "customer.updated"


@pytest.mark.django_db
def test_an_event_about_no_customer_is_recorded_and_skipped(rule):
    created = rule(
        event_type="test.operations_event", conditions={}, action="publish_event", action_params={}
    )
    with transaction.atomic():
        publish("test.operations_event", customer_id=None, payload={"detail": "x"})
    assert RuleFiring.objects.get(rule=created).outcome == FiringOutcome.SKIPPED_NO_CUSTOMER


@pytest.mark.django_db
def test_a_redelivered_event_fires_a_rule_once(reporter, make_customer):
    make_customer("cust_redeliver", health_score=85)
    event_id = report(reporter, "cust_redeliver", 85, 60)["event_id"]
    event = Event.objects.get(pk=event_id)
    assert services.rules_apply(event) == []  # the fan-out runs the subscriber again
    assert RuleFiring.objects.count() == 1 and WorkflowRun.objects.count() == 1


@pytest.mark.django_db
def test_a_new_event_skips_the_read_of_its_firings_only_while_its_inline_subscribers_run(make_customer):
    """Inline, in the transaction that wrote it, no rule can have fired on the event yet: the read of its
    firings is left out; the fan-out (a stored event) reads them, as above."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_customer("cust_fresh", health_score=85)
    with CaptureQueriesContext(connection) as queries:
        with transaction.atomic():
            event = publish(
                "health_score_change",
                customer_id="cust_fresh",
                payload={"previous_score": 85, "new_score": 60, "change_reason": "x", "trigger_events": []},
            )
    assert RuleFiring.objects.filter(event_id=event.event_id).count() == 1
    firing_reads = [
        q for q in queries.captured_queries if q["sql"].startswith('SELECT "operations_rulefiring"')
    ]
    assert firing_reads == [] and event.fresh is False
    assert services.rules_apply(Event.objects.get(pk=event.event_id)) == []


@pytest.mark.django_db
def test_campaign_rules_need_the_marketing_app(make_customer, rule, fake_marketing, team):
    make_customer("cust_campaign", health_score=48)  # already high risk: no churn alert
    created = rule(
        event_type="health_score_change",
        conditions={"attr": "payload.new_score", "op": "lt", "value": 50},
        action="trigger_campaign",
        action_params={"campaign_type": "winback", "trigger_type": "low_health"},
        position=5,
    )
    from domains.customers.models import Customer

    health.health_scores_set(scores=[(Customer.objects.get(pk="cust_campaign"), 45)])
    [run] = WorkflowRun.objects.filter(workflow_type="campaign_trigger")
    assert RuleFiring.objects.get(rule=created).run == run
    assert drain() == ["succeeded"]
    assert fake_marketing.enrolments[0]["campaign_type"] == "winback"
    assert fake_marketing.enrolments[0]["trigger_type"] == "low_health"


@pytest.mark.django_db
def test_without_marketing_a_campaign_rule_is_skipped(make_customer, rule, no_marketing):
    from domains.customers.models import Customer

    make_customer("cust_nocampaign", health_score=48)
    created = rule(
        event_type="health_score_change",
        conditions={"attr": "payload.new_score", "op": "lt", "value": 50},
        action="trigger_campaign",
        action_params={},
    )
    health.health_scores_set(scores=[(Customer.objects.get(pk="cust_nocampaign"), 45)])
    assert RuleFiring.objects.get(rule=created).outcome == FiringOutcome.SKIPPED_APP_ABSENT
    assert not WorkflowRun.objects.filter(workflow_type="campaign_trigger").exists()


@pytest.mark.django_db
def test_an_edited_rule_applies_at_the_next_event(reporter, make_customer):
    make_customer("cust_edit", health_score=90)
    health_rule = AutomationRule.objects.get(pk="rule_default_health_drop")
    health_rule.is_active = False
    health_rule.save()
    report(reporter, "cust_edit", 90, 60)
    assert not WorkflowRun.objects.exists()
    health_rule.is_active = True
    health_rule.save()
    report(reporter, "cust_edit", 60, 90)
    report(reporter, "cust_edit", 90, 60)
    assert WorkflowRun.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"event_type": "no_such_event"}, {"event_type"}),
        ({"conditions": {"attr": "payload.new_scor", "op": "lt", "value": 5}}, {"conditions"}),
        ({"conditions": {"attr": "customer.colour", "value": "red"}}, {"conditions"}),
        ({"conditions": {"attr": "signals.mood", "value": 1}}, {"conditions"}),
        (
            {"conditions": {"and": [{"attr": "payload.new_score", "op": "between", "value": 5}]}},
            {"conditions"},
        ),
        ({"action_params": {"workflow_type": "no_such_workflow"}}, {"action_params"}),
        ({"action_params": {}}, {"action_params"}),
        ({"action_params": {"workflow_type": "onboarding_kickoff", "colour": "red"}}, {"action_params"}),
        (
            {"action": "trigger_campaign", "action_params": {"workflow_type": "onboarding_kickoff"}},
            {"action_params"},
        ),
        ({"suppress_while_open": "health_decline_intervention"}, {"suppress_while_open"}),
    ],
)
@pytest.mark.django_db
def test_a_rule_is_checked_when_saved(fields, errors):
    from django.core.exceptions import ValidationError

    base = {
        "name": "checked",
        "event_type": "health_score_change",
        "conditions": {"attr": "payload.new_score", "op": "lt", "value": 50},
        "action": "start_workflow",
        "action_params": {"workflow_type": "health_decline_intervention"},
        "suppress_while_open": [],
    }
    with pytest.raises(ValidationError) as invalid:
        AutomationRule(**{**base, **fields}).full_clean()
    assert set(invalid.value.message_dict) == errors


@pytest.mark.django_db
def test_the_default_rules_are_valid():
    for default in AutomationRule.objects.all():
        default.full_clean()  # including the rules on events of apps that may be absent
