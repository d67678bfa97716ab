"""Back-office of the marketing domain: segments with an audience preview before saving, campaigns with
their estimated and measured impact, members, trigger rules, journeys (with a staff move) and the next
actions of each stage. Writes go through the same services as the API."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from csintegration.adminsite.modeladmin import PlatformModelAdmin
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin, ViewOnlyAdminMixin
from domains.customers.models import Customer, LifecycleStage

from . import selectors, services
from .conf import conf
from .models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Journey,
    JourneyEntry,
    Segment,
    StageAction,
    TriggerRule,
)
from .segment_filters import SegmentFilterError, describe_filters, validate_filters

PREVIEW = "_preview"


def staff_actor(request) -> str:
    return f"staff:{request.user.get_username()}"


def members_table(customers) -> str:
    if not customers:
        return format_html("<p>{}</p>", "No customer matches.")
    return format_html(
        "<table><tr><th>customer</th><th>segment</th><th>health</th><th>risk</th><th>stage</th>"
        "<th>engagement</th><th>adoption</th><th>NPS</th></tr>{}</table>",
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:customers_customer_change", args=[customer.pk]),
                    customer,
                    customer.segment,
                    customer.health_score,
                    customer.risk_level,
                    customer.lifecycle_stage,
                    "-" if customer.engagement_score is None else f"{customer.engagement_score:g}",
                    "-" if customer.adoption_rate is None else f"{customer.adoption_rate:g}",
                    "-" if customer.nps_score is None else customer.nps_score,
                )
                for customer in customers
            ),
        ),
    )


# --- Segments -------------------------------------------------------------------------------------------


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("key", "name", "description", "filters")

    #: set when the form was posted with "Preview audience": the preview, and the form is not saved
    preview: selectors.AudiencePreview | None = None

    def clean_filters(self):
        try:
            return validate_filters(self.cleaned_data.get("filters"))
        except SegmentFilterError as exc:
            raise forms.ValidationError([f"{field}: {message}" for field, message in exc.errors]) from None

    def is_valid(self) -> bool:
        valid = super().is_valid()
        if valid and PREVIEW in self.data:
            self.preview = selectors.segment_preview(filters=self.cleaned_data["filters"])
            return False  # shown with the preview, not saved
        return valid


@admin.register(Segment)
class SegmentAdmin(PlatformModelAdmin):
    form = SegmentForm
    change_form_template = "admin/marketing/segment/change_form.html"
    list_display = ("key", "name", "is_builtin", "reading", "live_size", "updated_at")
    search_fields = ("key", "name")
    readonly_fields = ("reading", "audience", "is_builtin", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        fields = ["key", "name", "description", "filters"]
        if obj is not None:
            fields += ["reading", "audience", "is_builtin", "created_at", "updated_at"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "key") if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_builtin:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="filters, read")
    def reading(self, segment: Segment) -> str:
        return describe_filters(segment.filters)

    @admin.display(description="customers now")
    def live_size(self, segment: Segment) -> int:
        return selectors.segment_sizes(segments=[segment])[segment.key]

    @admin.display(description="audience (as saved)")
    def audience(self, segment: Segment):
        if segment.pk is None:
            return "-"
        preview = selectors.segment_preview(filters=segment.filters)
        return format_html(
            "<p>{} customers now; the first {} by ARR:</p>{}",
            preview.size,
            len(preview.first_members),
            members_table(preview.first_members),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if form.preview is not None:
            context["segment_preview"] = {
                "size": form.preview.size,
                "table": members_table(form.preview.first_members),
                "reading": describe_filters(form.cleaned_data["filters"]),
                "rows": conf.MARKETING_SEGMENT_PREVIEW_ROWS,
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            fresh = Segment.objects.get(pk=obj.pk)
            saved = services.segment_update(
                segment=fresh,
                data={name: data[name] for name in ("name", "description", "filters") if name in data},
            )
        else:
            saved = services.segment_create(
                key=data["key"], name=data["name"], filters=data["filters"], description=data["description"]
            )
        obj.pk = saved.pk


# --- Campaigns ------------------------------------------------------------------------------------------


class CampaignAddForm(forms.ModelForm):
    segments = forms.ModelMultipleChoiceField(
        queryset=Segment.objects.order_by("key"),
        to_field_name="key",
        help_text="The audience is the distinct customers in the union of these segments, enrolled now",
    )

    class Meta:
        model = Campaign
        fields = ("name", "campaign_type", "trigger_type", "holdout_share", "ends_at")


class CampaignChangeForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ("name", "ends_at")


def impact_table(measured: dict | None) -> str:
    if not measured:
        return "Not measured (cancelled before it was)."
    members, comparison = measured["members"], measured["comparison_group"]
    did = measured["difference_in_differences"]
    rows = [
        ("customers", members["size"], comparison["size"], ""),
        ("retention rate", members["retention_rate"], comparison["retention_rate"], did["retention_points"]),
        (
            "health change (points)",
            members["health_change"],
            comparison["health_change"],
            did["health_score_points"],
        ),
        (
            "engagement change (points)",
            members["engagement_change"],
            comparison["engagement_change"],
            did["engagement_points"],
        ),
    ]
    return format_html(
        "<p>Measured {} against {}: retention improvement {}, engagement lift {}.</p>"
        "<table><tr><th></th><th>members</th><th>comparison</th><th>difference in differences</th></tr>"
        "{}</table>",
        measured["measured_at"],
        measured["comparison"] or "no comparison group yet",
        measured["retention_improvement"] or "-",
        measured["engagement_lift"] or "-",
        format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (label, "-" if a is None else a, "-" if b is None else b, "-" if c in (None, "") else c)
                for label, a, b, c in rows
            ),
        ),
    )


@admin.register(Campaign)
class CampaignAdmin(PlatformModelAdmin):
    list_display = (
        "name",
        "campaign_id",
        "campaign_type",
        "status",
        "audience_size",
        "members_count",
        "holdout_count",
        "estimate",
        "created_at",
    )
    list_filter = ("status", "campaign_type")
    search_fields = ("campaign_id", "name", "trigger_type")
    date_hierarchy = "created_at"
    actions = ("complete_campaigns", "cancel_campaigns")
    readonly_fields = (
        "campaign_id",
        "campaign_type",
        "trigger_type",
        "status",
        "segment_keys",
        "audience_size",
        "members_count",
        "holdout_share",
        "holdout_count",
        "estimate",
        "measured",
        "member_links",
        "completed_at",
        "created_by",
        "created_at",
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = CampaignChangeForm if obj is not None else CampaignAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "campaign_type", "trigger_type", "segments", "holdout_share", "ends_at")
        return ("name", "ends_at", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    @admin.display(description="estimated impact")
    def estimate(self, campaign: Campaign) -> str:
        estimate = campaign.estimated_impact or {}
        if not estimate:
            return "-"
        basis = estimate.get("basis")
        if basis == "history":
            basis = f"history of {estimate.get('campaigns_measured')} campaigns"
        retention, engagement = estimate.get("retention_improvement"), estimate.get("engagement_lift")
        return f"retention {retention}, engagement {engagement} ({basis})"

    @admin.display(description="measured impact")
    def measured(self, campaign: Campaign):
        if campaign.pk is None:
            return "-"
        return impact_table(selectors.campaign_measured_impact(campaign=campaign))

    @admin.display(description="members")
    def member_links(self, campaign: Campaign):
        base = reverse("admin:marketing_campaignmember_changelist")
        return format_html(
            '<a href="{}?campaign__campaign_id__exact={}">All rows</a> · '
            '<a href="{}?campaign__campaign_id__exact={}&group__exact=treatment">members</a> · '
            '<a href="{}?campaign__campaign_id__exact={}&group__exact=holdout">holdout</a> · '
            '<a href="{}?campaign__campaign_id__exact={}&group__exact=comparison">comparison</a>',
            base,
            campaign.pk,
            base,
            campaign.pk,
            base,
            campaign.pk,
            base,
            campaign.pk,
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = services.campaign_update(
                campaign=Campaign.objects.get(pk=obj.pk),
                data={name: data[name] for name in ("name", "ends_at") if name in form.changed_data},
            )
        else:
            saved = services.campaign_create(
                campaign_type=data["campaign_type"],
                trigger_type=data["trigger_type"],
                segment_keys=[segment.key for segment in data["segments"]],
                name=data.get("name") or None,
                holdout_share=data.get("holdout_share") or 0.0,
                ends_at=data.get("ends_at"),
                created_by=staff_actor(request),
            )
        obj.pk = obj.campaign_id = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # no relations of its own: members are enrolled by the service

    def has_delete_permission(self, request, obj=None):
        return False  # a campaign is history: cancel it instead

    def _finish(self, request, queryset, finish, done: str):
        finished = 0
        for campaign in queryset.filter(status=CampaignStatus.ACTIVE):
            try:
                finish(campaign=campaign)
                finished += 1
            except services.CampaignTransitionNotAllowed as exc:
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"{finished} campaigns {done}.", messages.SUCCESS)

    @admin.action(description="Complete the selected campaigns (freeze their measured impact)")
    def complete_campaigns(self, request, queryset):
        self._finish(request, queryset, services.campaign_complete, "completed")

    @admin.action(description="Cancel the selected campaigns")
    def cancel_campaigns(self, request, queryset):
        self._finish(request, queryset, services.campaign_cancel, "cancelled")


@admin.register(CampaignMember)
class CampaignMemberAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    list_display = (
        "customer",
        "campaign",
        "group",
        "source",
        "enrolled_at",
        "baseline_health_score",
        "baseline_engagement_score",
        "baseline_adoption_rate",
        "baseline_lifecycle_stage",
        "trigger_type",
    )
    list_filter = ("group", "source", "campaign__campaign_type", "campaign__status")
    search_fields = ("customer__customer_id", "customer__name", "campaign__campaign_id")
    list_select_related = ("customer", "campaign")
    show_full_result_count = False
    date_hierarchy = "enrolled_at"


# --- Trigger rules --------------------------------------------------------------------------------------


@admin.register(TriggerRule)
class TriggerRuleAdmin(PlatformModelAdmin):
    list_display = (
        "name",
        "signal",
        "threshold",
        "campaign_type",
        "trigger_type",
        "automatic",
        "is_active",
        "priority",
    )
    list_editable = ("automatic", "is_active", "priority")
    list_filter = ("signal", "campaign_type", "automatic", "is_active")
    search_fields = ("name", "trigger_type")
    fields = (
        "name",
        "signal",
        "threshold",
        "campaign_type",
        "trigger_type",
        "automatic",
        "is_active",
        "priority",
    )


# --- Journeys -------------------------------------------------------------------------------------------


class JourneyMoveForm(forms.Form):
    stage = forms.ChoiceField(choices=LifecycleStage.choices)
    reason = forms.CharField(max_length=500, required=False)


@admin.register(Journey)
class JourneyAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "entered_at"
    list_display = ("customer", "stage", "entered_at", "updated_at")
    list_filter = ("stage",)
    search_fields = ("customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    show_full_result_count = False
    fields = ("customer", "stage", "entered_at", "move_link")
    readonly_fields = fields

    @admin.display(description="move")
    def move_link(self, journey: Journey):
        return format_html(
            '<a href="{}">Move this journey…</a>', reverse("admin:marketing_journey_move", args=[journey.pk])
        )

    def get_urls(self):
        return [
            path(
                "move/<str:customer_id>/",
                self.admin_site.admin_view(self.move_view),
                name="marketing_journey_move",
            ),
            *super().get_urls(),
        ]

    def move_view(self, request, customer_id: str):
        """A staff member moves a customer's journey: the same state machine as the API, recorded as
        ``staff:<username>``."""
        if not request.user.has_perm("marketing.change_journey") and not request.user.is_superuser:
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        form = JourneyMoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.journey_move(
                    customer_id=customer.pk,
                    stage=form.cleaned_data["stage"],
                    reason=form.cleaned_data["reason"],
                    changed_by=staff_actor(request),
                )
            except services.JourneyTransitionNotAllowed as exc:
                form.add_error("stage", str(exc))
            else:
                self.message_user(
                    request, f"{customer} moved to {form.cleaned_data['stage']}.", messages.SUCCESS
                )
                return redirect(reverse("admin:customers_customer_change", args=[customer.pk]))
        status = selectors.journey_status(customer=customer, history_limit=10)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move the journey of {customer}",
            "customer": customer,
            "form": form,
            "status": status,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/marketing/journey/move.html", context)


@admin.register(JourneyEntry)
class JourneyEntryAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("customer", "stage", "from_stage", "entered_at", "left_at", "changed_by", "reason")
    list_filter = ("stage", "from_stage")
    search_fields = ("customer__customer_id", "customer__name", "changed_by", "reason")
    list_select_related = ("customer",)
    date_hierarchy = "entered_at"
    show_full_result_count = False


@admin.register(StageAction)
class StageActionAdmin(PlatformModelAdmin):
    list_display = ("stage", "action", "description", "order", "is_active")
    list_editable = ("order", "is_active")
    list_filter = ("stage", "is_active")
    search_fields = ("action", "description")


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("customers", "marketing.segment", title="Segments", icon="filter_alt", order=20)
register_navigation_item("customers", "marketing.journey", title="Journeys", icon="route", order=30)
register_navigation_item("customers", "marketing.campaign", title="Campaigns", icon="campaign", order=35)
register_navigation_item(
    "customers", "marketing.triggerrule", title="Campaign triggers", icon="bolt", order=70
)
