"""Back-office of the finance domain: contracts (with the retention table by month), payments with their
overdue status, each customer's standing, value reports, forecasts with their lines, the server's
recomputation and the discrepancies, and the fits of the renewal model. Writes go through the services,
so the admin publishes the same events as the API."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from csintegration.adminsite.modeladmin import PlatformModelAdmin, TabularInline
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin
from csintegration.tasks import enqueue_after_commit

from . import reports, selectors, services
from .conf import conf
from .models import (
    Contract,
    Forecast,
    ForecastLine,
    Payment,
    PaymentStanding,
    PaymentStatus,
    RenewalModelFit,
    ValueReport,
)
from .panels import STATUS_COLOURS

RETENTION_MONTHS_DEFAULT, RETENTION_MONTHS_MAX = 12, 36


def _badge(colour: str, text: str):
    return format_html(
        '<span style="color:#fff;background:{};padding:2px 8px;border-radius:8px">{}</span>', colour, text
    )


def _rate(value) -> str:
    return "-" if value is None else f"{value:.1%}"


class ContractTermFilter(admin.SimpleListFilter):
    title = "term"
    parameter_name = "term"

    def lookups(self, request, model_admin):
        return (("in_force", "In force today"), ("ended", "Ended"), ("future", "Not started"))

    def queryset(self, request, queryset):
        today = selectors.today()
        if self.value() == "in_force":
            return queryset.filter(selectors.in_force_on(today))
        if self.value() == "ended":
            return queryset.filter(end_date__lt=today)
        if self.value() == "future":
            return queryset.filter(start_date__gt=today)
        return queryset


@admin.register(Contract)
class ContractAdmin(PlatformModelAdmin):
    list_display = (
        "contract_id",
        "customer",
        "contracted_value",
        "arr",
        "start_date",
        "end_date",
        "term_badge",
    )
    list_filter = (ContractTermFilter, "end_date")
    search_fields = ("contract_id", "customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    readonly_fields = ("contract_id", "arr", "created_at", "updated_at")
    fields = ("contract_id", "customer", "contracted_value", "start_date", "end_date", "arr", "created_at")
    date_hierarchy = "end_date"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "customer") if obj is not None else self.readonly_fields

    @admin.display(description="term")
    def term_badge(self, contract: Contract):
        today = selectors.today()
        if contract.in_force_on(today):
            return _badge("#1a7f37", "in force")
        return _badge("#57606a", "ended" if contract.end_date < today else "not started")

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.CONTRACT_FIELDS}
        if change:
            fresh = Contract.objects.get(pk=obj.pk)
            saved = services.contract_update(contract=fresh, data=data)
        else:
            saved = services.contract_create(customer=form.cleaned_data["customer"], **data)
        obj.pk, obj.contract_id, obj.arr = saved.pk, saved.contract_id, saved.arr

    def get_urls(self):
        retention = path(
            "retention/", self.admin_site.admin_view(self.retention_view), name="finance_retention_by_month"
        )
        return [retention, *super().get_urls()]

    def retention_view(self, request):
        """GRR, NRR and logo retention of each of the last months, from the stored contracts."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("months", "")
        # isascii: str.isdigit() also accepts "²", which int() refuses
        months = int(raw) if raw.isascii() and raw.isdigit() else RETENTION_MONTHS_DEFAULT
        months = max(1, min(months, RETENTION_MONTHS_MAX))
        include = request.GET.get("include_reactivation", "true") != "false"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Retention by month",
            "rows": [
                {
                    **row,
                    "grr_text": _rate(row["grr"]),
                    "nrr_text": _rate(row["nrr"]),
                    "logo_text": _rate(row["logo_retention"]),
                }
                for row in reports.monthly_retention(months=months, include_reactivation=include)
            ],
            "months": months,
            "include_reactivation": include,
        }
        return TemplateResponse(request, "admin/finance/retention.html", context)


class PaymentStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return PaymentStatus.choices

    def queryset(self, request, queryset):
        if self.value() in PaymentStatus.values:
            return queryset.filter(selectors.payment_status_q(self.value()))
        return queryset


@admin.register(Payment)
class PaymentAdmin(PlatformModelAdmin):
    list_display = (
        "payment_id",
        "customer",
        "amount",
        "due_date",
        "paid_date",
        "status_badge",
        "overdue_days",
    )
    list_filter = (PaymentStatusFilter, "due_date")
    search_fields = ("payment_id", "customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer", "contract")
    readonly_fields = ("payment_id", "created_at", "updated_at")
    fields = (
        "payment_id",
        "customer",
        "contract",
        "amount",
        "due_date",
        "paid_date",
        "created_at",
        "updated_at",
    )
    actions = ("mark_paid_today",)
    date_hierarchy = "due_date"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "customer") if obj is not None else self.readonly_fields

    @admin.display(description="status")
    def status_badge(self, payment: Payment):
        status = payment.status_on(selectors.today(), conf.FINANCE_OVERDUE_GRACE_DAYS)
        return _badge(STATUS_COLOURS[status], PaymentStatus(status).label)

    @admin.display(description="days overdue")
    def overdue_days(self, payment: Payment) -> int:
        return payment.days_overdue(selectors.today(), conf.FINANCE_OVERDUE_GRACE_DAYS)

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in services.PAYMENT_FIELDS if name in form.cleaned_data
        }
        if change:
            saved = services.payment_update(payment=Payment.objects.get(pk=obj.pk), data=data)
        else:
            saved = services.payment_create(customer=form.cleaned_data["customer"], **data)
        obj.pk, obj.payment_id = saved.pk, saved.payment_id

    def delete_model(self, request, obj):
        services.payment_delete(payment=obj)

    def delete_queryset(self, request, queryset):
        for payment in queryset:
            services.payment_delete(payment=payment)

    @admin.action(description="Mark as paid today")
    def mark_paid_today(self, request, queryset):
        today = selectors.today()
        paid = 0
        for payment in queryset.filter(paid_date__isnull=True):
            services.payment_update(payment=payment, data={"paid_date": today})
            paid += 1
        self.message_user(request, f"{paid} payment(s) marked as paid today.", messages.SUCCESS)


