"""Back-office over customers (filters by risk, stage, segment and score; colour-coded risk; health history
with its breakdown), scorecards with their measures and bands, signals and health snapshots."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.views import ChangeList

from csintegration.adminsite.customer_sets import PARAMETER as CUSTOMER_SET
from csintegration.adminsite.customer_sets import customer_set_get, customer_sets
from csintegration.adminsite.modeladmin import PlatformModelAdmin, TabularInline, display
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.panels import customer_panels
from csintegration.adminsite.readonly import ReadOnlyAdminMixin, ViewOnlyAdminMixin
from csintegration.events.selectors import event_list

from . import customer_360, dashboard, selectors, services
from .models import (
    Customer,
    CustomerSignal,
    HealthSnapshot,
    RiskLevel,
    Scorecard,
    ScorecardBand,
    ScorecardMeasure,
)

HEALTH_HISTORY_ROWS = 20
RECENT_EVENT_ROWS = 20

#: unfold's label colours per risk level
RISK_LABELS = {
    RiskLevel.LOW: "success",
    RiskLevel.MEDIUM: "warning",
    RiskLevel.HIGH: "danger",
    RiskLevel.CRITICAL: "danger",
}


class HealthScoreBandFilter(admin.SimpleListFilter):
    title = "health score"
    parameter_name = "score_band"
    BANDS = {"0-24": (0, 24), "25-49": (25, 49), "50-74": (50, 74), "75-100": (75, 100)}

    def lookups(self, request, model_admin):
        return [(band, band) for band in self.BANDS]

    def queryset(self, request, queryset):
        if self.value() in self.BANDS:
            low, high = self.BANDS[self.value()]
            return queryset.filter(health_score__gte=low, health_score__lte=high)
        return queryset


class CustomerSetFilter(admin.SimpleListFilter):
    """The sets of customers that apps define (csintegration/adminsite/customer_sets.py): newly at risk,
    an open churn-risk episode, … so that a dashboard figure lists exactly what it counts."""

    title = "set"
    parameter_name = CUSTOMER_SET

    def lookups(self, request, model_admin):
        return [(item.key, item.title) for item in customer_sets()]

    def queryset(self, request, queryset):
        chosen = customer_set_get(self.value()) if self.value() else None
        if chosen is None:
            return queryset
        return queryset.filter(pk__in=list(chosen.customer_ids()))


class CustomerChangeList(ChangeList):
    """The customer list's default order: critical first, then the largest accounts. (Not the admin's
    ``ordering``: that also orders other pages' customer choices, which have no ``risk_rank``.)"""

    def _get_default_ordering(self):
        return ["risk_rank", "-arr"]


