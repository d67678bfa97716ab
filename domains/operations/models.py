"""Operations: workflow templates and their durable runs (one row per run and per step, each moved by a
state machine), automation rules on the event bus and their firings, the CS team with its skills and
capacity, CS tasks, playbooks, and daily snapshots of the team's performance.

Customers are referred to by their id (a plain column, as the event log does): the history of runs and
tasks outlives a deleted customer, and this app never writes a customer row.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from csintegration.ids import new_id

from . import rules


def new_run_id() -> str:
    return new_id("run")


def new_task_id() -> str:
    return new_id("task")


def new_rule_id() -> str:
    return new_id("rule")


# --- The CS team ----------------------------------------------------------------------------------------


class Skill(models.Model):
    """What a task may require of its assignee (``health_recovery``, ``onboarding``, …)."""

    key = models.SlugField(primary_key=True, max_length=50)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ("key",)

    def __str__(self) -> str:
        return self.name


class SuccessManager(models.Model):
    """A staff user on the CS team, with skills and a weekly capacity in hours of task effort."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="success_manager_profile"
    )
    #: the address that customers' ``success_manager`` and the API's ``assignee`` name (lower case)
    email = models.EmailField(unique=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="managers")
    weekly_capacity_hours = models.FloatField(
        default=30.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(80.0)],
        help_text="Hours of task effort this manager can carry in a week",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive managers get no new tasks")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("email",)
        constraints = [
            models.CheckConstraint(
                condition=Q(weekly_capacity_hours__gt=0), name="ops_manager_capacity_positive"
            )
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        if self.user_id and not self.user.is_staff:
            raise ValidationError({"user": "A success manager is a staff user (they work in the admin)."})
        if not self.email and self.user_id:
            self.email = self.user.email
        if not self.email:
            raise ValidationError({"email": "A success manager needs an e-mail address."})
        self.email = self.email.strip().lower()


# --- Playbooks and workflow templates -------------------------------------------------------------------


class TaskPriority(models.TextChoices):
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Playbook(models.Model):
    """A named set of tasks that ``deploy_success_playbook`` creates for a customer.

    A step with no ``playbook`` parameter deploys the playbook whose key is its run's workflow type.
    """

    key = models.SlugField(unique=True, max_length=64)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("key",)

    def __str__(self) -> str:
        return self.name


class PlaybookTask(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    required_skill = models.ForeignKey(Skill, on_delete=models.SET_NULL, null=True, blank=True)
    due_in_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(180)]
    )
    effort_hours = models.FloatField(default=1.0, validators=[MinValueValidator(0.25), MaxValueValidator(40)])
    priority = models.CharField(max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL)

    class Meta:
        ordering = ("playbook", "position", "id")
        constraints = [
            models.UniqueConstraint(fields=["playbook", "position"], name="ops_playbook_task_position")
        ]

    def __str__(self) -> str:
        return self.title


