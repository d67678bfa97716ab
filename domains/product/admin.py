"""Back-office of the product domain: features with their adoption by segment, correlations, opportunities
and history; feedback ranked by priority with its status workflow; the usage and the adoption
aggregates, read-only. Writes go through the same services as the API."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from csintegration.adminsite.modeladmin import PlatformModelAdmin
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin

from . import adoption, selectors, services
from .aggregates import today_utc
from .models import (
    OPEN_STATUSES,
    AdoptionCell,
    AdoptionPopulation,
    AdoptionProfile,
    AdoptionSnapshot,
    AdoptionSyncState,
    Feature,
    FeatureAdoption,
    FeatureUsage,
    Feedback,
    FeedbackStatus,
    FeedbackTransition,
)

HISTORY_ROWS = 30
STATUS_COLOURS = {
    FeedbackStatus.NEW: "#57606a",
    FeedbackStatus.UNDER_REVIEW: "#9a6700",
    FeedbackStatus.PLANNED: "#0969da",
    FeedbackStatus.IN_PROGRESS: "#8250df",
    FeedbackStatus.DELIVERED: "#1a7f37",
    FeedbackStatus.DECLINED: "#82071e",
}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


# --- Features ----------------------------------------------------------------------------------------


class FeatureForm(forms.ModelForm):
    class Meta:
        model = Feature
        fields = ("feature_id", "name", "description", "adoption_threshold", "window_days", "is_active")


@admin.register(Feature)
class FeatureAdmin(PlatformModelAdmin):
    form = FeatureForm
    list_filter = ("is_active",)
    search_fields = ("feature_id", "name")
    actions = ("check_against_usage", "recompute_from_usage", "rebuild_aggregates")
    readonly_fields = (
        "adoption_by_segment",
        "correlations",
        "opportunities",
        "history",
        "created_at",
        "updated_at",
    )

    def get_fieldsets(self, request, obj=None):
        editable = ("feature_id", "name", "description", "adoption_threshold", "window_days", "is_active")
        if obj is None:
            return ((None, {"fields": editable}),)
        return (
            (None, {"fields": editable}),
            (
                "Adoption (non-churned customers, the feature's window)",
                {"fields": ("adoption_by_segment", "correlations", "opportunities")},
            ),
            ("History (nightly snapshots)", {"fields": ("history",)}),
            ("Timestamps", {"fields": ("created_at", "updated_at")}),
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None:
            fields.append("feature_id")
        return fields

    def get_list_display(self, request):
        # One overview per page (two queries), read by the columns below.
        overview = selectors.features_overview(features=list(Feature.objects.all()))

        def figures(feature):
            return overview.get(feature.feature_id)

        @admin.display(description="adoption")
        def overall(feature):
            found = figures(feature)
            return _percent(found.overall_adoption if found else None)

        def segment_column(segment):
            @admin.display(description=segment.replace("_", " "))
            def column(feature):
                found = figures(feature)
                return _percent(found.segment_adoption.get(segment) if found else None)

            column.__name__ = f"adoption_{segment}"
            return column

        @admin.display(description="health link")
        def link(feature):
            found = figures(feature)
            return _number(found.adoption_success_link if found else None)

        return (
            "name",
            "feature_id",
            "adoption_threshold",
            "window_days",
            "is_active",
            overall,
            *(segment_column(segment) for segment in adoption.SEGMENTS),
            link,
            "recomputing",
        )

    @admin.display(boolean=True, description="recomputing")
    def recomputing(self, feature: Feature) -> bool:
        return feature.recomputing

    def _report(self, feature: Feature) -> selectors.AdoptionReport:
        cached = getattr(feature, "_admin_report", None)
        if cached is None:
            cached = feature._admin_report = selectors.adoption_report(feature=feature)
        return cached

    @admin.display(description="adoption by segment")
    def adoption_by_segment(self, feature: Feature):
        if feature.pk is None:
            return "-"
        figures = self._report(feature).figures
        rows = [
            (
                segment.replace("_", " "),
                figures.segment_customers[segment],
                _percent(figures.segment_adoption[segment]),
            )
            for segment in adoption.SEGMENTS
        ]
        rows.append(("all segments", figures.customers, _percent(figures.overall_adoption)))
        return format_html(
            "<table><tr><th>segment</th><th>customers</th><th>adopted</th></tr>{}</table>"
            "<p>{} adopters: usage of at least {} in the last {} days.</p>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
            figures.adopters,
            feature.adoption_threshold,
            feature.window_days,
        )

    @admin.display(description="success correlation")
    def correlations(self, feature: Feature):
        if feature.pk is None:
            return "-"
        report = self._report(feature)
        figures = report.figures
        return format_html(
            "Adoption and health score: r = {} ({} impact). Adoption and retention: r = {} over {} "
            "customers, {} churned.",
            _number(figures.adoption_success_link),
            report.health_impact,
            _number(figures.retention_correlation),
            figures.retention_customers,
            figures.churned_customers,
        )

    @admin.display(description="improvement opportunities")
    def opportunities(self, feature: Feature):
        if feature.pk is None:
            return "-"
        found = self._report(feature).insights.opportunities
        if not found:
            return "None: no rule fired."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} ({}{}: {:.2f} below {:.2f})</li>",
                (
                    (
                        item.opportunity,
                        item.rule,
                        f", {item.segment}" if item.segment else "",
                        item.value,
                        item.threshold,
                    )
                    for item in found
                ),
            ),
        )

    @admin.display(description=f"last {HISTORY_ROWS} days")
    def history(self, feature: Feature):
        if feature.pk is None:
            return "-"
        by_day: dict = {}
        for snapshot in selectors.adoption_history(feature=feature, days=HISTORY_ROWS):
            by_day.setdefault(snapshot.day, {})[snapshot.segment] = snapshot
        if not by_day:
            return "No snapshot yet (taken nightly)."

        def share(snapshots, segments):
            customers = sum(snapshots[s].customers for s in segments if s in snapshots)
            adopters = sum(snapshots[s].adopters for s in segments if s in snapshots)
            return _percent(adopters / customers if customers else None)

        rows = [
            (
                f"{day:%Y-%m-%d}",
                share(snapshots, adoption.SEGMENTS),
                *(share(snapshots, (segment,)) for segment in adoption.SEGMENTS),
            )
            for day, snapshots in sorted(by_day.items(), reverse=True)
        ]
        return format_html(
            "<table><tr><th>day</th><th>all</th><th>enterprise</th><th>mid-market</th><th>small business</th>"
            "</tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in services.FEATURE_FIELDS if name in form.cleaned_data
        }
        if change:
            fresh = Feature.objects.get(pk=obj.pk)
            saved = services.feature_update(
                feature=fresh, data={name: value for name, value in data.items() if name in form.changed_data}
            )
        else:
            saved = services.feature_create(data=data, feature_id=form.cleaned_data.get("feature_id") or None)
        obj.pk = saved.pk

    @admin.action(description="Check the adoption figures against the raw usage")
    def check_against_usage(self, request, queryset):
        today = today_utc()
        for feature in queryset:
            kept = selectors.adoption_sums(feature=feature, window_days=feature.window_days, today=today)
            raw = selectors.adoption_sums_from_usage(
                feature=feature, window_days=feature.window_days, today=today
            )
            if adoption.adoption_figures(*kept) == adoption.adoption_figures(*raw):
                self.message_user(
                    request, f"The figures of {feature.feature_id} match the usage.", messages.SUCCESS
                )
            else:
                self.message_user(
                    request,
                    f"The figures of {feature.feature_id} differ from the usage (customer changes not yet "
                    "synced, or drift): rebuild the aggregates.",
                    messages.WARNING,
                )

    @admin.action(description="Recompute adoption from the usage (in the background)")
    def recompute_from_usage(self, request, queryset):
        from .tasks import recompute_feature_adoption

        for feature in queryset:
            transaction.on_commit(lambda feature_id=feature.pk: recompute_feature_adoption.delay(feature_id))
        self.message_user(request, "The bulk worker will recompute the selected features.", messages.SUCCESS)

    @admin.action(description="Rebuild every adoption aggregate now (in the background)")
    def rebuild_aggregates(self, request, queryset):
        from .tasks import rebuild_adoption_aggregates

        transaction.on_commit(rebuild_adoption_aggregates.delay)
        self.message_user(request, "The bulk worker will rebuild the adoption aggregates.", messages.SUCCESS)


@admin.register(FeatureUsage)
class FeatureUsageAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("date", "customer", "feature", "count", "updated_at")
    list_filter = ("feature",)
    search_fields = ("customer__customer_id", "customer__name")
    list_select_related = ("customer", "feature")
    date_hierarchy = "date"
    show_full_result_count = False


@admin.register(FeatureAdoption)
class FeatureAdoptionAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "updated_at"
    list_display = ("customer_id", "feature", "adopted_from", "last_used_on", "updated_at")
    list_filter = ("feature",)
    search_fields = ("customer_id",)
    list_select_related = ("feature",)
    show_full_result_count = False


@admin.register(AdoptionProfile)
class AdoptionProfileAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "synced_at"
    list_display = ("customer_id", "counted", "segment", "churned", "health_score", "synced_at")
    list_filter = ("segment", "churned", "counted")
    search_fields = ("customer_id",)
    show_full_result_count = False


@admin.register(AdoptionCell)
class AdoptionCellAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("feature", "segment", "churned", "adopted_from", "adopters", "health_sum")
    list_filter = ("feature", "segment", "churned")
    show_full_result_count = False


@admin.register(AdoptionPopulation)
class AdoptionPopulationAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("segment", "churned", "customers", "health_sum", "health_square_sum")


@admin.register(AdoptionSnapshot)
class AdoptionSnapshotAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("day", "feature", "segment", "customers", "adopters", "share", "window_days")
    list_filter = ("feature", "segment")
    date_hierarchy = "day"
    show_full_result_count = False

    @admin.display(description="adopted")
    def share(self, snapshot: AdoptionSnapshot) -> str:
        return _percent(snapshot.adopters / snapshot.customers if snapshot.customers else None)


@admin.register(AdoptionSyncState)
class AdoptionSyncStateAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("key", "synced_until", "rebuilt_at", "last_drift")


# --- Feedback ----------------------------------------------------------------------------------------


class OpenFilter(admin.SimpleListFilter):
    title = "open"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return (("yes", "Open (new to in progress)"), ("no", "Delivered or declined"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status__in=OPEN_STATUSES)
        if self.value() == "no":
            return queryset.exclude(status__in=OPEN_STATUSES)
        return queryset


class FeedbackAddForm(forms.ModelForm):
    class Meta:
        model = Feedback
        fields = ("customer", "type", "category", "priority", "business_impact", "description")


class FeedbackChangeForm(forms.ModelForm):
    move_to = forms.ChoiceField(required=False, label="Move to", help_text="The statuses the workflow allows")
    release = forms.CharField(
        required=False,
        max_length=100,
        label="Committed release",
        help_text="Needed to plan; kept while planned, in progress or delivered",
    )

    class Meta:
        model = Feedback
        fields = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = self.instance.allowed_statuses() if self.instance.pk else []
        self.fields["move_to"].choices = [("", "(stay)")] + [
            (value, FeedbackStatus(value).label) for value in allowed
        ]
        self.fields["release"].initial = self.instance.committed_release


@admin.register(Feedback)
class FeedbackAdmin(PlatformModelAdmin):
    date_hierarchy = "created_at"
    list_display = (
        "feedback_id",
        "customer",
        "type",
        "category",
        "priority",
        "business_impact",
        "priority_score",
        "status_badge",
        "committed_release",
        "created_at",
    )
    list_filter = (OpenFilter, "status", "type", "priority", "business_impact", "category")
    search_fields = (
        "feedback_id",
        "customer__customer_id",
        "customer__name",
        "category",
        "committed_release",
    )
    list_select_related = ("customer",)
    ordering = ("-priority_score", "-created_at")
    raw_id_fields = ("customer",)
    show_full_result_count = False

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = FeedbackChangeForm if obj is not None else FeedbackAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (
                    None,
                    {
                        "fields": (
                            "customer",
                            "type",
                            "category",
                            "priority",
                            "business_impact",
                            "description",
                        )
                    },
                ),
            )
        return (
            (
                None,
                {
                    "fields": (
                        "feedback_id",
                        "customer",
                        "type",
                        "category",
                        "priority",
                        "business_impact",
                        "shown_description",
                        "success_context",
                    )
                },
            ),
            ("Priority", {"fields": ("priority_score", "priority_terms")}),
            (
                "Delivery workflow",
                {
                    "fields": (
                        "status",
                        "move_to",
                        "release",
                        "committed_by",
                        "committed_at",
                        "status_changed_at",
                    )
                },
            ),
            ("Submitted", {"fields": ("submitted_by", "created_at", "updated_at")}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "feedback_id",
            "customer",
            "type",
            "category",
            "priority",
            "business_impact",
            "shown_description",
            "success_context",
            "priority_score",
            "priority_terms",
            "status",
            "committed_by",
            "committed_at",
            "status_changed_at",
            "workflow_history",
            "submitted_by",
            "created_at",
            "updated_at",
        )

    @admin.display(description="history")
    def workflow_history(self, feedback: Feedback):
        transitions = feedback.transitions.order_by("at", "id")
        return format_html(
            "<table><tr><th>when</th><th>from</th><th>to</th><th>release</th><th>by</th><th>event</th></tr>{}"
            "</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        f"{item.at:%Y-%m-%d %H:%M}",
                        item.from_status or "-",
                        item.to_status,
                        item.committed_release or "-",
                        item.changed_by,
                        item.event_id or "-",
                    )
                    for item in transitions
                ),
            ),
        )

    @admin.display(description="description")
    def shown_description(self, feedback: Feedback) -> str:
        return feedback.description

    @admin.display(description="how the score was reached")
    def priority_terms(self, feedback: Feedback):
        inputs = feedback.priority_inputs or {}
        terms = inputs.get("terms", {})
        if not terms:
            return "-"
        return format_html(
            "<table><tr><th>term</th><th>value</th><th>weight</th></tr>{}</table><p>ARR {}, health {}.</p>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{:.2f}</td><td>{:.2f}</td></tr>",
                ((name, term["value"], term["weight"]) for name, term in terms.items()),
            ),
            inputs.get("arr"),
            inputs.get("health_score"),
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, feedback: Feedback):
        return format_html(
            '<span style="color:#fff;background:{};padding:2px 8px;border-radius:8px">{}</span>',
            STATUS_COLOURS.get(feedback.status, "#57606a"),
            feedback.get_status_display(),
        )

    def save_model(self, request, obj, form, change):
        actor = f"staff:{request.user.get_username()}"
        if not change:
            customer = form.cleaned_data["customer"]
            data = {
                name: form.cleaned_data[name]
                for name in ("type", "category", "priority", "business_impact", "description")
            }
            saved = services.feedback_submit(customer=customer, data=data, submitted_by=actor)
            obj.pk = saved.pk
            return
        options = {}
        release = form.cleaned_data.get("release", "")
        if release != obj.committed_release:
            options["committed_release"] = release
        move_to = form.cleaned_data.get("move_to") or None
        try:
            services.feedback_update(feedback=obj, actor=actor, status=move_to, **options)
        except services.TransitionRefused as refused:
            messages.error(request, f"Not allowed: {refused.current} → {refused.requested}.")
        except services.CommitmentRefused as refused:
            messages.error(request, str(refused))

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FeedbackTransition)
class FeedbackTransitionAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "at"
    list_display = ("at", "feedback", "from_status", "to_status", "committed_release", "changed_by")
    list_filter = ("to_status",)
    search_fields = ("feedback__feedback_id", "committed_release", "changed_by")
    list_select_related = ("feedback",)
    show_full_result_count = False


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("product", "product.feature", title="Features", icon="widgets", order=10)
register_navigation_item("product", "product.feedback", title="Feedback", icon="reviews", order=20)
register_navigation_item("product", "product.featureusage", title="Usage", icon="bar_chart", order=30)
