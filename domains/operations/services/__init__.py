"""Every write of the operations domain: keyword-only, typed ``<entity>_<action>`` functions that own their
transactions and publish their events in them. The API, the admin, the Celery tasks and the event
subscribers call the same functions.

- ``workflows``: starting runs, executing one step, resuming stalled or failed runs (the engine)
- ``rules``: firing automation rules from the event bus
- ``tasks``: creating and assigning CS tasks, closing them, escalating overdue ones, handoff check-ins
- ``team``: success managers and the daily performance snapshot
"""

from .rules import rules_apply
from .tasks import (
    SatisfactionNotAllowed,
    TaskSpec,
    TaskTransitionNotAllowed,
    UnknownManager,
    check_in_after_handoff,
    task_create,
    task_update,
    tasks_create,
    tasks_escalate_overdue,
)
from .team import manager_create, performance_snapshots_record
from .workflows import (
    InvalidStepParams,
    RunAlreadyOpen,
    RunNotResumable,
    UnknownStep,
    UnknownWorkflowType,
    step_execute,
    steps_resume_stalled,
    workflow_run_resume,
    workflow_run_start,
)

__all__ = (
    "InvalidStepParams",
    "RunAlreadyOpen",
    "RunNotResumable",
    "SatisfactionNotAllowed",
    "TaskSpec",
    "TaskTransitionNotAllowed",
    "UnknownManager",
    "UnknownStep",
    "UnknownWorkflowType",
    "check_in_after_handoff",
    "manager_create",
    "performance_snapshots_record",
    "rules_apply",
    "step_execute",
    "steps_resume_stalled",
    "task_create",
    "task_update",
    "tasks_create",
    "tasks_escalate_overdue",
    "workflow_run_resume",
    "workflow_run_start",
)
