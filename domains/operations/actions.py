"""The registry of step actions: what a workflow step can do. Each action is a small function with a
declared input schema (a DRF serializer), registered by name:

    @register_step_action("schedule_priority_check_in", label="Schedule a priority check-in",
                          params=CheckInParams)
    def schedule_priority_check_in(context: StepContext, params: dict) -> dict:
        ...  # writes through the services, in the step's transaction; returns the step's output

The engine (``services/workflows.py``) runs an action inside the transaction that marks its step
succeeded, so the rows it writes and the events it publishes commit with that mark, or not at all. An
action raises to fail its try (it is retried with backoff) or ``PermanentStepError`` to fail the step at
once. The built-in actions are in ``builtin_steps.py``; modules named in ``OPERATIONS_ACTION_MODULES``
may register more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from csintegration.api.exceptions import flatten_errors

if TYPE_CHECKING:
    from domains.customers.models import Customer

    from .models import WorkflowRun, WorkflowStep


class PermanentStepError(Exception):
    """A failure that another try cannot fix (missing data, an absent app): the step fails at once."""


@dataclass
class StepContext:
    run: WorkflowRun
    step: WorkflowStep
    #: None when the customer was deleted after the run was created
    customer: Customer | None
    now: datetime

    @property
    def idempotency_key(self) -> str:
        """Fixed when the run was created; the same on every try of the step."""
        return self.step.idempotency_key

    @property
    def attempt(self) -> int:
        return self.step.attempts

    def require_customer(self) -> Customer:
        if self.customer is None:
            raise PermanentStepError(f"Customer {self.run.customer_id} no longer exists.")
        return self.customer


ActionFunction = Callable[[StepContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class StepAction:
    name: str
    label: str
    run: ActionFunction
    description: str = ""
    #: the input schema; None: the action takes no parameters
    params: type[serializers.Serializer] | None = None
    #: False while the app the action needs is not installed (the action is then not offered)
    available: Callable[[], bool] = lambda: True
    #: a check of the input against the run's workflow type: an error message, or None
    check: Callable[[dict[str, Any], str | None], str | None] | None = None

    def is_available(self) -> bool:
        try:
            return bool(self.available())
        except Exception:
            return False


_actions: dict[str, StepAction] = {}
_lock = threading.Lock()


def register_step_action(
    name: str,
    *,
    label: str,
    description: str = "",
    params: type[serializers.Serializer] | None = None,
    available: Callable[[], bool] | None = None,
    check: Callable[[dict[str, Any], str | None], str | None] | None = None,
) -> Callable[[ActionFunction], ActionFunction]:
    """Register the decorated function as the step action ``name`` (registering again replaces it)."""

    def decorate(function: ActionFunction) -> ActionFunction:
        action = StepAction(
            name=name,
            label=label,
            run=function,
            description=description or (function.__doc__ or "").strip(),
            params=params,
            available=available or (lambda: True),
            check=check,
        )
        with _lock:
            _actions[name] = action
        return function

    return decorate


def unregister_step_action(name: str) -> None:
    with _lock:
        _actions.pop(name, None)


def step_action_get(name: str) -> StepAction | None:
    with _lock:
        return _actions.get(name)


def step_actions(*, available_only: bool = False) -> list[StepAction]:
    with _lock:
        actions = sorted(_actions.values(), key=lambda action: action.name)
    return [action for action in actions if action.is_available()] if available_only else actions


def action_names() -> list[str]:
    return [action.name for action in step_actions()]


class InvalidParams(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


def clean_params(action: StepAction, params: Any) -> dict[str, Any]:
    """The action's input validated by its schema, with its defaults filled in; ``InvalidParams``."""
    if params in (None, ""):
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams({"params": "The parameters are a JSON object."})
    if action.params is None:
        if params:
            raise InvalidParams({"params": f"{action.name} takes no parameters."})
        return {}
    unknown = sorted(set(params) - set(action.params().fields))
    if unknown:
        raise InvalidParams({name: "Unknown parameter." for name in unknown})
    serializer = action.params(data=params)
    if not serializer.is_valid():
        errors = flatten_errors(ValidationError(serializer.errors).get_full_details())
        raise InvalidParams({error["field"]: error["message"] for error in errors})
    return dict(serializer.validated_data)


def action_params_errors(name: str, params: Any, *, workflow_type: str | None) -> dict[str, str]:
    """What is wrong with a step definition: ``{"action": …}`` for an unknown action, else the input's
    errors by field; empty when it is valid. The action's own check against the workflow type (a
    playbook that exists for it, …) runs when ``workflow_type`` is given."""
    action = step_action_get(name)
    if action is None:
        return {"action": f"Unknown step action {name!r}; use one of {', '.join(action_names())}."}
    try:
        cleaned = clean_params(action, params)
    except InvalidParams as invalid:
        return invalid.errors
    if action.check is not None and workflow_type is not None:
        problem = action.check(cleaned, workflow_type)
        if problem:
            return {"params": problem}
    return {}
