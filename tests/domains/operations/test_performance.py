"""GET /performance: every figure against a hand-computed fixture, the window, the nulls of an empty team,
the refusals, and the daily snapshot."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from domains.operations import services
from domains.operations.models import CSTask, PerformanceSnapshot, SuccessManager, WorkflowRun
from domains.operations.performance import (
    PerformanceInputs,
    Thresholds,
    compute_performance,
    workload_balancing,
)
from domains.operations.selectors import team_performance
from domains.operations.tasks import snapshot_performance
from tests.conftest import openapi_document, query_parameter_schema

from .conftest import BASE

pytestmark = pytest.mark.django_db

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def history(make_manager):
    """Three managers (capacity 20, 20, 10 h) and what they did, at known times before ``now``."""
    now = timezone.now()
    a = make_manager("a@example.com", ["s1"], 20)
    b = make_manager("b@example.com", ["s1"], 20)
    c = make_manager("c@example.com", ["s2"], 10)
    SuccessManager.objects.update(created_at=now - 100 * DAY)

    def run(status, finished_days_ago, created_days_ago, trigger="rule", queue="default"):
        return WorkflowRun(
            workflow_type="health_decline_intervention",
            customer_id="cust_perf",
            status=status,
            triggered_by=trigger,
            queue=queue,
            created_at=now - created_days_ago * DAY,
            finished_at=None if finished_days_ago is None else now - finished_days_ago * DAY,
        )

    WorkflowRun.objects.bulk_create(
        [
            run("completed", 20, 20.1),
            run("completed", 15, 15.1, trigger="api"),
            run("completed", 5, 5.1),
            run("failed", 2, 2.1, queue="critical"),
            run("completed", 40, 40.1),  # the window before: not counted
            run("running", None, 50),  # open, and created before the window
        ]
    )

    def task(
        assignee,
        *,
        created,
        hours=None,
        status="done",
        source="workflow",
        satisfaction=None,
        skill=None,
        matched=None,
        assigned=None,
        effort=1.0,
        due=None,
    ):
        return CSTask(
            kind="check_in",
            title="t",
            customer_id="cust_perf",
            assignee=assignee,
            status=status,
            source=source,
            created_at=created,
            completed_at=None if hours is None else created + hours * HOUR,
            satisfaction=satisfaction,
            required_skill_id=skill,
            skill_matched=matched,
            assigned_at=assigned or created,
            effort_hours=effort,
            due_at=due or created + 2 * DAY,
        )

    CSTask.objects.bulk_create(
        [
            # done in the window: interventions of 2, 4 and 3 hours, and a manual task of 48 hours
            task(a, created=now - 10 * DAY, hours=2, satisfaction=5, skill="s1", matched=True),
            task(b, created=now - 5 * DAY, hours=4, satisfaction=4, skill="s1", matched=False),
            task(a, created=now - 3 * DAY, hours=3, source="escalation"),
            task(
                c, created=now - 20 * DAY, hours=48, source="manual", satisfaction=2, skill="s2", matched=True
            ),
            # done in the window before
            task(a, created=now - 45 * DAY, hours=5, satisfaction=1),
            task(b, created=now - 50 * DAY, hours=5),
            # open at the end: A carries 16 h, B 4 h, C 2 h (overdue); one assigned in the window
            task(
                a, created=now - 8 * DAY, status="open", effort=6, skill="s1", matched=True, due=now + 3 * DAY
            ),
            task(
                a,
                created=now - 40 * DAY,
                status="open",
                effort=10,
                skill="s2",
                matched=False,
                due=now + 5 * DAY,
            ),
            task(b, created=now - 40 * DAY, status="in_progress", effort=4, due=now + DAY),
            task(c, created=now - 35 * DAY, status="open", effort=2, due=now - DAY),
            # cancelled: closed, no load, no score
            task(c, created=now - 6 * DAY, hours=1, status="cancelled", effort=8),
        ]
    )
    return now


EXPECTED_30 = {
    "performance_metrics": {
        "workflow_execution_rate": 0.75,  # 3 completed of 4 finished
        "average_resolution_time": "3.0_hours",  # (2 + 4 + 3) / 3 interventions
        "customer_satisfaction": 3.7,  # (5 + 4 + 2) / 3
        "team_productivity": 2.0,  # (4 done / 3 managers) / (2 done / 3 managers)
    },
    "resource_utilization": {
        "capacity_usage": 0.44,  # 22 open hours / 50 hours of capacity
        "skill_matching_accuracy": 0.75,  # 3 of the 4 tasks assigned in the window that needed a skill
        "workload_balancing": "uneven",  # utilisation 0.8, 0.2, 0.2: coefficient of variation 0.71
    },
    "optimization_opportunities": [
        "improve_workflow_reliability",
        "improve_skill_matching_algorithms",
        "rebalance_workload",
        "review_intervention_quality",
        "reduce_overdue_tasks",  # 1 of 4 open tasks is overdue
    ],
}


def test_every_figure_of_the_window(history, ops_api):
    response = ops_api(scopes="operations:read").get(f"{BASE}/performance?window_days=30")
    assert response.status_code == 200, response.content
    body = response.json()
    for key, expected in EXPECTED_30.items():
        assert body[key] == expected, key
    assert body["window"]["days"] == 30
    basis = body["basis"]
    assert (basis["runs_finished"], basis["runs_started"], basis["automation_coverage"]) == (4, 4, 0.75)
    assert basis["critical_run_share"] == 0.25 and basis["average_resolution_hours"] == 3.0
    assert (basis["tasks_done"], basis["tasks_done_previous_window"], basis["managers"]) == (4, 2, 3)
    assert (basis["open_load_hours"], basis["weekly_capacity_hours"]) == (22.0, 50.0)
    assert basis["utilisation_spread"] == 0.707 and (basis["open_tasks"], basis["overdue_open_tasks"]) == (
        4,
        1,
    )


def test_a_shorter_window(history, ops_api):
    body = ops_api().get(f"{BASE}/performance?window_days=7").json()
    metrics = body["performance_metrics"]
    assert metrics["workflow_execution_rate"] == 0.5  # one completed (5 days ago), one failed (2 days ago)
    assert metrics["average_resolution_time"] == "3.5_hours"  # the 4 h and the 3 h interventions
    assert metrics["customer_satisfaction"] == 4.0
    assert metrics["team_productivity"] == 2.0  # 2 done (5 and 3 days ago) against 1 (10 days ago)
    assert body["resource_utilization"]["skill_matching_accuracy"] == 0.0  # only B's mismatch
    assert body["resource_utilization"]["capacity_usage"] == 0.44  # the load at the end: the same


def test_the_default_window_is_30_days(history, ops_api):
    body = ops_api().get(f"{BASE}/performance").json()
    assert body["window"]["days"] == 30 and body["performance_metrics"] == EXPECTED_30["performance_metrics"]


def test_an_empty_team_has_nothing_to_measure(ops_api):
    body = ops_api().get(f"{BASE}/performance").json()
    assert set(body["performance_metrics"].values()) == {None}
    assert set(body["resource_utilization"].values()) == {None}
    assert body["optimization_opportunities"] == []


@pytest.mark.parametrize("value", ["0", "366", "abc", "1.5", "-3", "", "²", "٣"])
def test_an_invalid_window_is_a_400(ops_api, value):
    response = ops_api().get(f"{BASE}/performance?window_days={value}")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "window_days"


def test_performance_needs_the_read_scope(api):
    assert APIClient().get(f"{BASE}/performance").status_code == 401
    assert api(scopes="operations:write").get(f"{BASE}/performance").status_code == 403


def test_overload_and_capacity_opportunities():
    thresholds = Thresholds()
    assert workload_balancing(((21.0, 20.0), (5.0, 20.0)), thresholds) == "overloaded"
    assert workload_balancing(((10.0, 20.0), (11.0, 20.0)), thresholds) == "optimal"
    assert workload_balancing(((0.0, 20.0), (0.0, 20.0)), thresholds) == "optimal"
    assert workload_balancing((), thresholds) is None
    figures = compute_performance(
        PerformanceInputs(
            window_days=30,
            manager_loads=((19.0, 20.0), (18.0, 20.0)),
            runs_started=10,
            runs_started_by_rules=2,
            runs_started_critical=4,
            interventions_resolved=2,
            resolution_seconds_total=2 * 60 * 3600,
            tasks_done=5,
            tasks_done_previous=10,
            managers=2,
            managers_previous=2,
        ),
        thresholds,
    )
    assert figures["resource_utilization"]["capacity_usage"] == 0.93
    assert figures["performance_metrics"]["average_resolution_time"] == "60.0_hours"
    assert figures["performance_metrics"]["team_productivity"] == 0.5
    assert figures["optimization_opportunities"] == [
        "increase_automation_coverage",
        "add_team_capacity",
        "shorten_resolution_time",
        "investigate_productivity_drop",
        "expand_predictive_capabilities",
    ]


def test_the_daily_snapshot_keeps_each_window(history, settings):
    settings.OPERATIONS_PERFORMANCE_SNAPSHOT_WINDOWS = ["30", "7", "bogus", "999"]
    as_of = history
    snapshots = services.performance_snapshots_record(as_of=as_of)
    assert [s.window_days for s in snapshots] == [7, 30]
    thirty = PerformanceSnapshot.objects.get(window_days=30)
    assert thirty.figures["performance_metrics"] == EXPECTED_30["performance_metrics"]
    assert thirty.figures["window"]["days"] == 30
    assert (
        team_performance(window_days=30, end=as_of)["resource_utilization"]
        == thirty.figures["resource_utilization"]
    )
    services.performance_snapshots_record(as_of=as_of)  # again for the same moment: replaced, not added
    assert PerformanceSnapshot.objects.count() == 2
    assert snapshot_performance.apply().get() == 2  # the beat job: the day that just ended
    assert PerformanceSnapshot.objects.count() == 4


def test_the_schema_states_the_window_the_view_reads():
    operation = openapi_document()["paths"][f"{BASE}/performance"]["get"]
    assert query_parameter_schema(operation, "window_days") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 365,
    }
