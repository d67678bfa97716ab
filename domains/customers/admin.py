"""Back-office over customers: filters by risk, stage, segment and score; colour-coded risk."""

from django.contrib import admin
from django.utils.html import format_html

from . import services
from .models import Customer, RiskLevel

RISK_COLOURS = {
    RiskLevel.LOW: "#1a7f37",
    RiskLevel.MEDIUM: "#9a6700",
    RiskLevel.HIGH: "#d1242f",
    RiskLevel.CRITICAL: "#82071e",
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


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "customer_id",
        "segment",
        "health_score",
        "risk_badge",
        "health_trend",
        "lifecycle_stage",
        "arr",
        "success_manager",
        "updated_at",
    )
    list_filter = ("risk_level", "lifecycle_stage", "segment", "health_trend", HealthScoreBandFilter)
    search_fields = ("name", "customer_id", "success_manager")
    readonly_fields = ("customer_id", "created_at", "updated_at")
    list_per_page = 50
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

    @admin.display(description="risk", ordering="risk_level")
    def risk_badge(self, customer: Customer):
        return format_html(
            '<span style="color:#fff;background:{};padding:2px 8px;border-radius:8px">{}</span>',
            RISK_COLOURS.get(customer.risk_level, "#57606a"),
            customer.get_risk_level_display(),
        )

    # Writes go through the same services as the API, so both publish the same events.
    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in services.WRITABLE_FIELDS if name in form.cleaned_data
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
