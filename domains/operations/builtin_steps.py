"""The step actions the platform ships: the seed's four (``send_immediate_alert``,
``schedule_priority_check_in``, ``deploy_success_playbook``, ``notify_account_team``) and, when the
marketing app offers them, ``trigger_campaign`` and ``move_journey_stage``. Each writes through the
services, inside its step's transaction (see ``actions.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from rest_framework import serializers

from csintegration.api.fields import LabelField, StrictFloatField, StrictIntegerField
from csintegration.events import EventMessage, publish_many

from . import events, integrations, selectors
from .actions import PermanentStepError, StepContext, register_step_action
from .conf import conf
from .models import CSTask, Playbook, Skill, TaskKind, TaskPriority, TaskSource
from .services import tasks as task_services


def _skill_exists(key: str | None) -> str | None:
    if key and not Skill.objects.filter(pk=key).exists():
        return f"No skill {key!r}."
    return None


def _message_id(context: StepContext) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "localhost"
    return f"<{context.idempotency_key.replace(':', '.')}@{domain}>"


def _send(context: StepContext, *, subject: str, body: str, recipients: list[str]) -> str:
    """One e-mail through Django's mail; its Message-ID is the step's idempotency key (the same on every
    try)."""
    message_id = _message_id(context)
    EmailMessage(
        subject=subject,
        body=body,
        to=recipients,
        headers={"Message-ID": message_id, "X-CS-Run": context.run.run_id},
    ).send()
    return message_id


def _operations_inbox() -> list[str]:
    return [address for address in conf.OPERATIONS_TEAM_EMAILS if address]


def _conditions_text(trigger_conditions: dict[str, Any]) -> str:
    if not trigger_conditions:
        return "none recorded"
    return ", ".join(f"{key}={value}" for key, value in sorted(trigger_conditions.items()))


# --- send_immediate_alert -------------------------------------------------------------------------------


class AlertParams(serializers.Serializer):
    severity = serializers.ChoiceField(choices=["high", "critical"], default="high")


@register_step_action(
    "send_immediate_alert",
    label="Alert the success manager now",
    params=AlertParams,
)
def send_immediate_alert(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """E-mails the customer's success manager (the operations inbox when it has none) what triggered the
    workflow, and publishes ``cs_alert_raised``."""
    customer = context.require_customer()
    recipients = [customer.success_manager] if customer.success_manager else _operations_inbox()
    if not recipients:
        raise PermanentStepError("The customer has no success manager and OPERATIONS_TEAM_EMAILS is empty.")
    run = context.run
    severity = params["severity"]
    subject = (
        f"[{severity.upper()}] {customer.name}: health {customer.health_score}, {customer.risk_level} risk "
        f"({run.workflow_type})"
    )
    body = "\n".join(
        [
            f"{customer.name} ({customer.customer_id}) needs attention.",
            "",
            f"Health score: {customer.health_score} ({customer.health_trend}), risk {customer.risk_level}, "
            f"stage {customer.lifecycle_stage}.",
            f"Workflow: {run.workflow_type} ({run.run_id}), started by {run.get_triggered_by_display()}.",
            f"Trigger conditions: {_conditions_text(run.trigger_conditions)}.",
            "",
            "The next steps of this workflow create your check-in and the playbook's tasks.",
        ]
    )
    message_id = _send(context, subject=subject, body=body, recipients=recipients)
    (event,) = publish_many(
        [
            EventMessage(
                events.CS_ALERT_RAISED.name,
                customer.customer_id,
                {
                    "run_id": run.run_id,
                    "workflow_type": run.workflow_type,
                    "severity": severity,
                    "recipients": recipients,
                    "health_score": customer.health_score,
                    "risk_level": customer.risk_level,
                    "trigger_conditions": run.trigger_conditions,
                },
            )
        ]
    )
    return {"recipients": recipients, "message_id": message_id, "event_id": event.event_id}


# --- schedule_priority_check_in -------------------------------------------------------------------------


class CheckInParams(serializers.Serializer):
    due_in_hours = StrictIntegerField(min_value=1, max_value=720, default=24)
    required_skill = serializers.SlugField(max_length=50, required=False, allow_null=True, default=None)
    effort_hours = StrictFloatField(min_value=0.25, max_value=40, default=1.0)
    priority = serializers.ChoiceField(choices=TaskPriority.choices, default=TaskPriority.HIGH)
    title = serializers.CharField(max_length=200, required=False, default="Priority check-in")


def _check_check_in(params: dict[str, Any], workflow_type: str | None) -> str | None:
    return _skill_exists(params.get("required_skill"))


@register_step_action(
    "schedule_priority_check_in",
    label="Schedule a priority check-in",
    params=CheckInParams,
    check=_check_check_in,
)
def schedule_priority_check_in(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """Creates a check-in task due in ``due_in_hours``, for the customer's own success manager when they
    have the skill and the capacity, else by the assignment rule."""
    customer = context.require_customer()
    task = task_services.task_create(
        customer_id=customer.customer_id,
        spec=task_services.TaskSpec(
            kind=TaskKind.CHECK_IN,
            title=params["title"],
            description=f"{context.run.workflow_type}: trigger conditions "
            f"{_conditions_text(context.run.trigger_conditions)}.",
            required_skill=params["required_skill"],
            effort_hours=params["effort_hours"],
            priority=params["priority"],
            due_at=context.now + timedelta(hours=params["due_in_hours"]),
            source_key=f"{context.idempotency_key}:0",
        ),
        source=TaskSource.WORKFLOW,
        run=context.run,
        preferred_email=customer.success_manager,
    )
    return _task_output(task)


def _task_output(task: CSTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "assignee": task.assignee.email if task.assignee else None,
        "due_at": task.due_at,
        "skill_matched": task.skill_matched,
    }


# --- deploy_success_playbook ----------------------------------------------------------------------------


class PlaybookParams(serializers.Serializer):
    playbook = serializers.SlugField(
        max_length=64, required=False, allow_null=True, default=None, help_text="Default: the workflow type"
    )


def _playbook_for(params: dict[str, Any], workflow_type: str | None) -> Playbook | None:
    key = params.get("playbook") or workflow_type
    return Playbook.objects.filter(key=key, is_active=True).first() if key else None


def _check_playbook(params: dict[str, Any], workflow_type: str | None) -> str | None:
    if _playbook_for(params, workflow_type) is None:
        key = params.get("playbook") or workflow_type
        return f"No active playbook {key!r} (name one with the playbook parameter)."
    return None


@register_step_action(
    "deploy_success_playbook",
    label="Deploy a success playbook",
    params=PlaybookParams,
    check=_check_playbook,
)
def deploy_success_playbook(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """Creates the playbook's tasks for the customer, each assigned by skill and free capacity."""
    customer = context.require_customer()
    playbook = _playbook_for(params, context.run.workflow_type)
    if playbook is None:
        raise PermanentStepError(_check_playbook(params, context.run.workflow_type))
    templates = list(playbook.tasks.select_related("required_skill").order_by("position", "id"))
    if not templates:
        raise PermanentStepError(f"The playbook {playbook.key!r} has no tasks.")
    created = task_services.tasks_create(
        customer_id=customer.customer_id,
        specs=[
            task_services.TaskSpec(
                kind=TaskKind.PLAYBOOK_TASK,
                title=item.title,
                description=item.description,
                required_skill=item.required_skill_id,
                effort_hours=item.effort_hours,
                priority=item.priority,
                due_at=context.now + timedelta(days=item.due_in_days),
                source_key=f"{context.idempotency_key}:{index}",
                playbook_id=playbook.pk,
            )
            for index, item in enumerate(templates)
        ],
        source=TaskSource.WORKFLOW,
        run=context.run,
        preferred_email=customer.success_manager,
    )
    return {"playbook": playbook.key, "tasks": [_task_output(task) for task in created]}