@admin.register(Customer)
class CustomerAdmin(PlatformModelAdmin):
    # Fits 1440 px: the id is the name's link, timestamps are on the 360 page.
    list_display = (
        "name",
        "segment",
        "health_score",
        "risk_badge",
        "health_trend",
        "lifecycle_stage",
        "arr_amount",
        "success_manager",
    )
    list_filter = (
        "risk_level",
        "lifecycle_stage",
        "segment",
        "health_trend",
        HealthScoreBandFilter,
        CustomerSetFilter,
        "success_manager",
        "finance_status",
    )
    search_fields = ("name", "customer_id", "success_manager")
    date_hierarchy = "created_at"
    actions = ("recompute_health",)
    readonly_fields = ("customer_id", "health_trend", "risk_level", "created_at", "updated_at")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("customer_id", "name", "segment", "arr", "success_manager")}),
        ("Health", {"fields": ("health_score", "health_trend", "risk_level", "lifecycle_stage")}),
        ("Success metrics", {"fields": ("adoption_rate", "engagement_score", "nps_score")}),
        (
            "Integration status",
            {
                "fields": (
                    "marketing_status",
                    "sales_status",
                    "product_status",
                    "finance_status",
                    "operations_status",
                )
            },
        ),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )
    # The form edits the record; what the domains know, the history and the events are on the 360 page.

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(risk_rank=dashboard.risk_rank())

    def get_changelist(self, request, **kwargs):
        return CustomerChangeList

    def get_readonly_fields(self, request, obj=None):
        # A score is the health engine's: set once when a customer is added, then computed from signals.
        if obj is not None:
            return (*self.readonly_fields, "health_score")
        return self.readonly_fields

    # --- The customer 360: a read view first, the form behind its "Edit" button ---------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and "edit" not in request.GET:
            customer = self.get_object(request, object_id)
            if customer is not None and self.has_view_or_change_permission(request, customer):
                return self.customer_360_view(request, customer)
        return super().change_view(request, object_id, form_url, extra_context)

    def customer_360_view(self, request, customer: Customer):
        context = {
            **self.admin_site.each_context(request),
            "title": customer.name,
            "subtitle": customer.customer_id,
            "opts": self.model._meta,
            "original": customer,
            "has_change_permission": self.has_change_permission(request, customer),
            **customer_360.context(customer),
            "latest_signals": self.latest_signals(customer),
            "health_history": self.health_history(customer),
            "recent_events": self.recent_events(customer),
            "panels": [(panel.title, panel.render(customer.pk)) for panel in customer_panels()],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/customers/customer_360.html", context)

    @admin.display(description="recent events")
    def recent_events(self, customer: Customer):
        if customer.pk is None:
            return "-"
        events = list(event_list().filter(customer_id=customer.pk)[:RECENT_EVENT_ROWS])
        links = format_html(
            '<p><a href="{}?customer_id={}">All events</a> · <a href="{}?q={}">Webhook deliveries</a></p>',
            reverse("admin:events_event_changelist"),
            customer.pk,
            reverse("admin:webhooks_delivery_changelist"),
            customer.pk,
        )
        if not events:
            return format_html("<p>No events yet.</p>{}", links)
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (
                    f"{event.occurred_at:%Y-%m-%d %H:%M:%S}",
                    reverse("admin:events_event_change", args=[event.pk]),
                    event.event_id,
                    event.event_type,
                    "dispatched" if event.dispatched_at else "pending",
                )
                for event in events
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>event</th><th>type</th><th>fan-out</th></tr>{}</table>{}",
            rows,
            links,
        )

    @admin.display(description="latest signals")
    def latest_signals(self, customer: Customer):
        if customer.pk is None:
            return "-"
        rows = customer.signals.order_by("name")
        if not rows:
            return "No signals yet."
        return format_html(
            "<table><tr><th>signal</th><th>value</th><th>observed</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((row.name, f"{row.value:g}", f"{row.observed_at:%Y-%m-%d %H:%M}") for row in rows),
            ),
        )

    @admin.display(description=f"last {HEALTH_HISTORY_ROWS} scores")
    def health_history(self, customer: Customer):
        if customer.pk is None:
            return "-"
        snapshots = selectors.health_snapshots(customer=customer, limit=HEALTH_HISTORY_ROWS)
        if not snapshots:
            return "No scores yet."
        return format_html(
            "<table><tr><th>when</th><th>score</th><th>change</th><th>trend</th><th>risk</th>"
            "<th>source</th><th>reason</th><th>breakdown (measure: raw, normalised, points)</th>"
            "<th>events</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td>{}</td><td>{}</td></tr>",
                (
                    (
                        f"{snapshot.observed_at:%Y-%m-%d %H:%M}",
                        snapshot.score,
                        ""
                        if snapshot.previous_score is None
                        else f"{snapshot.score - snapshot.previous_score:+d}",
                        snapshot.health_trend,
                        snapshot.risk_level,
                        f"{snapshot.get_source_display()} ({snapshot.scorecard_name})"
                        if snapshot.scorecard_name
                        else snapshot.get_source_display(),
                        snapshot.change_reason,
                        _breakdown_text(snapshot.breakdown),
                        " ".join(filter(None, (snapshot.event_id, snapshot.churn_event_id))),
                    )
                    for snapshot in snapshots
                ),
            ),
        )

    @display(description="risk", ordering="risk_rank", label=RISK_LABELS)
    def risk_badge(self, customer: Customer):
        return customer.risk_level, customer.get_risk_level_display()

    @admin.display(description="ARR", ordering="arr")
    def arr_amount(self, customer: Customer) -> str:
        return f"${customer.arr:,.0f}"

    @admin.action(description="Recompute health from signals now (health engine)")
    def recompute_health(self, request, queryset):
        outcomes = services.customers_health_recompute(
            customer_ids=list(queryset.values_list("pk", flat=True))
        )
        changed = sum(1 for outcome in outcomes if outcome.score_changed)
        self.message_user(
            request, f"{len(outcomes)} customers recomputed; {changed} scores changed.", messages.SUCCESS
        )

    # Writes go through the same services as the API, so both publish the same events; a score goes
    # through the health engine, which sets the trend and risk level (read-only here).
    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in (*services.WRITABLE_FIELDS, "health_score")
            if name in form.cleaned_data
        }
        if change:
            fresh = Customer.objects.get(pk=obj.pk)
            changed = {name: value for name, value in data.items() if name in form.changed_data}
            saved = services.customer_update(customer=fresh, data=changed)
        else:
            saved = services.customer_create(data=data)
        obj.pk, obj.customer_id = saved.pk, saved.customer_id

    def delete_model(self, request, obj):
        services.customer_delete(customer=obj)

    def delete_queryset(self, request, queryset):
        for customer in queryset:
            services.customer_delete(customer=customer)


