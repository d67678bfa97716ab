"""Bodies of the operations API: the seed's workflow request, runs with their steps, rules, CS tasks, and
the seed's performance response with each figure's definition."""

import math

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField
from csintegration.api.fields import LABEL_PATTERN, LabelField, PrefixedIdField, StrictIntegerField
from csintegration.api.schema import json_schema_pattern
from csintegration.api.updates import NonEmptyBodyMixin

from ..actions import step_actions
from ..models import (
    RuleAction,
    RunStatus,
    RunTrigger,
    StepStatus,
    TaskKind,
    TaskPriority,
    TaskSource,
    TaskStatus,
)
from ..services.workflows import MAX_STEPS

CUSTOMER_ID_PREFIX = "cust"
MAX_TRIGGER_CONDITIONS = 50
MAX_CONDITION_TEXT = 200


class BlankAsNullCharField(serializers.CharField):
    """A text column shown as null when empty."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_TRIGGER_CONDITIONS,
        "propertyNames": {"pattern": json_schema_pattern(LABEL_PATTERN.pattern)},
        "additionalProperties": {
            "oneOf": [
                {"type": "number"},
                {"type": "string", "maxLength": MAX_CONDITION_TEXT},
                {"type": "boolean"},
            ]
        },
        "example": {"health_score_drop": 20, "usage_decline": 0.3, "support_increase": 0.5},
    }
)
class TriggerConditionsField(serializers.Field):
    """What triggered the workflow, recorded with the run: labels mapped to numbers, strings or booleans."""

    default_error_messages = {
        "invalid": 'An object of labels and values, e.g. {{"health_score_drop": 20}}.',
        "too_many": f"At most {MAX_TRIGGER_CONDITIONS} conditions.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        if len(data) > MAX_TRIGGER_CONDITIONS:
            self.fail("too_many")
        errors = {}
        for key, value in data.items():
            if not LABEL_PATTERN.match(str(key)):
                errors[key] = ["A label is 1 to 100 letters, digits, '_', '.', ':' or '-'."]
            elif isinstance(value, bool):
                continue
            elif isinstance(value, int | float):
                if not math.isfinite(value):
                    errors[key] = ["A finite number."]
            elif isinstance(value, str):
                if len(value) > MAX_CONDITION_TEXT:
                    errors[key] = [f"At most {MAX_CONDITION_TEXT} characters."]
            else:
                errors[key] = ["A number, a string or a boolean."]
        if errors:
            raise serializers.ValidationError(errors)
        return data

    def to_representation(self, value):
        return value


class StepNameField(LabelField):
    """The name of a step action that a run can take (registered, its app installed); the service
    refuses any other, naming ``automation_steps.N``."""


class StepNameFieldSchema(OpenApiSerializerFieldExtension):
    """The step names the registry holds when the document is generated, as the service reads it."""

    target_class = StepNameField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": [action.name for action in step_actions(available_only=True)]}


class WorkflowRequestSerializer(serializers.Serializer):
    workflow_type = LabelField(
        help_text="An active workflow template's type, e.g. health_decline_intervention"
    )
    customer_id = PrefixedIdField(
        prefix=CUSTOMER_ID_PREFIX, required=False, help_text="Optional; if given, the same as in the path"
    )
    trigger_conditions = TriggerConditionsField(required=False, default=dict)
    automation_steps = serializers.ListField(
        child=StepNameField(),
        min_length=1,
        max_length=MAX_STEPS,
        required=False,
        help_text="The steps to run, in order (registered step actions); default: the template's steps",
    )


class StepSerializer(serializers.Serializer):
    position = serializers.IntegerField(help_text="0 for the first step")
    name = serializers.CharField(help_text="The step action")
    status = serializers.ChoiceField(choices=StepStatus.choices)
    attempts = serializers.IntegerField(help_text="Tries started so far (a try lost with its worker counts)")
    max_attempts = serializers.IntegerField(help_text="Tries before the step fails its run")
    started_at = serializers.DateTimeField(allow_null=True, help_text="When the first try started")
    finished_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="When a failed try is retried")
    output = serializers.JSONField(allow_null=True, help_text="What the step did (ids of what it created, …)")
    error = BlankAsNullCharField(help_text="The last try's error")


class WorkflowRunSerializer(serializers.Serializer):
    run_id = serializers.CharField(help_text="`run_…`")
    workflow_type = serializers.CharField()
    customer_id = serializers.CharField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    triggered_by = serializers.ChoiceField(choices=RunTrigger.choices)
    rule_id = serializers.CharField(allow_null=True, help_text="The automation rule that started it")
    trigger_event_id = BlankAsNullCharField(help_text="The event that fired the rule")
    trigger_conditions = serializers.JSONField(help_text="As sent, or what the rule measured")
    queue = serializers.CharField(help_text="critical for churn-risk work, else default")
    error = BlankAsNullCharField(help_text="Why the run failed")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    steps = StepSerializer(many=True, source="steps.all")


class RuleSerializer(serializers.Serializer):
    rule_id = serializers.CharField(help_text="`rule_…`")
    name = serializers.CharField()
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    position = serializers.IntegerField(help_text="Rules of one event type are evaluated in this order")
    event_type = serializers.CharField()
    conditions = serializers.JSONField(help_text="The condition language of docs/domains/operations.md")
    action = serializers.ChoiceField(choices=RuleAction.choices)
    action_params = serializers.JSONField()
    suppress_while_open = serializers.ListField(child=serializers.CharField())
    last_fired_at = serializers.DateTimeField(allow_null=True, help_text="The latest time the rule matched")
    fired_last_30_days = serializers.IntegerField(
        help_text="Events the rule matched in the last 30 days, whatever its action did"
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TaskSerializer(serializers.Serializer):
    task_id = serializers.CharField(help_text="`task_…`")
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    title = serializers.CharField()
    description = serializers.CharField()
    customer_id = serializers.CharField()
    priority = serializers.ChoiceField(choices=TaskPriority.choices)
    assignee = serializers.EmailField(source="assignee.email", allow_null=True, default=None)
    required_skill = serializers.CharField(source="required_skill_id", allow_null=True)
    skill_matched = serializers.BooleanField(
        allow_null=True,
        help_text="Whether the assignee had the required skill when assigned (null: none required)",
    )
    effort_hours = serializers.FloatField(
        help_text="Counted against the assignee's weekly capacity while open"
    )
    origin = serializers.ChoiceField(
        choices=TaskSource.choices, source="source", help_text="What created the task"
    )
    run_id = serializers.CharField(allow_null=True)
    playbook = serializers.CharField(source="playbook.key", allow_null=True, default=None)
    escalation_of = serializers.CharField(
        source="escalation_of_id", allow_null=True, help_text="The overdue task"
    )
    due_at = serializers.DateTimeField()
    overdue = serializers.SerializerMethodField(help_text="Open and past its due date")
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    escalated_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was escalated for being overdue"
    )
    assigned_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True, help_text="When it was done or cancelled")
    resolution_hours = serializers.FloatField(
        allow_null=True, help_text="Hours from creation to done (null unless done)"
    )
    satisfaction = serializers.IntegerField(allow_null=True, help_text="The customer's satisfaction, 1 to 5")

    def get_overdue(self, task) -> bool:
        return task.is_overdue()


class TaskUpdateSerializer(NonEmptyBodyMixin, serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.CANCELLED],
        required=False,
        help_text="done or cancelled closes the task",
    )
    satisfaction = StrictIntegerField(
        min_value=1,
        max_value=5,
        required=False,
        allow_null=True,
        help_text="The customer's satisfaction with the task's outcome; only on a task that is (or "
        "becomes) done",
    )
    assignee = serializers.EmailField(
        required=False, allow_null=True, help_text="An active success manager's address; null unassigns"
    )
    due_at = RFC3339DateTimeField(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: ["Unknown field; send status, satisfaction, assignee or due_at."]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


# --- Performance ----------------------------------------------------------------------------------------


class PerformanceMetricsSerializer(serializers.Serializer):
    workflow_execution_rate = serializers.FloatField(
        allow_null=True,
        help_text="Runs that completed ÷ runs that finished (completed or failed) in the window; null if "
        "none finished",
    )
    average_resolution_time = serializers.CharField(
        allow_null=True,
        help_text="Mean time from creation to done of the intervention tasks done in the window (the "
        "check-ins workflows schedule, and escalations), in hours to one decimal: `2.3_hours`",
    )
    customer_satisfaction = serializers.FloatField(
        allow_null=True,
        help_text="Mean satisfaction score (1 to 5) of the tasks done in the window that have one",
    )
    team_productivity = serializers.FloatField(
        allow_null=True,
        help_text="Tasks done per manager in the window ÷ tasks done per manager in the window before it "
        "(same length); managers of a window: those active who had joined by its end, plus any who "
        "completed a task in it; null when the window before had none",
    )


class ResourceUtilizationSerializer(serializers.Serializer):
    capacity_usage = serializers.FloatField(
        allow_null=True,
        help_text="At the window's end: effort hours of the open tasks of active managers ÷ their weekly "
        "capacity hours",
    )
    skill_matching_accuracy = serializers.FloatField(
        allow_null=True,
        help_text="Of the tasks assigned in the window that required a skill, the share given to a manager "
        "who had it",
    )
    workload_balancing = serializers.ChoiceField(
        choices=["optimal", "uneven", "overloaded"],
        allow_null=True,
        help_text="At the window's end: overloaded if a manager's open load exceeds "
        "OPERATIONS_OVERLOAD_USAGE of their capacity; uneven if the coefficient of variation of the "
        "managers' utilisation exceeds OPERATIONS_BALANCE_MAX_SPREAD; else optimal",
    )


class PerformanceWindowSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class PerformanceBasisSerializer(serializers.Serializer):
    runs_finished = serializers.IntegerField(help_text="Runs completed or failed in the window")
    runs_completed = serializers.IntegerField()
    runs_started = serializers.IntegerField(help_text="Runs created in the window")
    automation_coverage = serializers.FloatField(
        allow_null=True, help_text="Share of the runs created in the window that a rule started (no API call)"
    )
    critical_run_share = serializers.FloatField(
        allow_null=True, help_text="Share of the runs created in the window that went to the critical queue"
    )
    interventions_resolved = serializers.IntegerField()
    average_resolution_hours = serializers.FloatField(allow_null=True)
    satisfaction_scores = serializers.IntegerField(help_text="Tasks done in the window with a score")
    tasks_done = serializers.IntegerField(help_text="Tasks done by a manager in the window")
    tasks_done_previous_window = serializers.IntegerField()
    managers = serializers.IntegerField()
    managers_previous_window = serializers.IntegerField()
    open_load_hours = serializers.FloatField()
    weekly_capacity_hours = serializers.FloatField()
    utilisation_spread = serializers.FloatField(
        allow_null=True, help_text="Coefficient of variation of the managers' utilisation"
    )
    tasks_assigned_needing_skill = serializers.IntegerField()
    tasks_assigned_skill_matched = serializers.IntegerField()
    open_tasks = serializers.IntegerField(help_text="At the window's end")
    overdue_open_tasks = serializers.IntegerField(
        help_text="Open at the window's end and past their due date"
    )


class PerformanceSerializer(serializers.Serializer):
    performance_metrics = PerformanceMetricsSerializer()
    resource_utilization = ResourceUtilizationSerializer()
    optimization_opportunities = serializers.ListField(
        child=serializers.CharField(),
        help_text="From rules on the figures (docs/domains/operations.md): improve_workflow_reliability, "
        "increase_automation_coverage, improve_skill_matching_algorithms, add_team_capacity, "
        "rebalance_workload, review_intervention_quality, shorten_resolution_time, "
        "investigate_productivity_drop, reduce_overdue_tasks, expand_predictive_capabilities",
    )
    window = PerformanceWindowSerializer(help_text="[start, end): end is now")
    basis = PerformanceBasisSerializer(help_text="The counts the figures were computed from")
