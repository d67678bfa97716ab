"""Back-office of the operations domain: workflow templates and playbooks, automation rules (checked on
save) and their firings, workflow runs with their steps (read-only, failed ones resumable), the CS team,
CS tasks, "My tasks" for the signed-in manager, and the daily performance snapshots. Every write goes
through the services, as the API's do."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from csintegration.adminsite.modeladmin import PlatformModelAdmin, TabularInline, action
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin

from . import dashboard, services
from .actions import action_names, action_params_errors
from .models import (
    OPEN_TASK_STATUSES,
    AutomationRule,
    CSTask,
    MyTask,
    PerformanceSnapshot,
    Playbook,
    PlaybookTask,
    RuleFiring,
    Skill,
    SuccessManager,
    TaskSource,
    TaskStatus,
    TemplateStep,
    WorkflowRun,
    WorkflowStep,
    WorkflowTemplate,
)
from .services.tasks import UNSET

RECENT_FIRINGS = 20


# --- The team -------------------------------------------------------------------------------------------


@admin.register(Skill)
class SkillAdmin(PlatformModelAdmin):
    list_display = ("key", "name", "manager_count")
    search_fields = ("key", "name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(manager_total=Count("managers"))

    @admin.display(description="managers", ordering="manager_total")
    def manager_count(self, skill):
        return skill.manager_total


@admin.register(SuccessManager)
class SuccessManagerAdmin(PlatformModelAdmin):
    list_display = (
        "email",
        "user",
        "skill_list",
        "weekly_capacity_hours",
        "open_load",
        "utilisation",
        "is_active",
    )
    list_filter = ("is_active", "skills")
    search_fields = ("email", "user__username", "user__first_name", "user__last_name")
    filter_horizontal = ("skills",)
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        open_tasks = Q(tasks__status__in=OPEN_TASK_STATUSES)
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .prefetch_related("skills")
            .annotate(open_hours=Sum("tasks__effort_hours", filter=open_tasks))
        )

    @admin.display(description="skills")
    def skill_list(self, manager):
        return ", ".join(skill.key for skill in manager.skills.all())

    @admin.display(description="open load (h)", ordering="open_hours")
    def open_load(self, manager):
        return round(manager.open_hours or 0, 1)

    @admin.display(description="utilisation")
    def utilisation(self, manager):
        return f"{(manager.open_hours or 0) / manager.weekly_capacity_hours:.0%}"


# --- Playbooks and templates ----------------------------------------------------------------------------


class PlaybookTaskInline(TabularInline):
    model = PlaybookTask
    extra = 0
    fields = ("position", "title", "required_skill", "due_in_days", "effort_hours", "priority", "description")


@admin.register(Playbook)
class PlaybookAdmin(PlatformModelAdmin):
    list_display = ("key", "name", "is_active", "task_count", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("key", "name")
    inlines = (PlaybookTaskInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(task_total=Count("tasks"))

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, playbook):
        return playbook.task_total


class TemplateStepForm(forms.ModelForm):
    action = forms.ChoiceField(choices=())

    class Meta:
        model = TemplateStep
        fields = ("position", "action", "params", "max_attempts")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(name, name) for name in action_names()]


class TemplateStepFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        # The parent's workflow type is known here even for a new template (a playbook named after it).
        workflow_type = self.instance.workflow_type or None
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("action"):
                continue
            errors = action_params_errors(data["action"], data.get("params"), workflow_type=workflow_type)
            for field, message in errors.items():
                form.add_error("action" if field == "action" else "params", f"{field}: {message}")


class TemplateStepInline(TabularInline):
    model = TemplateStep
    form = TemplateStepForm
    formset = TemplateStepFormSet
    extra = 0
    min_num = 1


@admin.register(WorkflowTemplate)
class WorkflowTemplateAdmin(PlatformModelAdmin):
    list_display = ("workflow_type", "name", "is_active", "critical", "step_list", "updated_at")
    list_filter = ("is_active", "critical")
    search_fields = ("workflow_type", "name")
    inlines = (TemplateStepInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="steps")
    def step_list(self, template):
        return " → ".join(step.action for step in sorted(template.steps.all(), key=lambda s: s.position))


# --- Rules ----------------------------------------------------------------------------------------------


@admin.register(AutomationRule)
class AutomationRuleAdmin(PlatformModelAdmin):
    list_display = ("name", "event_type", "action", "target", "is_active", "position", "firing_count")
    list_filter = ("is_active", "action", "event_type")
    search_fields = ("name", "description", "event_type")
    readonly_fields = ("rule_id", "created_at", "updated_at", "recent_firings")
    fields = (
        "rule_id",
        "name",
        "description",
        "is_active",
        "position",
        "event_type",
        "conditions",
        "action",
        "action_params",
        "suppress_while_open",
        "recent_firings",
        "created_at",
        "updated_at",
    )
    actions = ("activate", "deactivate")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(firing_total=Count("firings"))

    @admin.display(description="does")
    def target(self, rule):
        params = rule.action_params or {}
        return params.get("workflow_type") or params.get("campaign_type") or params.get("label") or "-"

    @admin.display(description="firings", ordering="firing_total")
    def firing_count(self, rule):
        return rule.firing_total

    @admin.display(description=f"last {RECENT_FIRINGS} firings")
    def recent_firings(self, rule):
        if rule.pk is None:
            return "-"
        firings = list(rule.firings.select_related("run")[:RECENT_FIRINGS])
        if not firings:
            return "Never fired."
        return format_html(
            "<table><tr><th>when</th><th>event</th><th>customer</th><th>outcome</th><th>run</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        f"{firing.created_at:%Y-%m-%d %H:%M:%S}",
                        firing.event_id,
                        firing.customer_id or "-",
                        firing.get_outcome_display(),
                        firing.run_id or "-",
                    )
                    for firing in firings
                ),
            ),
        )

    @admin.action(description="Activate the selected rules")
    def activate(self, request, queryset):
        for rule in queryset:  # save() moves updated_at, which every process's rule cache watches
            rule.is_active = True
            rule.save(update_fields=["is_active", "updated_at"])

    @admin.action(description="Deactivate the selected rules")
    def deactivate(self, request, queryset):
        for rule in queryset:
            rule.is_active = False
            rule.save(update_fields=["is_active", "updated_at"])


@admin.register(RuleFiring)
class RuleFiringAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("created_at", "rule", "event_type", "event_id", "customer_id", "outcome", "run")
    list_filter = ("outcome", "event_type", "rule")
    search_fields = ("event_id", "customer_id", "run__run_id")
    list_select_related = ("rule", "run")
    date_hierarchy = "created_at"
    show_full_result_count = False


# --- Runs -----------------------------------------------------------------------------------------------


class WorkflowStepInline(TabularInline):
    model = WorkflowStep
    extra = 0
    can_delete = False
    fields = ("position", "name", "status", "attempts", "max_attempts", "started_at", "finished_at",
              "next_attempt_at", "output", "error", "tries")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="tries")
    def tries(self, step):
        return "; ".join(
            f"#{entry.get('attempt')} {entry.get('outcome')}"
            + (f": {entry['error']}" if entry.get("error") else "")
            for entry in step.attempt_log or []
        )


@admin.register(WorkflowRun)
class WorkflowRunAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("run_id", "workflow_type", "customer_id", "status", "triggered_by", "queue", "created_at",
                    "finished_at")  # fmt: skip
    list_filter = ("status", "workflow_type", "triggered_by", "queue")
    search_fields = ("run_id", "customer_id", "trigger_event_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (WorkflowStepInline,)
    actions = ("resume_failed",)

    @admin.action(description="Resume the selected failed runs from their failed step")
    def resume_failed(self, request, queryset):
        resumed = 0
        for run in queryset.filter(status="failed"):
            try:
                services.workflow_run_resume(run_id=run.run_id)
                resumed += 1
            except services.RunNotResumable:
                continue
        self.message_user(
            request, f"{resumed} run(s) resumed.", messages.SUCCESS if resumed else messages.WARNING
        )


# --- Tasks ----------------------------------------------------------------------------------------------

STATUS_CHOICES = [
    ("", "(unchanged)"),
    *[(s, label) for s, label in TaskStatus.choices if s != TaskStatus.OPEN],
]


class TaskForm(forms.ModelForm):
    """A task's details, and its state changed through the service (status and satisfaction)."""

    new_status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label="Move to")
    new_satisfaction = forms.TypedChoiceField(
        choices=[("", "-"), *[(n, n) for n in range(1, 6)]],
        coerce=int,
        empty_value=None,
        required=False,
        label="Customer satisfaction (1 to 5, when done)",
    )

    class Meta:
        model = CSTask
        fields = ("kind", "title", "description", "customer_id", "priority", "required_skill", "effort_hours",
                  "due_at", "assignee")  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "new_satisfaction" in self.fields:
            self.fields["new_satisfaction"].initial = self.instance.satisfaction
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = SuccessManager.objects.filter(is_active=True)
            self.fields["assignee"].required = False
            self.fields["assignee"].help_text = "Blank on a new task: chosen by skill and free capacity"

    def clean_customer_id(self):
        from domains.customers.models import Customer

        customer_id = self.cleaned_data["customer_id"]
        if not Customer.objects.filter(pk=customer_id).exists():
            raise forms.ValidationError("No such customer.")
        return customer_id

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            status = data.get("new_status") or self.instance.status
            if data.get("new_satisfaction") and status != TaskStatus.DONE:
                self.add_error("new_satisfaction", "A satisfaction score is for a task that is done.")
        return data


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = dashboard.OVERDUE_PARAMETER

    def lookups(self, request, model_admin):
        return [("yes", "Open and past due")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(pk__in=dashboard.overdue_tasks().values("pk"))
        return queryset


class TaskAdminBase(PlatformModelAdmin):
    form = TaskForm
    list_display = ("title", "kind", "customer_id", "assignee", "due_at", "status", "overdue", "satisfaction")
    list_filter = ("status", OverdueFilter, "kind", "source", "priority", "required_skill")
    search_fields = ("task_id", "title", "customer_id", "assignee__email")
    list_select_related = ("assignee",)
    date_hierarchy = "due_at"
    show_full_result_count = False
    readonly_fields = ("task_id", "status", "satisfaction", "source", "run", "playbook", "escalation_of",
                       "escalated_at", "skill_matched", "assigned_at", "created_at",
                       "completed_at")  # fmt: skip
    actions = ("mark_done", "mark_in_progress")
    actions_detail = ("close_done",)
    #: what a new task is made of; once created, kind, customer and skill stay as they are
    CREATE_FIELDS = ("kind", "title", "description", "customer_id", "priority", "required_skill",
                     "effort_hours", "due_at", "assignee")  # fmt: skip
    EDIT_FIELDS = ("title", "description", "priority", "effort_hours", "due_at", "assignee", "new_status",
                   "new_satisfaction")  # fmt: skip

    def get_fields(self, request, obj=None):
        if obj is None:
            return list(self.CREATE_FIELDS)
        return [*self.EDIT_FIELDS, "kind", "customer_id", "required_skill", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "kind", "customer_id", "required_skill"] if obj is not None else []

    @admin.display(boolean=True, description="overdue")
    def overdue(self, task):
        return task.is_overdue()

    def has_delete_permission(self, request, obj=None):
        return False  # closing (done or cancelled) keeps the history that performance is computed from

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        actor = request.user.get_username()
        if not change:
            created = services.task_create(
                customer_id=data["customer_id"],
                spec=services.TaskSpec(
                    kind=data["kind"],
                    title=data["title"],
                    description=data.get("description", ""),
                    required_skill=data["required_skill"].pk if data.get("required_skill") else None,
                    effort_hours=data["effort_hours"],
                    priority=data["priority"],
                    due_at=data["due_at"],
                ),
                source=TaskSource.MANUAL,
                preferred_email=data["assignee"].email if data.get("assignee") else None,
            )
            if data.get("assignee") and created.assignee_id != data["assignee"].pk:
                services.task_update(
                    task_id=created.task_id, assignee_email=data["assignee"].email, actor=actor
                )
            obj.pk = obj.task_id = created.task_id
            return
        assignee = data.get("assignee")
        services.task_update(
            task_id=obj.pk,
            status=data.get("new_status") or None,
            satisfaction=data.get("new_satisfaction") if "new_satisfaction" in form.changed_data else UNSET,
            assignee_email=(assignee.email if assignee else None)
            if "assignee" in form.changed_data
            else UNSET,
            due_at=data.get("due_at") if "due_at" in form.changed_data else None,
            details={
                name: data[name]
                for name in ("title", "description", "priority", "effort_hours")
                if name in data
            },
            actor=actor,
        )

    def _move(self, request, queryset, status: str) -> None:
        moved, refused = 0, 0
        for task in queryset.filter(status__in=OPEN_TASK_STATUSES):
            try:
                services.task_update(task_id=task.pk, status=status, actor=request.user.get_username())
                moved += 1
            except services.TaskTransitionNotAllowed:
                refused += 1
        self.message_user(
            request, f"{moved} task(s) moved to {status}." + (f" {refused} refused." if refused else "")
        )

    @admin.action(description="Mark the selected tasks done")
    def mark_done(self, request, queryset):
        self._move(request, queryset, TaskStatus.DONE)

    @admin.action(description="Mark the selected tasks in progress")
    def mark_in_progress(self, request, queryset):
        self._move(request, queryset, TaskStatus.IN_PROGRESS)

    @action(description="Mark done", url_path="close", icon="task_alt")
    def close_done(self, request, object_id: str):
        """The task page's button: closes it through the service, as the list's action does."""
        task = self.get_object(request, object_id)
        if task is None or not self.has_change_permission(request, task):
            raise PermissionDenied
        try:
            services.task_update(task_id=task.pk, status=TaskStatus.DONE, actor=request.user.get_username())
            self.message_user(request, f"{task.title}: done.", messages.SUCCESS)
        except services.TaskTransitionNotAllowed as exc:
            self.message_user(request, f"{task.title}: {exc}", messages.ERROR)
        opts = self.model._meta
        return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))


