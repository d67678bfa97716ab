"""The event types the operations domain publishes (area ``operations``: receivers need operations:read).

None carries a secret: e-mail addresses are the success managers' work addresses already on the customer
record, and step outputs are summaries written by the platform.
"""

from csintegration.events import register_event_type

_STEPS_EXAMPLE = [
    {"name": "send_immediate_alert", "status": "succeeded"},
    {"name": "schedule_priority_check_in", "status": "succeeded"},
    {"name": "deploy_success_playbook", "status": "succeeded"},
    {"name": "notify_account_team", "status": "succeeded"},
]

WORKFLOW_COMPLETED = register_event_type(
    "workflow_completed",
    label="Workflow completed",
    area="operations",
    example={
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "workflow_type": "health_decline_intervention",
        "status": "completed",
        "triggered_by": "rule",
        "steps": _STEPS_EXAMPLE,
        "error": None,
        "duration_seconds": 1.84,
    },
    description="Every step of a workflow run succeeded (or was skipped because its app is absent).",
)
WORKFLOW_FAILED = register_event_type(
    "workflow_failed",
    label="Workflow failed",
    area="operations",
    example={
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "workflow_type": "health_decline_intervention",
        "status": "failed",
        "triggered_by": "api",
        "steps": [
            {"name": "send_immediate_alert", "status": "succeeded"},
            {"name": "schedule_priority_check_in", "status": "failed"},
            {"name": "deploy_success_playbook", "status": "skipped"},
        ],
        "error": "schedule_priority_check_in: OperationalError: could not connect to server",
        "duration_seconds": 212.4,
    },
    description="A step failed on its last try (or failed for good at once); the steps after it are "
    "skipped. An operator may resume the run from the admin.",
)
TASK_CREATED = register_event_type(
    "task_created",
    label="CS task created",
    area="operations",
    example={
        "task_id": "task_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "kind": "check_in",
        "title": "Priority check-in",
        "assignee": "sarah.smith@company.com",
        "required_skill": "health_recovery",
        "skill_matched": True,
        "due_at": "2025-12-06T08:20:00Z",
        "origin": "workflow",
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
    },
    description="A CS task was created (by a workflow step, an escalation, a sales handoff or by hand) "
    "and assigned.",
)
TASK_COMPLETED = register_event_type(
    "task_completed",
    label="CS task closed",
    area="operations",
    example={
        "task_id": "task_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "kind": "check_in",
        "status": "done",
        "assignee": "sarah.smith@company.com",
        "satisfaction": 5,
        "resolution_hours": 2.3,
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
    },
    description="A CS task was closed: done (with the customer's satisfaction, 1 to 5, when given) or "
    "cancelled.",
)
TASK_ESCALATED = register_event_type(
    "task_escalated",
    label="CS task escalated",
    area="operations",
    example={
        "task_id": "task_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "kind": "check_in",
        "assignee": "sarah.smith@company.com",
        "due_at": "2025-12-06T08:20:00Z",
        "overdue_hours": 3.5,
        "escalation_task_id": "task_01jd3m0a2b4c6d8e0f2g4h6j8k",
        "escalation_assignee": "li.wei@company.com",
    },
    description="A task passed its due date while open: an escalation task was created for another "
    "manager. The customer's integration_status.operations becomes escalated.",
)
ESCALATION_RESOLVED = register_event_type(
    "escalation_resolved",
    label="Escalation resolved",
    area="operations",
    example={
        "task_id": "task_01jd3m0a2b4c6d8e0f2g4h6j8k",
        "kind": "escalation",
        "resolved_by": "li.wei@company.com",
    },
    description="The last escalated (or escalation) task of the customer was closed. The customer's "
    "integration_status.operations becomes supported.",
)
CS_ALERT_RAISED = register_event_type(
    "cs_alert_raised",
    label="CS alert raised",
    area="operations",
    example={
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "workflow_type": "health_decline_intervention",
        "severity": "high",
        "recipients": ["sarah.smith@company.com"],
        "health_score": 65,
        "risk_level": "medium",
        "trigger_conditions": {"health_score_drop": 20},
    },
    description="A workflow's send_immediate_alert step e-mailed the customer's success manager.",
)
ACCOUNT_TEAM_NOTIFIED = register_event_type(
    "account_team_notified",
    label="Account team notified",
    area="operations",
    example={
        "run_id": "run_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "workflow_type": "health_decline_intervention",
        "recipients": ["sarah.smith@company.com", "li.wei@company.com"],
        "open_tasks": 3,
    },
    description="A workflow's notify_account_team step e-mailed the customer's account team.",
)
RULE_MATCHED = register_event_type(
    "rule_matched",
    label="Automation rule matched",
    area="operations",
    example={
        "rule_id": "rule_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "rule": "Large NPS fall",
        "label": "nps_alert",
        "trigger_event_id": "evt_01jd3k8x2m4n6p8q0r2s4t6v8w",
        "trigger_event_type": "customer.updated",
        "observed": {"payload.changes.nps_score.current": -20},
    },
    description="An automation rule whose action is 'publish an event' matched an event about the customer.",
)