def _breakdown_text(breakdown) -> str:
    parts = []
    for entry in breakdown or ():
        if entry.get("raw_value") is None:
            parts.append(f"{entry['measure']}: no value")
        else:
            parts.append(
                f"{entry['measure']}: {entry['raw_value']:g}, {entry['normalised_value']:.2f}, "
                f"{entry['contribution']:.2f}"
            )
    return "; ".join(parts)


class ScorecardMeasureInline(TabularInline):
    model = ScorecardMeasure
    extra = 0
    min_num = 1
    fields = ("measure", "weight", "normalisation", "direction", "min_value", "max_value", "target_value")


class ScorecardBandFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        bounds = [
            form.cleaned_data.get("min_score")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if 0 not in bounds:
            raise forms.ValidationError("One band must start at 0, so that every score has a risk level.")


class ScorecardBandInline(TabularInline):
    model = ScorecardBand
    formset = ScorecardBandFormSet
    extra = 0
    min_num = 1
    fields = ("min_score", "risk_level")


@admin.register(Scorecard)
class ScorecardAdmin(PlatformModelAdmin):
    list_display = (
        "name",
        "is_default",
        "segment",
        "lifecycle_stage",
        "is_active",
        "measure_list",
        "updated_at",
    )
    list_filter = ("is_default", "is_active", "segment", "lifecycle_stage")
    search_fields = ("name",)
    inlines = (ScorecardMeasureInline, ScorecardBandInline)
    actions = ("recompute_health_now",)
    fields = ("name", "description", "is_default", "segment", "lifecycle_stage", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("measures")

    @admin.display(description="measures")
    def measure_list(self, scorecard: Scorecard) -> str:
        return ", ".join(f"{m.measure} ({m.weight:g})" for m in scorecard.measures.all())

    def has_delete_permission(self, request, obj=None):
        # The default scorecard is where every unmatched customer falls back to.
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Recompute every customer's health now (in the background)")
    def recompute_health_now(self, request, queryset):
        from .tasks import recompute_all_health

        transaction.on_commit(recompute_all_health.delay)
        self.message_user(
            request, "Every customer's health will be recomputed by the bulk worker.", messages.SUCCESS
        )


@admin.register(CustomerSignal)
class CustomerSignalAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "observed_at"
    list_display = ("customer", "name", "value", "observed_at", "updated_at")
    list_filter = ("name",)
    search_fields = ("customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    show_full_result_count = False


@admin.register(HealthSnapshot)
class HealthSnapshotAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = (
        "customer",
        "score",
        "previous_score",
        "health_trend",
        "risk_level",
        "source",
        "observed_at",
    )
    list_filter = ("source", "risk_level", "health_trend")
    search_fields = ("customer__customer_id", "customer__name", "event_id")
    list_select_related = ("customer",)
    date_hierarchy = "observed_at"
    show_full_result_count = False
    readonly_fields = ("breakdown_table",)

    @admin.display(description="breakdown")
    def breakdown_table(self, snapshot: HealthSnapshot):
        return _breakdown_text(snapshot.breakdown) or "-"


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("customers", "customers.customer", title="Customers", icon="groups", order=10)
register_navigation_item("customers", "customers.scorecard", title="Scorecards", icon="tune", order=40)
register_navigation_item(
    "customers", "customers.healthsnapshot", title="Health history", icon="monitor_heart", order=50
)
register_navigation_item("customers", "customers.customersignal", title="Signals", icon="sensors", order=60)
