"""The CS team's performance figures and the optimisation opportunities read from them: pure computation
over counts the selectors aggregate (no ORM, no I/O). Each figure's definition is in
``docs/domains/operations.md`` and in the OpenAPI description of its field; a figure with nothing to
measure is null."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PerformanceInputs:
    """What happened in the window ``[end - window_days, end)``, and the team's load at ``end``."""

    window_days: int
    runs_completed: int = 0
    runs_failed: int = 0
    #: runs created in the window, of which started by a rule, and of which on the critical queue
    runs_started: int = 0
    runs_started_by_rules: int = 0
    runs_started_critical: int = 0
    #: intervention tasks (from workflows and escalations) done in the window, and their open-to-done time
    interventions_resolved: int = 0
    resolution_seconds_total: float = 0.0
    satisfaction_total: int = 0
    satisfaction_count: int = 0
    #: tasks done by a manager, in the window and in the window before it, and the managers of each
    tasks_done: int = 0
    tasks_done_previous: int = 0
    managers: int = 0
    managers_previous: int = 0
    #: per active manager at the window's end: (open hours of effort, weekly capacity hours)
    manager_loads: tuple[tuple[float, float], ...] = ()
    #: tasks assigned in the window that required a skill, and of those, given to a manager who had it
    tasks_assigned_needing_skill: int = 0
    tasks_assigned_skill_matched: int = 0
    open_tasks: int = 0
    overdue_open_tasks: int = 0


@dataclass(frozen=True)
class Thresholds:
    execution_rate: float = 0.9
    automation_coverage: float = 0.6
    skill_match: float = 0.9
    satisfaction: float = 4.0
    capacity_high: float = 0.85
    overload_usage: float = 1.0
    balance_max_spread: float = 0.25
    resolution_hours: float = 48.0
    min_productivity: float = 0.9
    max_overdue_share: float = 0.1
    max_late_intervention_share: float = 0.3


def _ratio(numerator: float, denominator: float, digits: int = 3) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def _below(value: float | None, threshold: float) -> bool:
    return value is not None and value < threshold


def _above(value: float | None, threshold: float) -> bool:
    return value is not None and value > threshold


def resolution_label(hours: float | None) -> str | None:
    """``2.3_hours``: the seed's format, hours to one decimal."""
    return None if hours is None else f"{hours:.1f}_hours"


def utilisations(loads: tuple[tuple[float, float], ...]) -> list[float]:
    return [open_hours / capacity for open_hours, capacity in loads if capacity > 0]


def utilisation_spread(loads: tuple[tuple[float, float], ...]) -> float | None:
    """The coefficient of variation (population standard deviation over mean) of the managers'
    utilisation; 0 when nobody carries any load, None without managers."""
    shares = utilisations(loads)
    if not shares:
        return None
    mean = statistics.fmean(shares)
    return 0.0 if mean == 0 else statistics.pstdev(shares) / mean


def workload_balancing(loads: tuple[tuple[float, float], ...], thresholds: Thresholds) -> str | None:
    """``overloaded`` when a manager's open load exceeds ``overload_usage`` of their capacity; else
    ``uneven`` when the utilisation spread exceeds ``balance_max_spread``; else ``optimal``."""
    shares = utilisations(loads)
    if not shares:
        return None
    if max(shares) > thresholds.overload_usage:
        return "overloaded"
    spread = utilisation_spread(loads)
    return "uneven" if spread is not None and spread > thresholds.balance_max_spread else "optimal"


def compute_performance(inputs: PerformanceInputs, thresholds: Thresholds) -> dict[str, Any]:
    """The seed's ``performance_metrics``, ``resource_utilization`` and ``optimization_opportunities``,
    and the ``basis`` they were computed from."""
    finished = inputs.runs_completed + inputs.runs_failed
    execution_rate = _ratio(inputs.runs_completed, finished)
    resolution_hours = (
        inputs.resolution_seconds_total / inputs.interventions_resolved / 3600
        if inputs.interventions_resolved
        else None
    )
    satisfaction = _ratio(inputs.satisfaction_total, inputs.satisfaction_count, 1)
    per_manager = inputs.tasks_done / inputs.managers if inputs.managers else None
    per_manager_before = (
        inputs.tasks_done_previous / inputs.managers_previous if inputs.managers_previous else None
    )
    productivity = (
        round(per_manager / per_manager_before, 2) if per_manager is not None and per_manager_before else None
    )
    open_hours = sum(open_hours for open_hours, _ in inputs.manager_loads)
    capacity = sum(capacity for _, capacity in inputs.manager_loads)
    capacity_usage = _ratio(open_hours, capacity, 2)
    skill_accuracy = _ratio(inputs.tasks_assigned_skill_matched, inputs.tasks_assigned_needing_skill, 2)
    balancing = workload_balancing(inputs.manager_loads, thresholds)
    spread = utilisation_spread(inputs.manager_loads)
    coverage = _ratio(inputs.runs_started_by_rules, inputs.runs_started, 2)
    late_share = _ratio(inputs.runs_started_critical, inputs.runs_started, 2)
    overdue_share = _ratio(inputs.overdue_open_tasks, inputs.open_tasks, 2)

    t = thresholds
    checks = (
        (_below(execution_rate, t.execution_rate), "improve_workflow_reliability"),
        (_below(coverage, t.automation_coverage), "increase_automation_coverage"),
        (_below(skill_accuracy, t.skill_match), "improve_skill_matching_algorithms"),
        (_above(capacity_usage, t.capacity_high), "add_team_capacity"),
        (balancing in ("uneven", "overloaded"), "rebalance_workload"),
        (_below(satisfaction, t.satisfaction), "review_intervention_quality"),
        (_above(resolution_hours, t.resolution_hours), "shorten_resolution_time"),
        (_below(productivity, t.min_productivity), "investigate_productivity_drop"),
        (_above(overdue_share, t.max_overdue_share), "reduce_overdue_tasks"),
        (_above(late_share, t.max_late_intervention_share), "expand_predictive_capabilities"),
    )
    return {
        "performance_metrics": {
            "workflow_execution_rate": execution_rate,
            "average_resolution_time": resolution_label(resolution_hours),
            "customer_satisfaction": satisfaction,
            "team_productivity": productivity,
        },
        "resource_utilization": {
            "capacity_usage": capacity_usage,
            "skill_matching_accuracy": skill_accuracy,
            "workload_balancing": balancing,
        },
        "optimization_opportunities": [name for applies, name in checks if applies],
        "basis": {
            "runs_finished": finished,
            "runs_completed": inputs.runs_completed,
            "runs_started": inputs.runs_started,
            "automation_coverage": coverage,
            "critical_run_share": late_share,
            "interventions_resolved": inputs.interventions_resolved,
            "average_resolution_hours": None if resolution_hours is None else round(resolution_hours, 2),
            "satisfaction_scores": inputs.satisfaction_count,
            "tasks_done": inputs.tasks_done,
            "tasks_done_previous_window": inputs.tasks_done_previous,
            "managers": inputs.managers,
            "managers_previous_window": inputs.managers_previous,
            "open_load_hours": round(open_hours, 2),
            "weekly_capacity_hours": round(capacity, 2),
            "utilisation_spread": None if spread is None else round(spread, 3),
            "tasks_assigned_needing_skill": inputs.tasks_assigned_needing_skill,
            "tasks_assigned_skill_matched": inputs.tasks_assigned_skill_matched,
            "open_tasks": inputs.open_tasks,
            "overdue_open_tasks": inputs.overdue_open_tasks,
        },
    }