@admin.register(PaymentStanding)
class PaymentStandingAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "changed_at"
    list_display = ("customer", "is_overdue", "overdue_since", "payment", "changed_at", "event_id")
    list_filter = ("is_overdue",)
    search_fields = ("customer__customer_id", "customer__name")
    list_select_related = ("customer", "payment")
    show_full_result_count = False


@admin.register(ValueReport)
class ValueReportAdmin(PlatformModelAdmin):
    """Reports are kept as written: add one, never edit it."""

    list_display = ("value_report_id", "customer", "realized_value", "reported_at")
    search_fields = ("value_report_id", "customer__customer_id", "customer__name")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    fields = ("customer", "realized_value", "reported_at", "note")
    date_hierarchy = "reported_at"
    show_full_result_count = False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        saved = services.value_report_create(
            customer=form.cleaned_data["customer"],
            realized_value=form.cleaned_data["realized_value"],
            reported_at=form.cleaned_data.get("reported_at"),
            note=form.cleaned_data.get("note", ""),
        )
        obj.pk, obj.value_report_id = saved.pk, saved.value_report_id


class ForecastLineInline(TabularInline):
    model = ForecastLine
    extra = 0
    can_delete = False
    fields = (
        "position",
        "customer_id",
        "renewal_value",
        "renewal_probability",
        "expansion_value",
        "expansion_probability",
        "risk_adjusted_value",
        "risk_factors",
    )
    readonly_fields = fields
    max_num = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Forecast)
class ForecastAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "created_at"
    list_display = (
        "forecast_id",
        "forecast_period",
        "submitted_total",
        "computed_total",
        "submitted_risk_adjusted",
        "computed_risk_adjusted",
        "discrepancy_count",
        "created_at",
    )
    list_filter = ("forecast_period",)
    search_fields = ("forecast_id", "forecast_period", "submitted_by")
    readonly_fields = (
        "forecast_id",
        "forecast_period",
        "period_start",
        "period_end",
        "submitted_by",
        "created_at",
        "recomputation",
        "discrepancy_table",
    )
    fields = readonly_fields
    inlines = (ForecastLineInline,)
    show_full_result_count = False

    @staticmethod
    def _figure(data: dict, name: str) -> str:
        value = data.get(name)
        return "-" if value is None else f"{value:,.2f}"

    @admin.display(description="submitted total")
    def submitted_total(self, forecast: Forecast) -> str:
        return self._figure(forecast.submitted, "total_forecasted_revenue")

    @admin.display(description="computed total")
    def computed_total(self, forecast: Forecast) -> str:
        return self._figure(forecast.computed, "total_forecasted_revenue")

    @admin.display(description="submitted risk-adjusted")
    def submitted_risk_adjusted(self, forecast: Forecast) -> str:
        return self._figure(forecast.submitted, "risk_adjusted_value")

    @admin.display(description="computed risk-adjusted")
    def computed_risk_adjusted(self, forecast: Forecast) -> str:
        return self._figure(forecast.computed, "risk_adjusted_value")

    @admin.display(description="discrepancies")
    def discrepancy_count(self, forecast: Forecast):
        count = len(forecast.discrepancies)
        return _badge("#d1242f" if count else "#1a7f37", str(count))

    @admin.display(description="submitted and recomputed")
    def recomputation(self, forecast: Forecast):
        names = sorted(set(forecast.submitted) | set(forecast.computed))
        return format_html(
            "<table><tr><th>figure</th><th>submitted</th><th>computed by the server</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (name, forecast.submitted.get(name, "-"), forecast.computed.get(name, "-"))
                    for name in names
                ),
            ),
        )

    @admin.display(description="discrepancies")
    def discrepancy_table(self, forecast: Forecast):
        if not forecast.discrepancies:
            return "None: every submitted aggregate is within its tolerance."
        return format_html(
            "<table><tr><th>field</th><th>submitted</th><th>computed</th><th>difference</th><th>tolerance</th>"
            "</tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        item["field"],
                        item["submitted"],
                        item["computed"],
                        item["difference"],
                        item["tolerance"],
                    )
                    for item in forecast.discrepancies
                ),
            ),
        )


@admin.register(RenewalModelFit)
class RenewalModelFitAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "fitted_at"
    list_display = (
        "fitted_at",
        "basis",
        "outcomes",
        "training_outcomes",
        "holdout_outcomes",
        "brier_score",
        "baseline_brier_score",
    )
    list_filter = ("basis",)
    readonly_fields = (
        "fitted_at",
        "basis",
        "coefficients",
        "outcomes",
        "renewed_outcomes",
        "training_outcomes",
        "holdout_outcomes",
        "brier_score",
        "baseline_brier_score",
        "iterations",
    )
    actions = ("refit_now",)

    @admin.action(description="Refit the renewal model now (in the background)")
    def refit_now(self, request, queryset):
        enqueue_after_commit("finance.recompute_renewal_model")
        self.message_user(request, "The renewal model will be refitted by the bulk worker.", messages.SUCCESS)


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("revenue", "finance.contract", title="Contracts", icon="contract", order=30)
register_navigation_item("revenue", "finance.payment", title="Payments", icon="payments", order=35)
register_navigation_item("revenue", "finance.forecast", title="Forecasts", icon="query_stats", order=40)
register_navigation_item("revenue", "finance.valuereport", title="Value reports", icon="savings", order=45)
