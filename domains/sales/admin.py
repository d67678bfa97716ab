"""Back-office of the sales domain: handoffs with their success plans and baselines, plan tasks, opportunities
(closed through their state machine), milestones, the readiness model edited like a scorecard, and each
customer's readiness state. Writes go through ``services.py``, as the API's do."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from csintegration.adminsite.modeladmin import PlatformModelAdmin, TabularInline
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin, ViewOnlyAdminMixin
from csintegration.tasks import enqueue_after_commit

from . import periods, services
from .models import (
    ExpansionReadiness,
    Handoff,
    Milestone,
    Opportunity,
    OpportunityStatus,
    PlanTaskStatus,
    ReadinessFactor,
    ReadinessModel,
    SuccessGoal,
    SuccessPlan,
    SuccessPlanTask,
)

RECOMPUTE_TASK = "sales.recompute_all_readiness"


def _customer_link(customer_id: str):
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:customers_customer_change", args=[customer_id]), customer_id
    )


# --- Handoffs and success plans --------------------------------------------------------------------------


@admin.register(Handoff)
class HandoffAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("handoff_id", "customer", "deal_value", "contract_terms", "handed_off_by", "created_at")
    search_fields = ("handoff_id", "customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("handoff_id", "customer_link", "created_at", "handed_off_by", "plan_link")}),
        ("Deal", {"fields": ("deal_value", "contract_terms", "success_criteria")}),
        (
            "Confidential (stored encrypted; never in an event, a log or an API answer)",
            {"fields": ("stakeholders", "sales_notes")},
        ),
        (
            "Baseline at handoff",
            {
                "fields": (
                    "baseline_health_score",
                    "baseline_health_trend",
                    "baseline_risk_level",
                    "baseline_adoption_rate",
                    "baseline_engagement_score",
                    "baseline_nps_score",
                    "baseline_arr",
                )
            },
        ),
    )
    readonly_fields = ("customer_link", "plan_link", "stakeholders")

    @admin.display(description="customer")
    def customer_link(self, handoff: Handoff):
        return _customer_link(handoff.customer_id)

    @admin.display(description="success plan")
    def plan_link(self, handoff: Handoff):
        plan = getattr(handoff, "success_plan", None)
        if plan is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:sales_successplan_change", args=[plan.pk]), plan.plan_id
        )

    @admin.display(description="key stakeholders")
    def stakeholders(self, handoff: Handoff):
        return ", ".join(handoff.stakeholder_emails) or "-"


class _ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PlanTaskInline(_ReadOnlyInline):
    model = SuccessPlanTask
    fields = ("kind", "title", "due_date", "assignee", "status", "completed_at")
    readonly_fields = fields


class GoalInline(_ReadOnlyInline):
    model = SuccessGoal
    fields = ("criterion", "status", "achieved_at", "milestone")
    readonly_fields = fields


@admin.register(SuccessPlan)
class SuccessPlanAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    """Created by its handoff; its tasks are closed from the task list (action "Mark … done")."""

    date_hierarchy = "created_at"
    list_display = (
        "plan_id",
        "customer",
        "status",
        "success_manager",
        "onboarding_start",
        "first_check_in",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("plan_id", "customer__customer_id", "customer__name", "success_manager")
    list_select_related = ("customer",)
    show_full_result_count = False
    fields = (
        "plan_id",
        "customer",
        "handoff",
        "status",
        "success_manager",
        "onboarding_start",
        "first_check_in",
    )
    inlines = (PlanTaskInline, GoalInline)


@admin.register(SuccessPlanTask)
class SuccessPlanTaskAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("title", "plan", "kind", "due_date", "assignee", "status", "completed_at")
    list_filter = ("status", "kind")
    search_fields = ("task_id", "plan__customer__customer_id", "assignee")
    list_select_related = ("plan",)
    date_hierarchy = "due_date"
    actions = ("mark_done",)
    show_full_result_count = False

    @admin.action(description="Mark the selected tasks done")
    def mark_done(self, request, queryset):
        done = 0
        for task in queryset.exclude(status=PlanTaskStatus.DONE):
            services.plan_task_complete(task=task)
            done += 1
        self.message_user(request, f"{done} tasks marked done.", messages.SUCCESS)


# --- Opportunities and milestones --------------------------------------------------------------------------


class OpportunityForm(forms.ModelForm):
    """Validates like the API; ``OpportunityAdmin.save_model`` writes through the services (the status
    moves through the state machine there)."""

    class Meta:
        model = Opportunity
        fields = ("customer", "type", "product", "value_estimate", "probability", "timeline", "status")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Ids are given at instantiation, so a new row is told by its state, not by its pk.
        existing = not self.instance._state.adding
        self._original_status = self.instance.status if existing else None
        if existing:
            self.fields["customer"].disabled = True

    def clean_timeline(self):
        try:
            return periods.parse_period(self.cleaned_data["timeline"]).label
        except periods.InvalidPeriod as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        cleaned = super().clean()
        if self._original_status is None or not self.changed_data:
            return cleaned
        if self._original_status != OpportunityStatus.OPEN:
            raise forms.ValidationError(f"The opportunity is {self._original_status}: it does not change.")
        return cleaned

    def _post_clean(self):
        # The dates of the timeline are derived from it; the model's own validation needs them.
        timeline = self.cleaned_data.get("timeline")
        if timeline:
            period = periods.parse_period(timeline)
            self.instance.timeline_start, self.instance.timeline_end = period.start, period.end
        super()._post_clean()


@admin.register(Opportunity)
class OpportunityAdmin(PlatformModelAdmin):
    form = OpportunityForm
    list_display = (
        "opportunity_id",
        "customer",
        "type",
        "product",
        "value_estimate",
        "probability",
        "timeline",
        "status",
        "created_at",
    )
    list_filter = ("status", "type")
    search_fields = ("opportunity_id", "customer__customer_id", "customer__name", "product")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    actions = ("mark_won", "mark_lost")
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in ("type", "product", "value_estimate", "probability")
        }
        data["timeline"] = form.cleaned_data["timeline"]
        status = form.cleaned_data.get("status") or OpportunityStatus.OPEN
        if change:
            saved = services.opportunity_update(
                opportunity=Opportunity.objects.get(pk=obj.pk), data={**data, "status": status}
            )
        else:
            saved = services.opportunity_create(
                customer_id=form.cleaned_data["customer"].pk, status=status, **data
            )
        obj.pk, obj.opportunity_id = saved.pk, saved.opportunity_id

    def _close(self, request, queryset, status: str) -> None:
        closed = 0
        for opportunity in queryset.filter(status=OpportunityStatus.OPEN):
            services.opportunity_update(opportunity=opportunity, data={"status": status})
            closed += 1
        self.message_user(request, f"{closed} open opportunities marked {status}.", messages.SUCCESS)

    @admin.action(description="Mark the selected open opportunities won")
    def mark_won(self, request, queryset):
        self._close(request, queryset, OpportunityStatus.WON)

    @admin.action(description="Mark the selected open opportunities lost")
    def mark_lost(self, request, queryset):
        self._close(request, queryset, OpportunityStatus.LOST)


@admin.register(Milestone)
class MilestoneAdmin(PlatformModelAdmin):
    list_display = ("milestone", "customer", "achieved_at", "recorded_by", "note")
    list_filter = ("milestone",)
    search_fields = ("milestone_id", "customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    date_hierarchy = "achieved_at"
    fields = ("customer", "milestone", "achieved_at", "note")
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a milestone is recorded or removed, not edited

    def save_model(self, request, obj, form, change):
        saved = services.milestone_record(
            customer_id=obj.customer_id,
            milestone=obj.milestone,
            achieved_at=obj.achieved_at,
            note=obj.note,
            recorded_by=request.user.get_username(),
        )
        obj.pk, obj.milestone_id = saved.pk, saved.milestone_id

    def delete_model(self, request, obj):
        services.milestone_delete(milestone=obj)

    def delete_queryset(self, request, queryset):
        for milestone in queryset:
            services.milestone_delete(milestone=milestone)


# --- The readiness model -----------------------------------------------------------------------------------


class ReadinessFactorFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [form for form in self.forms if form.cleaned_data and not form.cleaned_data.get("DELETE")]
        if not kept:
            raise forms.ValidationError("A readiness model needs at least one factor.")


class ReadinessFactorInline(TabularInline):
    model = ReadinessFactor
    formset = ReadinessFactorFormSet
    extra = 0
    min_num = 1
    fields = (
        "factor",
        "weight",
        "normalisation",
        "min_value",
        "max_value",
        "target_value",
        "window_days",
        "label",
    )


@admin.register(ReadinessModel)
class ReadinessModelAdmin(PlatformModelAdmin):
    list_display = ("name", "is_active", "threshold", "rearm_margin", "factor_list", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    inlines = (ReadinessFactorInline,)
    actions = ("activate", "recompute_readiness_now")
    fields = ("name", "description", "is_active", "threshold", "rearm_margin", "top_factors", "strong_share")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("factors")

    @admin.display(description="factors")
    def factor_list(self, model: ReadinessModel) -> str:
        return ", ".join(f"{f.factor} ({f.weight:g})" for f in model.factors.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.is_active:
            # Scores and crossings follow the edited model from now on, not only at the next input change.
            enqueue_after_commit(RECOMPUTE_TASK)
            self.message_user(request, "Every customer's readiness will be re-evaluated.", messages.INFO)

    @admin.action(description="Make the selected model the active one")
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model.", messages.ERROR)
            return
        now = timezone.now()
        with transaction.atomic():
            ReadinessModel.objects.filter(is_active=True).update(is_active=False, updated_at=now)
            queryset.update(is_active=True, updated_at=now)
        enqueue_after_commit(RECOMPUTE_TASK)
        self.message_user(
            request, "Activated; every customer's readiness will be re-evaluated.", messages.SUCCESS
        )

    @admin.action(description="Re-evaluate every customer's readiness now (in the background)")
    def recompute_readiness_now(self, request, queryset):
        enqueue_after_commit(RECOMPUTE_TASK)
        self.message_user(request, "Every customer's readiness will be re-evaluated.", messages.SUCCESS)


@admin.register(ExpansionReadiness)
class ExpansionReadinessAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "evaluated_at"
    list_display = (
        "customer",
        "score",
        "threshold",
        "above_threshold",
        "crossings",
        "last_crossed_at",
        "evaluated_at",
    )
    list_filter = ("above_threshold", "model_name")
    search_fields = ("customer__customer_id", "customer__name", "last_event_id")
    list_select_related = ("customer",)
    show_full_result_count = False
    readonly_fields = ("factors",)

    @admin.display(description="factors (label: raw, normalised, points)")
    def factors(self, state: ExpansionReadiness):
        return format_html_join(
            "",
            "<div>{}: {}, {}, {}</div>",
            (
                (entry["label"], entry["raw_value"], entry["normalised_value"], entry["points"])
                for entry in state.breakdown
            ),
        )


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("revenue", "sales.handoff", title="Handoffs", icon="handshake", order=10)
register_navigation_item("revenue", "sales.successplan", title="Success plans", icon="flag", order=15)
register_navigation_item("revenue", "sales.opportunity", title="Opportunities", icon="trending_up", order=20)
register_navigation_item("revenue", "sales.milestone", title="Milestones", icon="emoji_events", order=25)
register_navigation_item(
    "revenue", "sales.expansionreadiness", title="Expansion readiness", icon="rocket_launch", order=27
)
