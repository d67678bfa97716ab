"""The customer's page in the admin: its CS tasks and its latest workflow runs with their steps."""

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import selectors

ROW = '<tr><td><a href="{}">{}</a></td>' + "<td>{}</td>" * 5 + "</tr>"


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def render_customer_panel(customer_id: str) -> SafeString:
    data = selectors.customer_operations(customer_id=customer_id)
    now = timezone.now()
    if data["tasks"]:
        tasks = format_html(
            "<table><tr><th>task</th><th>kind</th><th>assignee</th><th>due</th><th>status</th>"
            "<th>satisfaction</th></tr>{}</table>",
            format_html_join(
                "",
                ROW,
                (
                    (
                        reverse("admin:operations_cstask_change", args=[task.pk]),
                        task.title,
                        task.get_kind_display(),
                        task.assignee.email if task.assignee else "unassigned",
                        _when(task.due_at) + (" (overdue)" if task.is_overdue(now) else ""),
                        task.get_status_display() + (" · escalated" if task.escalated_at else ""),
                        task.satisfaction or "",
                    )
                    for task in data["tasks"]
                ),
            ),
        )
    else:
        tasks = format_html("<p>{}</p>", "No CS tasks.")
    if data["runs"]:
        runs = format_html(
            "<table><tr><th>run</th><th>workflow</th><th>by</th><th>status</th><th>created</th>"
            "<th>steps (status, tries)</th></tr>{}</table>",
            format_html_join(
                "",
                ROW,
                (
                    (
                        reverse("admin:operations_workflowrun_change", args=[run.pk]),
                        run.run_id,
                        run.workflow_type,
                        run.get_triggered_by_display(),
                        run.get_status_display(),
                        _when(run.created_at),
                        "; ".join(f"{s.name}: {s.status} ({s.attempts})" for s in run.steps.all()),
                    )
                    for run in data["runs"]
                ),
            ),
        )
    else:
        runs = format_html("<p>{}</p>", "No workflow runs.")
    return format_html(
        '<h4>Tasks</h4>{}<h4>Workflow runs</h4>{}<p><a href="{}?customer_id={}">All runs</a> · '
        '<a href="{}?customer_id={}">All tasks</a></p>',
        tasks,
        runs,
        reverse("admin:operations_workflowrun_changelist"),
        customer_id,
        reverse("admin:operations_cstask_changelist"),
        customer_id,
    )