# --- notify_account_team --------------------------------------------------------------------------------


class NotifyParams(serializers.Serializer):
    message = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


@register_step_action("notify_account_team", label="Notify the account team", params=NotifyParams)
def notify_account_team(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """E-mails the account team (the success manager, the assignees of the customer's open tasks and the
    operations inbox) what the workflow did, and publishes ``account_team_notified``."""
    customer = context.require_customer()
    run = context.run
    recipients = selectors.account_team_emails(
        customer_id=customer.customer_id, success_manager=customer.success_manager
    )
    if not recipients:
        raise PermanentStepError(
            "Nobody to notify: no success manager, no assignee, no OPERATIONS_TEAM_EMAILS."
        )
    open_tasks = list(
        selectors.task_list()
        .filter(customer_id=customer.customer_id, status__in=("open", "in_progress"))
        .order_by("due_at")[:20]
    )
    lines = [
        f"{run.workflow_type} for {customer.name} ({customer.customer_id}): health {customer.health_score}, "
        f"{customer.risk_level} risk.",
    ]
    if params["message"]:
        lines += ["", params["message"]]
    lines += ["", "Open tasks:"]
    lines += [
        f"- {task.title}: {task.assignee.email if task.assignee else 'unassigned'}, "
        f"due {task.due_at:%Y-%m-%d %H:%M} UTC"
        for task in open_tasks
    ] or ["- none"]
    subject = f"{customer.name}: {run.workflow_type} under way"
    message_id = _send(context, subject=subject, body="\n".join(lines), recipients=recipients)
    (event,) = publish_many(
        [
            EventMessage(
                events.ACCOUNT_TEAM_NOTIFIED.name,
                customer.customer_id,
                {
                    "run_id": run.run_id,
                    "workflow_type": run.workflow_type,
                    "recipients": recipients,
                    "open_tasks": len(open_tasks),
                },
            )
        ]
    )
    return {"recipients": recipients, "message_id": message_id, "event_id": event.event_id}


# --- Marketing (when its app offers these functions) ----------------------------------------------------


class CampaignParams(serializers.Serializer):
    campaign_type = LabelField(default="retention")
    trigger_type = LabelField(default="health_decline")


@register_step_action(
    "trigger_campaign",
    label="Enrol the customer in a marketing campaign",
    params=CampaignParams,
    available=integrations.marketing_campaigns_available,
)
def trigger_campaign(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """Asks marketing to enrol the customer in its campaign for this trigger (none: already enrolled, or
    no such campaign)."""
    enroll = integrations.campaign_enroll_for_trigger()
    if enroll is None:
        raise PermanentStepError("The marketing app does not offer campaign_enroll_for_trigger.")
    customer = context.require_customer()
    campaign_id = enroll(
        customer_id=customer.customer_id,
        campaign_type=params["campaign_type"],
        trigger_type=params["trigger_type"],
        reason=f"{context.run.workflow_type} ({context.run.run_id})",
    )
    return {"campaign_id": campaign_id, "enrolled": campaign_id is not None, **params}


class JourneyParams(serializers.Serializer):
    stage = serializers.ChoiceField(
        choices=["onboarding", "adoption", "expansion", "renewal", "at_risk", "churned"]
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


@register_step_action(
    "move_journey_stage",
    label="Move the customer's journey stage",
    params=JourneyParams,
    available=integrations.marketing_journey_available,
)
def move_journey_stage(context: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """Asks marketing to move the customer's journey to ``stage``. A move the journey does not allow is
    not an error of the workflow: the output says so, with the stages it allows."""
    functions = integrations.journey_move()
    if functions is None:
        raise PermanentStepError("The marketing app does not offer journey_move.")
    move, refused = functions
    customer = context.require_customer()
    reason = params["reason"] or f"{context.run.workflow_type} ({context.run.run_id})"
    try:
        move(
            customer_id=customer.customer_id,
            stage=params["stage"],
            reason=reason,
            changed_by=f"operations:{context.run.run_id}",
        )
    except refused as exc:
        return {"moved": False, "stage": params["stage"], "allowed": list(getattr(exc, "allowed", []) or [])}
    return {"moved": True, "stage": params["stage"]}
