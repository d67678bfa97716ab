"""Tunables of the operations domain (workflow engine, escalations, performance thresholds), read from the
environment with defaults."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    # --- Workflow engine
    OPERATIONS_STEP_MAX_ATTEMPTS=Setting(int, 4, "tries of a step before it fails its run"),
    OPERATIONS_STEP_RETRY_BASE_SECONDS=Setting(
        float, 30.0, "a failed try is retried after this, doubling per try (+-20 %)"
    ),
    OPERATIONS_STEP_RETRY_MAX_SECONDS=Setting(float, 1800.0, "the longest wait between two tries"),
    OPERATIONS_STEP_LEASE_SECONDS=Setting(
        int, 300, "a running step whose worker reported nothing for this long is resumed elsewhere"
    ),
    OPERATIONS_QUEUE_LEASE_SECONDS=Setting(
        int, 300, "a queued step whose task never started within this is queued again"
    ),
    OPERATIONS_DISPATCH_INTERVAL_SECONDS=Setting(
        float, 5.0, "how often beat resumes due retries and stalled steps"
    ),
    OPERATIONS_DISPATCH_BATCH_SIZE=Setting(int, 200, "steps resumed per run of that job"),
    OPERATIONS_ACTION_MODULES=Setting(
        list, [], "extra modules imported at start-up that register step actions (plug-ins)"
    ),
    OPERATIONS_TEAM_EMAILS=Setting(
        list,
        [],
        "the CS operations inbox: copied on account-team notices, alerted when a customer has no manager",
    ),
    # --- Rules
    OPERATIONS_SIGNAL_LOOKBACK_DAYS=Setting(
        int, 30, "signals_past.* in rule conditions: a signal's value this many days ago"
    ),
    # --- Tasks and escalation
    OPERATIONS_ESCALATION_INTERVAL_SECONDS=Setting(float, 300.0, "how often beat escalates overdue tasks"),
    OPERATIONS_ESCALATION_DUE_HOURS=Setting(int, 24, "an escalation task is due this many hours after"),
    # --- Performance
    OPERATIONS_PERFORMANCE_SNAPSHOT_WINDOWS=Setting(
        list, ["7", "30", "90"], "window lengths (days) of the daily performance snapshot"
    ),
    OPERATIONS_TARGET_EXECUTION_RATE=Setting(
        float, 0.9, "below this workflow_execution_rate: improve_workflow_reliability"
    ),
    OPERATIONS_TARGET_AUTOMATION_COVERAGE=Setting(
        float, 0.6, "below this share of runs started by rules: increase_automation_coverage"
    ),
    OPERATIONS_TARGET_SKILL_MATCH=Setting(
        float, 0.9, "below this skill_matching_accuracy: improve_skill_matching_algorithms"
    ),
    OPERATIONS_TARGET_SATISFACTION=Setting(
        float, 4.0, "below this customer_satisfaction: review_intervention_quality"
    ),
    OPERATIONS_CAPACITY_HIGH=Setting(float, 0.85, "above this capacity_usage: add_team_capacity"),
    OPERATIONS_OVERLOAD_USAGE=Setting(
        float, 1.0, "a manager whose open load exceeds this share of capacity is overloaded"
    ),
    OPERATIONS_BALANCE_MAX_SPREAD=Setting(
        float,
        0.25,
        "workload_balancing is uneven when the coefficient of variation of utilisation exceeds this",
    ),
    OPERATIONS_TARGET_RESOLUTION_HOURS=Setting(
        float, 48.0, "above this average_resolution_time (hours): shorten_resolution_time"
    ),
    OPERATIONS_MIN_PRODUCTIVITY=Setting(
        float,
        0.9,
        "below this team_productivity (against the previous window): investigate_productivity_drop",
    ),
    OPERATIONS_MAX_OVERDUE_SHARE=Setting(
        float, 0.1, "above this share of open tasks past their due date: reduce_overdue_tasks"
    ),
    OPERATIONS_MAX_LATE_INTERVENTION_SHARE=Setting(
        float,
        0.3,
        "above this share of runs started on churn risk (critical): expand_predictive_capabilities",
    ),
)
