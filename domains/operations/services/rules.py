"""Automation rules on the event bus: every event is matched against the active rules of its type, in
the publishing transaction (an inline subscriber), and a matching rule acts at once: it starts a
workflow run (whose first step is enqueued after commit), a campaign-trigger run, or publishes
``rule_matched``. Each match is a ``RuleFiring`` row, unique per rule and event, so an event delivered
twice fires a rule once; a rule does not start a run while the customer has an open run of the same type
(or of one it names in ``suppress_while_open``)."""

from __future__ import annotations

import contextvars
import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from csintegration.events import EventMessage, publish_many

from .. import events, selectors
from ..conditions import Evaluation, evaluate
from ..integrations import marketing_campaigns_available
from ..models import AutomationRule, FiringOutcome, RuleAction, RuleFiring, RunTrigger
from ..rules import DEFAULT_CAMPAIGN_WORKFLOW, RuleContext
from . import workflows

logger = logging.getLogger(__name__)

SUBSCRIBER = "operations.rules"
#: rules acting on events that rules published, at most this deep (a rule cannot loop on itself)
MAX_DEPTH = 3
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("operations_rule_depth", default=0)


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, default=str))


def rules_apply(event) -> list[RuleFiring]:
    """Match ``event`` against the active rules of its type and fire those that match (the subscriber)."""
    rules = selectors.active_rules_for(event.event_type)
    if not rules:
        return []
    depth = _depth.get()
    if depth >= MAX_DEPTH:
        logger.warning("Rules not applied to %s: events published by rules nest too deep.", event.event_id)
        return []
    token = _depth.set(depth + 1)
    try:
        done = (
            set()  # written in this transaction: no rule has fired on it yet
            if getattr(event, "fresh", False)
            else set(
                RuleFiring.objects.filter(event_id=event.event_id, rule__in=rules).values_list(
                    "rule_id", flat=True
                )
            )
        )
        context = RuleContext(event)
        firings = []
        for rule in rules:
            if rule.pk in done:
                continue
            evaluation = evaluate(rule.conditions, context.lookup)
            if evaluation.matched:
                firing = _fire(rule, event, evaluation, context)
                if firing is not None:
                    firings.append(firing)
        return firings
    finally:
        _depth.reset(token)


def _fire(rule: AutomationRule, event, evaluation: Evaluation, context: RuleContext) -> RuleFiring | None:
    detail = {"observed": _json_ready(evaluation.observed), "measured": _json_ready(evaluation.labelled)}
    try:
        with transaction.atomic():
            firing = RuleFiring.objects.create(
                rule=rule,
                event_id=event.event_id,
                event_type=event.event_type,
                customer_id=event.customer_id,
                outcome=FiringOutcome.STARTED_RUN,
                detail=detail,
            )
            _act(rule, event, evaluation, context, firing)
            firing.save(update_fields=["outcome", "run", "detail"])
    except IntegrityError:
        return None  # a concurrent delivery of the same event fired it
    return firing


def _act(
    rule: AutomationRule, event, evaluation: Evaluation, context: RuleContext, firing: RuleFiring
) -> None:
    params = rule.action_params or {}
    if context.customer is None:
        firing.outcome = FiringOutcome.SKIPPED_NO_CUSTOMER
        return
    if rule.action == RuleAction.PUBLISH_EVENT:
        (published,) = publish_many(
            [
                EventMessage(
                    events.RULE_MATCHED.name,
                    event.customer_id,
                    {
                        "rule_id": rule.rule_id,
                        "rule": rule.name,
                        "label": params.get("label"),
                        "trigger_event_id": event.event_id,
                        "trigger_event_type": event.event_type,
                        "observed": firing.detail["observed"],
                    },
                )
            ]
        )
        firing.outcome = FiringOutcome.PUBLISHED_EVENT
        firing.detail = {**firing.detail, "event_id": published.event_id}
        return
    overrides = None
    workflow_type = params.get("workflow_type")
    if rule.action == RuleAction.TRIGGER_CAMPAIGN:
        if not marketing_campaigns_available():
            firing.outcome = FiringOutcome.SKIPPED_APP_ABSENT
            return
        workflow_type = workflow_type or DEFAULT_CAMPAIGN_WORKFLOW
        campaign = {key: params[key] for key in ("campaign_type", "trigger_type") if key in params}
        overrides = {"trigger_campaign": campaign}
    suppressing = {workflow_type, *(rule.suppress_while_open or [])}
    open_run = selectors.open_run_of(customer_id=event.customer_id, workflow_types=suppressing)
    if open_run is not None:
        firing.outcome = FiringOutcome.SUPPRESSED
        firing.detail = {**firing.detail, "open_run_id": open_run.run_id}
        return
    try:
        run = workflows.workflow_run_start(
            customer_id=event.customer_id,
            workflow_type=workflow_type,
            triggered_by=RunTrigger.RULE,
            trigger_conditions=evaluation.labelled or firing.detail["observed"],
            rule=rule,
            trigger_event_id=event.event_id,
            trigger_event_type=event.event_type,
            requested_by=f"rule:{rule.name}",
            exclusive=True,
            param_overrides=overrides,
        )
    except workflows.RunAlreadyOpen:
        firing.outcome = FiringOutcome.SUPPRESSED
        return
    except (workflows.UnknownWorkflowType, workflows.UnknownStep, workflows.InvalidStepParams) as exc:
        logger.warning("Rule %s could not start %s: %s", rule.name, workflow_type, exc)
        firing.outcome = FiringOutcome.SKIPPED_INVALID
        firing.detail = {**firing.detail, "error": f"{type(exc).__name__}: {exc}"}
        return
    firing.run = run
    firing.outcome = FiringOutcome.STARTED_RUN