class WorkflowTemplate(models.Model):
    """A workflow type and its ordered steps (actions from the registry in ``actions.py``)."""

    workflow_type = models.SlugField(unique=True, max_length=64)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    critical = models.BooleanField(
        default=False, help_text="Runs go to the critical queue (churn-risk work), ahead of the rest"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("workflow_type",)

    def __str__(self) -> str:
        return self.workflow_type


class TemplateStep(models.Model):
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    action = models.CharField(max_length=64, help_text="A step action of the registry")
    params = models.JSONField(default=dict, blank=True, help_text="The action's input, checked on save")
    max_attempts = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Blank: OPERATIONS_STEP_MAX_ATTEMPTS",
    )

    class Meta:
        ordering = ("template", "position", "id")
        constraints = [
            models.UniqueConstraint(fields=["template", "position"], name="ops_template_step_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.action}"

    def clean(self) -> None:
        from .actions import action_params_errors

        errors = action_params_errors(
            self.action, self.params, workflow_type=self.template.workflow_type if self.template_id else None
        )
        if "action" in errors:
            raise ValidationError({"action": errors["action"]})
        if errors:
            raise ValidationError({"params": "; ".join(f"{key}: {value}" for key, value in errors.items())})


# --- Automation rules -----------------------------------------------------------------------------------


class RuleAction(models.TextChoices):
    START_WORKFLOW = rules.START_WORKFLOW, "Start a workflow"
    TRIGGER_CAMPAIGN = rules.TRIGGER_CAMPAIGN, "Trigger a campaign (when the marketing app is installed)"
    PUBLISH_EVENT = rules.PUBLISH_EVENT, "Publish a rule_matched event"


class AutomationRule(models.Model):
    """When an event of ``event_type`` matches ``conditions``, do ``action``. Evaluated in the publishing
    transaction of every event (``rules.py``); the condition language is ``conditions.py``."""

    rule_id = models.CharField(primary_key=True, max_length=64, default=new_rule_id, editable=False)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=100, help_text="Rules are evaluated in this order")
    event_type = models.CharField(max_length=64, help_text="The event type that triggers the rule")
    conditions = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"and": [{"attr": "payload.new_score", "op": "changed_by", '
        '"from": "payload.previous_score", "value": -20}]}; empty: every event of the type',
    )
    action = models.CharField(max_length=20, choices=RuleAction.choices, default=RuleAction.START_WORKFLOW)
    action_params = models.JSONField(
        default=dict,
        blank=True,
        help_text='start_workflow: {"workflow_type"}; trigger_campaign: {"campaign_type", "trigger_type"}; '
        'publish_event: {"label"}',
    )
    suppress_while_open = models.JSONField(
        default=list,
        blank=True,
        help_text="Workflow types: no run is started while the customer has an open run of one of them "
        "(the rule's own type always counts)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "name")
        indexes = [models.Index(fields=["event_type", "is_active"], name="ops_rule_event_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = rules.rule_definition_errors(
            event_type=self.event_type,
            conditions=self.conditions,
            action=self.action,
            action_params=self.action_params,
            suppress_while_open=self.suppress_while_open,
            template_steps=template_step_actions,
        )
        if errors:
            raise ValidationError(errors)


class FiringOutcome(models.TextChoices):
    STARTED_RUN = "started_run", "Started a workflow run"
    SUPPRESSED = "suppressed", "Not started: a run of the same kind is open"
    PUBLISHED_EVENT = "published_event", "Published an event"
    SKIPPED_NO_CUSTOMER = "skipped_no_customer", "Skipped: the event is about no customer"
    SKIPPED_APP_ABSENT = "skipped_app_absent", "Skipped: the app it needs is not installed"
    SKIPPED_INVALID = "skipped_invalid", "Skipped: the rule's action is no longer valid"


class RuleFiring(models.Model):
    """One rule matching one event, and what it did. Unique per rule and event: a redelivered event does
    not fire a rule twice."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="firings")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    customer_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=24, choices=FiringOutcome.choices)
    run = models.ForeignKey(
        "WorkflowRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="firings"
    )
    #: the values of the attributes the conditions read, and the reason of a skip
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.UniqueConstraint(fields=["rule", "event_id"], name="ops_firing_once_per_event")]
        indexes = [models.Index(fields=["rule", "-created_at"], name="ops_firing_rule_idx")]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.event_id}: {self.outcome}"


# --- Workflow runs and steps ----------------------------------------------------------------------------


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


OPEN_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_RUN_STATUSES = (RunStatus.COMPLETED, RunStatus.FAILED)


class RunTrigger(models.TextChoices):
    API = "api", "API call"
    RULE = "rule", "Automation rule"
    ADMIN = "admin", "Admin"


class WorkflowRun(FSMModelMixin, models.Model):
    """One execution of a workflow for one customer.

    queued ──start──▶ running ──complete──▶ completed
       │                 └──────fail──────▶ failed ──resume──▶ running
       └──complete (nothing to run) / fail (customer gone)
    """

    run_id = models.CharField(primary_key=True, max_length=64, default=new_run_id, editable=False)
    workflow_type = models.CharField(max_length=64)
    template = models.ForeignKey(
        WorkflowTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    customer_id = models.CharField(max_length=64)
    status = FSMField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, protected=True)
    triggered_by = models.CharField(max_length=10, choices=RunTrigger.choices, default=RunTrigger.API)
    rule = models.ForeignKey(
        AutomationRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    trigger_event_id = models.CharField(max_length=64, blank=True)
    trigger_conditions = models.JSONField(default=dict, blank=True)
    #: the OAuth client or admin user that asked for it
    requested_by = models.CharField(max_length=150, blank=True)
    #: the Celery queue of its steps: critical for churn-risk work
    queue = models.CharField(max_length=20, default="default")
    #: started by a rule: at most one open run of its type per customer (a partial unique index)
    exclusive = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-run_id")
        indexes = [
            models.Index(fields=["-created_at", "-run_id"], name="ops_run_created_idx"),
            models.Index(fields=["customer_id", "workflow_type", "status"], name="ops_run_customer_idx"),
            models.Index(fields=["status", "finished_at"], name="ops_run_finished_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_id", "workflow_type"],
                condition=Q(exclusive=True, status__in=["queued", "running"]),
                name="ops_one_open_rule_run",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_type} for {self.customer_id} ({self.run_id})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_RUN_STATUSES

    @transition(field=status, source=RunStatus.QUEUED, target=RunStatus.RUNNING)
    def start(self, *, now) -> None:
        self.started_at = self.started_at or now

    @transition(field=status, source=[RunStatus.QUEUED, RunStatus.RUNNING], target=RunStatus.COMPLETED)
    def complete(self, *, now) -> None:
        self.started_at = self.started_at or now
        self.finished_at = now
        self.error = ""

    @transition(field=status, source=[RunStatus.QUEUED, RunStatus.RUNNING], target=RunStatus.FAILED)
    def fail(self, *, now, error: str) -> None:
        self.finished_at = now
        self.error = error[:4000]

    @transition(field=status, source=RunStatus.FAILED, target=RunStatus.RUNNING)
    def resume(self) -> None:
        self.finished_at = None
        self.error = ""


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING_RETRY = "waiting_retry", "Waiting to retry"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


DONE_STEP_STATUSES = (StepStatus.SUCCEEDED, StepStatus.SKIPPED)


class WorkflowStep(FSMModelMixin, models.Model):
    """One step of a run: an action with its input, and what each try did.

    pending ──enqueue──▶ queued ──claim──▶ running ──succeed──▶ succeeded
                           ▲                 │ └──fail──▶ failed ──retry_again──▶ queued
                           │                 ├──schedule_retry──▶ waiting_retry ──requeue──┐
                           └────requeue──────┴── (lease expired: the worker was lost) ◀────┘
    pending / queued / waiting_retry ──skip──▶ skipped (app absent, or the run failed before it)

    ``idempotency_key`` is fixed when the run is created, before any side effect: a delivery of the
    step's task finds the step by it and skips it once succeeded; the action passes it on (the
    ``Message-ID`` of its e-mail, the ``source_key`` of the tasks it creates).
    """

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=64, help_text="The step action")
    params = models.JSONField(default=dict, blank=True)
    status = FSMField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING, protected=True)
    idempotency_key = models.CharField(max_length=100, unique=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=4)
    #: the try in progress: its token fences a worker that lost its lease out of the step
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    #: per try: attempt, started_at, finished_at, outcome (succeeded, failed, lost), error
    attempt_log = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("run", "position")
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="ops_step_position")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="ops_step_retry_idx"),
            models.Index(fields=["status", "lease_expires_at"], name="ops_step_lease_idx"),
            models.Index(fields=["status", "queued_at"], name="ops_step_queued_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.position} {self.name}"

    def _log(self, **entry) -> None:
        self.attempt_log = [*(self.attempt_log or []), {key: value for key, value in entry.items()}]

    @transition(field=status, source=StepStatus.PENDING, target=StepStatus.QUEUED)
    def enqueue(self, *, now) -> None:
        self.queued_at = now

    @transition(field=status, source=[StepStatus.QUEUED, StepStatus.RUNNING], target=StepStatus.RUNNING)
    def claim(self, *, now, token: str, lease_seconds: int) -> None:
        if self.lease_token:  # a try whose worker was lost: it counts, it did not finish
            self._close_try(now=now, outcome="lost", error="the worker was lost mid-step")
        self.attempts += 1
        self.started_at = self.started_at or now
        self.lease_token = token
        self.lease_expires_at = now + timedelta(seconds=lease_seconds)
        self.next_attempt_at = None
        self._log(attempt=self.attempts, started_at=now.isoformat(), outcome="running")

    def _close_try(self, *, now, outcome: str, error: str = "") -> None:
        log = list(self.attempt_log or [])
        if log and log[-1].get("attempt") == self.attempts and log[-1].get("outcome") == "running":
            log[-1] = {**log[-1], "finished_at": now.isoformat(), "outcome": outcome, "error": error[:1000]}
        self.attempt_log = log
        self.lease_token = ""
        self.lease_expires_at = None

    @transition(field=status, source=StepStatus.RUNNING, target=StepStatus.SUCCEEDED)
    def succeed(self, *, now, output: dict) -> None:
        self._close_try(now=now, outcome="succeeded")
        self.finished_at = now
        self.output = output
        self.error = ""

    @transition(field=status, source=StepStatus.RUNNING, target=StepStatus.WAITING_RETRY)
    def schedule_retry(self, *, now, error: str, retry_at) -> None:
        self._close_try(now=now, outcome="failed", error=error)
        self.error = error[:4000]
        self.next_attempt_at = retry_at

    @transition(field=status, source=StepStatus.RUNNING, target=StepStatus.FAILED)
    def fail(self, *, now, error: str) -> None:
        self._close_try(now=now, outcome="failed", error=error)
        self.finished_at = now
        self.error = error[:4000]

    @transition(
        field=status, source=[StepStatus.QUEUED, StepStatus.WAITING_RETRY, StepStatus.RUNNING],
        target=StepStatus.QUEUED,
    )  # fmt: skip
    def requeue(self, *, now) -> None:
        """Hand the step to a worker again: a due retry, a task that never ran, or a lost worker (whose
        try is then recorded as lost when the next one claims it)."""
        self.queued_at = now
        self.next_attempt_at = None
        self.lease_expires_at = None

    @transition(
        field=status, source=[StepStatus.PENDING, StepStatus.QUEUED, StepStatus.WAITING_RETRY],
        target=StepStatus.SKIPPED,
    )  # fmt: skip
    def skip(self, *, now, reason: str) -> None:
        self.finished_at = now
        self.output = {"skipped": reason}

    @transition(field=status, source=StepStatus.FAILED, target=StepStatus.QUEUED)
    def retry_again(self, *, now, extra_attempts: int) -> None:
        """An operator resumes the failed run: the step gets a fresh budget of tries."""
        self.max_attempts = self.attempts + extra_attempts
        self.queued_at = now
        self.finished_at = None

    @transition(field=status, source=StepStatus.SKIPPED, target=StepStatus.PENDING)
    def unskip(self) -> None:
        self.finished_at = None
        self.output = None


# --- CS tasks -------------------------------------------------------------------------------------------


class TaskKind(models.TextChoices):
    CHECK_IN = "check_in", "Check-in"
    PLAYBOOK_TASK = "playbook_task", "Playbook task"
    ESCALATION = "escalation", "Escalation"
    FOLLOW_UP = "follow_up", "Follow-up"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
CLOSED_TASK_STATUSES = (TaskStatus.DONE, TaskStatus.CANCELLED)


class TaskSource(models.TextChoices):
    WORKFLOW = "workflow", "A workflow step"
    ESCALATION = "escalation", "An escalation of an overdue task"
    HANDOFF = "handoff", "A sales handoff"
    MANUAL = "manual", "Created by hand"


#: interventions, as average_resolution_time counts them: the check-ins that workflows schedule when a
#: signal fires, and escalations (a playbook's tasks are planned work over days and weeks, not a response)
INTERVENTION_SOURCES = (TaskSource.WORKFLOW, TaskSource.ESCALATION)
INTERVENTION_KINDS = (TaskKind.CHECK_IN, TaskKind.ESCALATION)


class CSTask(FSMModelMixin, models.Model):
    """A piece of CS work for one customer, assigned to a success manager.

    open ──begin──▶ in_progress ──complete──▶ done
      └──────────complete / cancel──────────▶ done / cancelled
    """

    task_id = models.CharField(primary_key=True, max_length=64, default=new_task_id, editable=False)
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    customer_id = models.CharField(max_length=64)
    priority = models.CharField(max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL)
    required_skill = models.ForeignKey(
        Skill, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    assignee = models.ForeignKey(
        SuccessManager, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    #: whether the assignee had the required skill when assigned (null: no skill required)
    skill_matched = models.BooleanField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    effort_hours = models.FloatField(default=1.0, validators=[MinValueValidator(0.25), MaxValueValidator(40)])
    due_at = models.DateTimeField()
    status = FSMField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN, protected=True)
    source = models.CharField(max_length=12, choices=TaskSource.choices, default=TaskSource.MANUAL)
    run = models.ForeignKey(
        WorkflowRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    playbook = models.ForeignKey(Playbook, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    #: an escalation task's overdue task
    escalation_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="escalations"
    )
    #: when this task was escalated for being overdue
    escalated_at = models.DateTimeField(null=True, blank=True)
    #: the creator's idempotency key (a step's key and index, a handoff id, an escalated task): unique
    source_key = models.CharField(max_length=120, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("due_at", "task_id")
        verbose_name = "CS task"
        indexes = [
            models.Index(fields=["status", "due_at"], name="ops_task_due_idx"),
            models.Index(fields=["assignee", "status"], name="ops_task_assignee_idx"),
            models.Index(fields=["customer_id", "status"], name="ops_task_customer_idx"),
            models.Index(fields=["completed_at"], name="ops_task_completed_idx"),
            models.Index(fields=["-created_at", "-task_id"], name="ops_task_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="ops_task_satisfaction_range",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(status="done"),
                name="ops_task_satisfaction_when_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.customer_id})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at < (now or timezone.now())

    @property
    def resolution_hours(self) -> float | None:
        if self.status != TaskStatus.DONE or self.completed_at is None:
            return None
        return round((self.completed_at - self.created_at).total_seconds() / 3600, 2)

    @transition(field=status, source=TaskStatus.OPEN, target=TaskStatus.IN_PROGRESS)
    def begin(self) -> None:
        pass

    @transition(field=status, source=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS], target=TaskStatus.DONE)
    def complete(self, *, now, satisfaction: int | None = None) -> None:
        self.completed_at = now
        self.satisfaction = satisfaction

    @transition(field=status, source=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS], target=TaskStatus.CANCELLED)
    def cancel(self, *, now) -> None:
        self.completed_at = now


class MyTask(CSTask):
    """The signed-in manager's own tasks, as the admin's "My tasks" page lists them."""

    class Meta:
        proxy = True
        verbose_name = "my task"
        verbose_name_plural = "my tasks"


# --- Performance history --------------------------------------------------------------------------------


class PerformanceSnapshot(models.Model):
    """The figures of ``GET /performance`` for one window, as computed at the end of one day."""

    as_of = models.DateTimeField(help_text="The end of the window")
    window_days = models.PositiveSmallIntegerField()
    figures = models.JSONField(help_text="The response of GET /performance for this window")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-as_of", "window_days")
        constraints = [
            models.UniqueConstraint(fields=["as_of", "window_days"], name="ops_performance_once_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.window_days}-day window to {self.as_of:%Y-%m-%d}"


def template_step_actions(workflow_type: str) -> list[str] | None:
    """The actions of the steps of the template of ``workflow_type``, or None when there is none."""
    template = WorkflowTemplate.objects.filter(workflow_type=workflow_type).prefetch_related("steps").first()
    return None if template is None else [step.action for step in template.steps.all()]
