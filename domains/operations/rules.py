"""What automation rules may say and what they read: the attributes their conditions use (the event, its
payload, the customer, its latest signals and their values a while ago), and the check of a rule's
definition that the admin runs on save. The firing itself is ``services/rules.py``.

Attributes a condition may read:

- ``event.type``, ``event.customer_id``, ``event.event_id``, ``event.occurred_at``
- ``payload.<key>…``: the event's own keys (nested keys and list indexes with dots)
- ``customer.<field>``: health_score, health_trend, risk_level, lifecycle_stage, segment, arr,
  success_manager, adoption_rate, engagement_score, nps_score and the ``*_status`` fields
- ``signals.<measure>``: the latest value of a health signal (login_frequency, support_tickets, …)
- ``signals_past.<measure>``: its value ``OPERATIONS_SIGNAL_LOOKBACK_DAYS`` ago, from the health history
  (the latest scored breakdown at least that old, else the oldest one since; absent when the history has
  no value older than the current one)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from csintegration.events import event_type_get
from csintegration.events.types import NAME_PATTERN, UnknownEventType

from . import conditions
from .conditions import MISSING, dig
from .conf import conf

ROOTS = ("event", "payload", "customer", "signals", "signals_past")
EVENT_FIELDS = ("type", "customer_id", "event_id", "occurred_at")
CUSTOMER_FIELDS = (
    "name",
    "segment",
    "arr",
    "success_manager",
    "health_score",
    "health_trend",
    "risk_level",
    "lifecycle_stage",
    "adoption_rate",
    "engagement_score",
    "nps_score",
    "marketing_status",
    "sales_status",
    "product_status",
    "finance_status",
    "operations_status",
)
#: event types of the contract published by apps that may not be installed: a rule may name them
KNOWN_OPTIONAL_EVENT_TYPES = frozenset(
    {
        "handoff_completed",
        "expansion_ready",
        "journey_stage_changed",
        "campaign_triggered",
        "campaign_members_enrolled",
        "feedback_submitted",
        "forecast_submitted",
        "payment_overdue",
        "payments_current",
    }
)
SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}\Z")
LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")
DEFAULT_CAMPAIGN_WORKFLOW = "campaign_trigger"


def _measures() -> list[str]:
    from domains.customers.models import Measure

    return list(Measure.values)


# --- Checking a rule's definition -----------------------------------------------------------------------


def _attribute_errors(conditions_value: Any, event_type: str) -> list[str]:
    try:
        example = event_type_get(event_type).example
    except UnknownEventType:
        example = {}
    problems = []
    for attr in sorted(conditions.referenced_attributes(conditions_value)):
        root, _, rest = attr.partition(".")
        first = rest.split(".", 1)[0] if rest else ""
        if root == "event" and first not in EVENT_FIELDS:
            problems.append(f"{attr}: the event has {', '.join(EVENT_FIELDS)}.")
        elif root == "customer" and first not in CUSTOMER_FIELDS:
            problems.append(f"{attr}: a customer has {', '.join(CUSTOMER_FIELDS)}.")
        elif root in ("signals", "signals_past") and first not in _measures():
            problems.append(f"{attr}: the signals are {', '.join(_measures())}.")
        elif root == "payload" and example and first not in example:
            problems.append(f"{attr}: the payload of {event_type} has {', '.join(sorted(example))}.")
    return problems


#: the actions a rule may take (``models.RuleAction`` gives them their labels)
START_WORKFLOW, TRIGGER_CAMPAIGN, PUBLISH_EVENT = "start_workflow", "trigger_campaign", "publish_event"

#: a workflow type → the actions of its template's steps, or None when there is no such template
TemplateSteps = Callable[[str], list[str] | None]


def _action_param_errors(action: str, params: Any, template_steps: TemplateSteps) -> list[str]:
    from .actions import step_action_get

    if not isinstance(params, Mapping):
        return ["The action's parameters are a JSON object."]
    allowed = {
        START_WORKFLOW: {"workflow_type"},
        TRIGGER_CAMPAIGN: {"campaign_type", "trigger_type", "workflow_type"},
        PUBLISH_EVENT: {"label"},
    }.get(action)
    if allowed is None:
        return [f"Unknown action {action!r}."]
    problems = [f"Unknown parameter {name!r}." for name in sorted(set(params) - allowed)]
    for name in ("campaign_type", "trigger_type", "label"):
        if name in params and not (isinstance(params[name], str) and LABEL.match(params[name])):
            problems.append(f"{name} is a label such as health_decline.")
    if action == START_WORKFLOW and "workflow_type" not in params:
        problems.append("start_workflow needs a workflow_type.")
    if action in (START_WORKFLOW, TRIGGER_CAMPAIGN):
        default = DEFAULT_CAMPAIGN_WORKFLOW if action == TRIGGER_CAMPAIGN else None
        workflow_type = params.get("workflow_type", default)
        if workflow_type is not None:
            steps = template_steps(workflow_type)
            if steps is None:
                problems.append(f"No workflow template {workflow_type!r}.")
            elif action == TRIGGER_CAMPAIGN and "trigger_campaign" not in steps:
                problems.append(f"The template {workflow_type!r} has no trigger_campaign step.")
    if action == TRIGGER_CAMPAIGN and step_action_get("trigger_campaign") is None:
        problems.append("trigger_campaign is not a registered step action.")
    return problems


def rule_definition_errors(
    *,
    event_type: str,
    conditions: Any,
    action: str,
    action_params: Any,
    suppress_while_open: Any,
    template_steps: TemplateSteps,
) -> dict[str, list[str]]:
    """What is wrong with a rule, by field (empty when it is valid)."""
    from . import conditions as language

    errors: dict[str, list[str]] = {}
    registered = True
    try:
        event_type_get(event_type)
    except UnknownEventType:
        registered = False
    if not isinstance(event_type, str) or not NAME_PATTERN.match(event_type):
        errors["event_type"] = ["An event type name such as health_score_change."]
    elif not registered and event_type not in KNOWN_OPTIONAL_EVENT_TYPES:
        errors["event_type"] = [f"No app publishes {event_type!r}."]
    condition_problems = [
        f"{path}: {message}" for path, message in language.validate_conditions(conditions, roots=ROOTS)
    ]
    if not condition_problems and isinstance(event_type, str):
        condition_problems = _attribute_errors(conditions, event_type)
    if condition_problems:
        errors["conditions"] = condition_problems
    param_problems = _action_param_errors(action, action_params, template_steps)
    if param_problems:
        errors["action_params"] = param_problems
    if not isinstance(suppress_while_open, list) or not all(
        isinstance(item, str) and SLUG.match(item) for item in suppress_while_open
    ):
        errors["suppress_while_open"] = ["A list of workflow types."]
    return errors


# --- What a rule reads ----------------------------------------------------------------------------------

_RESERVED = ("event", "customer_id", "timestamp")


class RuleContext:
    """The attributes of one event for the conditions of every rule of its type: each namespace is read
    once, and only if a condition asks for it (the customer: one query; signals: one; their past: one)."""

    def __init__(self, event, *, now: datetime | None = None) -> None:
        self.event = event
        self.now = now or timezone.now()
        self._namespaces: dict[str, Any] = {}
        self._customer_loaded = False
        self._customer = None

    def lookup(self, attr: str) -> Any:
        root, _, rest = attr.partition(".")
        namespace = self._namespace(root)
        if namespace is MISSING:
            return MISSING
        value = dig(namespace, rest.split(".")) if rest else namespace
        return float(value) if isinstance(value, Decimal) else value  # arr as a number

    @property
    def customer(self):
        if not self._customer_loaded:
            from domains.customers.models import Customer

            self._customer_loaded = True
            if self.event.customer_id:
                self._customer = Customer.objects.filter(pk=self.event.customer_id).first()
        return self._customer

    def _namespace(self, root: str) -> Any:
        if root not in self._namespaces:
            builder = {
                "event": self._event,
                "payload": self._payload,
                "customer": self._customer_fields,
                "signals": self._signals,
                "signals_past": self._signals_past,
            }.get(root)
            self._namespaces[root] = builder() if builder else MISSING
        return self._namespaces[root]

    def _event(self) -> dict[str, Any]:
        return {
            "type": self.event.event_type,
            "customer_id": self.event.customer_id,
            "event_id": self.event.event_id,
            "occurred_at": self.event.payload.get("timestamp"),
        }

    def _payload(self) -> dict[str, Any]:
        return {key: value for key, value in self.event.payload.items() if key not in _RESERVED}

    def _customer_fields(self) -> Any:
        customer = self.customer
        if customer is None:
            return MISSING
        return {name: getattr(customer, name) for name in CUSTOMER_FIELDS}

    def _signal_rows(self):
        from domains.customers.models import CustomerSignal

        if not hasattr(self, "_rows"):
            self._rows = (
                {row.name: row for row in CustomerSignal.objects.filter(customer_id=self.event.customer_id)}
                if self.customer is not None
                else {}
            )
        return self._rows

    def _signals(self) -> Any:
        if self.customer is None:
            return MISSING
        return {name: row.value for name, row in self._signal_rows().items()}

    def _signals_past(self) -> Any:
        from domains.customers.models import HealthSnapshot
        from domains.customers.selectors import COMPUTED_SOURCES

        if self.customer is None:
            return MISSING
        cutoff = self.now - timedelta(days=conf.OPERATIONS_SIGNAL_LOOKBACK_DAYS)
        scored = HealthSnapshot.objects.filter(
            customer_id=self.customer.pk, source__in=COMPUTED_SOURCES
        ).only("observed_at", "breakdown")
        baseline = scored.filter(observed_at__lte=cutoff).order_by("-observed_at", "-id").first() or (
            scored.filter(observed_at__gt=cutoff, observed_at__lte=self.now)
            .order_by("observed_at", "id")
            .first()
        )
        if baseline is None:
            return {}
        current = self._signal_rows()
        past = {}
        for entry in baseline.breakdown or ():
            name, value = entry.get("measure"), entry.get("raw_value")
            row = current.get(name)
            # A past value only if the current value was observed after it.
            if value is not None and row is not None and row.observed_at > baseline.observed_at:
                past[name] = value
        return past