@admin.register(CSTask)
class CSTaskAdmin(TaskAdminBase):
    pass


def _manager_of(request) -> SuccessManager | None:
    return SuccessManager.objects.filter(user=request.user, is_active=True).first()


@admin.register(MyTask)
class MyTaskAdmin(TaskAdminBase):
    """The signed-in manager's open and recent tasks, overdue first; any staff member on the CS team sees
    their own, without a model permission of their own."""

    list_display = ("title", "kind", "customer_id", "priority", "due_at", "status", "overdue")
    list_filter = ("status", "kind", "priority")

    def get_queryset(self, request):
        manager = _manager_of(request)
        tasks = super().get_queryset(request)
        return tasks.filter(assignee=manager) if manager else tasks.none()

    def get_ordering(self, request):
        return ("completed_at", "due_at")

    def has_module_permission(self, request):
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or _manager_of(request) is not None)

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or (obj.assignee_id is not None and obj.assignee == _manager_of(request))

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False


# --- Performance ----------------------------------------------------------------------------------------


@admin.register(PerformanceSnapshot)
class PerformanceSnapshotAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("as_of", "window_days", "execution_rate", "resolution_time", "satisfaction",
                    "productivity",
                    "capacity_usage", "skill_matching", "balancing", "opportunities")  # fmt: skip
    list_filter = ("window_days",)
    date_hierarchy = "as_of"

    def _metric(self, snapshot, group, name):
        return (snapshot.figures.get(group) or {}).get(name)

    @admin.display(description="execution rate")
    def execution_rate(self, snapshot):
        return self._metric(snapshot, "performance_metrics", "workflow_execution_rate")

    @admin.display(description="resolution")
    def resolution_time(self, snapshot):
        return self._metric(snapshot, "performance_metrics", "average_resolution_time")

    @admin.display(description="CSAT")
    def satisfaction(self, snapshot):
        return self._metric(snapshot, "performance_metrics", "customer_satisfaction")

    @admin.display(description="productivity")
    def productivity(self, snapshot):
        return self._metric(snapshot, "performance_metrics", "team_productivity")

    @admin.display(description="capacity")
    def capacity_usage(self, snapshot):
        return self._metric(snapshot, "resource_utilization", "capacity_usage")

    @admin.display(description="skill match")
    def skill_matching(self, snapshot):
        return self._metric(snapshot, "resource_utilization", "skill_matching_accuracy")

    @admin.display(description="balance")
    def balancing(self, snapshot):
        return self._metric(snapshot, "resource_utilization", "workload_balancing")

    @admin.display(description="opportunities")
    def opportunities(self, snapshot):
        return ", ".join(snapshot.figures.get("optimization_opportunities") or []) or "-"


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("operations", "operations.mytask", title="My tasks", icon="task_alt", order=10)
register_navigation_item("operations", "operations.cstask", title="All tasks", icon="checklist", order=15)
register_navigation_item(
    "operations", "operations.workflowrun", title="Workflow runs", icon="play_circle", order=20
)
register_navigation_item(
    "operations", "operations.automationrule", title="Automation rules", icon="rule", order=30
)
register_navigation_item("operations", "operations.playbook", title="Playbooks", icon="menu_book", order=40)
register_navigation_item(
    "operations", "operations.workflowtemplate", title="Workflow templates", icon="account_tree", order=45
)
register_navigation_item("operations", "operations.successmanager", title="Team", icon="badge", order=50)
