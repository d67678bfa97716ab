"""The demo data: a team of eight and 90 days of history that the admin and /performance show, computed
from rows like production's (runs with steps, tasks assigned by the same rule); idempotent."""

import pytest

from domains.customers.demo import seed_demo_customers
from domains.operations.demo import DAYS, seed_demo_operations
from domains.operations.models import (
    CSTask,
    PerformanceSnapshot,
    RuleFiring,
    StepStatus,
    SuccessManager,
    WorkflowRun,
    WorkflowStep,
)
from domains.operations.selectors import team_performance

pytestmark = pytest.mark.django_db


def test_the_demo_history_is_realistic_and_seeded_once():
    seed_demo_customers(customers=300)
    summary = seed_demo_operations()
    assert "8 managers" in summary
    assert SuccessManager.objects.count() == 8 and all(m.user.is_staff for m in SuccessManager.objects.all())
    runs = WorkflowRun.objects.all()
    assert 350 <= runs.count() <= 650
    assert (
        runs.filter(status="failed").count() >= 5
        and runs.filter(triggered_by="rule").count() > runs.count() / 2
    )
    assert runs.filter(queue="critical").exists()
    assert not WorkflowRun.objects.filter(
        status__in=("queued", "running")
    ).exists()  # nothing left to execute
    assert WorkflowStep.objects.filter(status=StepStatus.SKIPPED, output={"skipped": "app_absent"}).exists()
    assert WorkflowStep.objects.filter(attempts__gt=1).exists()
    tasks = CSTask.objects.all()
    assert tasks.count() > 1000
    assert tasks.filter(status="done", satisfaction__isnull=False).count() > 300
    assert (
        tasks.filter(status__in=("open", "in_progress")).exists() and tasks.filter(kind="escalation").exists()
    )
    assert tasks.filter(source="handoff").exists() and tasks.filter(assignee__isnull=True).count() == 0
    assert RuleFiring.objects.filter(outcome="suppressed").exists()
    assert PerformanceSnapshot.objects.filter(window_days=30).count() == DAYS
    figures = team_performance(window_days=30)
    assert all(value is not None for value in figures["performance_metrics"].values())
    assert all(value is not None for value in figures["resource_utilization"].values())
    assert 0.85 <= figures["performance_metrics"]["workflow_execution_rate"] <= 1

    counts = (runs.count(), tasks.count(), PerformanceSnapshot.objects.count())
    assert "already there" in seed_demo_operations()
    assert (
        WorkflowRun.objects.count(),
        CSTask.objects.count(),
        PerformanceSnapshot.objects.count(),
    ) == counts
