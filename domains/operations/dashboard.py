"""The operations' part of the admin dashboard: open and overdue CS tasks, and the outcomes of the
workflow runs of the last 30 days; each figure links to the list behind it. Two aggregate queries."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from csintegration.adminsite.charts import Bar, bar_chart
from csintegration.adminsite.dashboard import Chart, Figure, Section, changelist_url

from .models import OPEN_TASK_STATUSES, CSTask, RunStatus, WorkflowRun

TASKS = "operations.cstask"
RUNS = "operations.workflowrun"
RUN_WINDOW_DAYS = 30
RUN_TONES = {
    RunStatus.COMPLETED: "success",
    RunStatus.FAILED: "danger",
    RunStatus.RUNNING: "primary",
    RunStatus.QUEUED: "warning",
}
#: the task lists' filter of open tasks past their due time (OverdueFilter in admin.py)
OVERDUE_PARAMETER = "overdue"


def overdue_tasks(now=None):
    return CSTask.objects.filter(status__in=OPEN_TASK_STATUSES, due_at__lt=now or timezone.now())


def operations_section(request) -> Section:
    now = timezone.now()
    tasks = CSTask.objects.aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_TASK_STATUSES)),
        overdue=Count("pk", filter=Q(status__in=OPEN_TASK_STATUSES, due_at__lt=now)),
    )
    since = (now - timedelta(days=RUN_WINDOW_DAYS)).replace(microsecond=0)
    runs = dict(
        WorkflowRun.objects.filter(created_at__gte=since)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    window = {"created_at__gte": since.isoformat()}
    figures = [
        Figure(
            "Open tasks",
            str(tasks["open"]),
            changelist_url(TASKS, status__in=OPEN_TASK_STATUSES),
            tasks["open"],
            tone="primary",
        ),
        Figure(
            "Overdue tasks",
            str(tasks["overdue"]),
            changelist_url(TASKS, **{OVERDUE_PARAMETER: "yes"}),
            tasks["overdue"],
            tone="danger" if tasks["overdue"] else "success",
        ),
        *(
            Figure(
                f"Runs {RunStatus(status).label.lower()}, {RUN_WINDOW_DAYS} d",
                str(runs.get(status, 0)),
                changelist_url(RUNS, status__exact=status, **window),
                runs.get(status, 0),
                tone=RUN_TONES[status],
            )
            for status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.RUNNING, RunStatus.QUEUED)
        ),
    ]
    finished = runs.get(RunStatus.COMPLETED, 0) + runs.get(RunStatus.FAILED, 0)
    chart = bar_chart(
        [Bar(f.label.split(",")[0].removeprefix("Runs "), f.count, f.link, f.tone) for f in figures[2:]],
        title=f"Workflow runs of the last {RUN_WINDOW_DAYS} days by outcome",
        width=360,
    )
    note = (
        f"{100 * runs.get(RunStatus.COMPLETED, 0) / finished:.0f}% of finished runs completed"
        if finished
        else ""
    )
    return Section(figures=figures, charts=[Chart("Workflow outcomes", chart, note=note)])
