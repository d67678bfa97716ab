"""The audit log in the back-office: searchable and filterable, and read-only."""

from django.contrib import admin

from csintegration.adminsite.modeladmin import PlatformModelAdmin
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ReadOnlyAdminMixin

from .models import ApiCall


class StatusClassFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return (
            ("2xx", "2xx success"),
            ("3xx", "3xx redirect"),
            ("4xx", "4xx refused"),
            ("5xx", "5xx failed"),
        )

    def queryset(self, request, queryset):
        if self.value() in {"2xx", "3xx", "4xx", "5xx"}:
            low = int(self.value()[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("time", "method", "path", "status", "client_id", "user", "latency_ms", "client_address")
    list_filter = (StatusClassFilter, "status", "method", "client_id")
    search_fields = ("path", "client_id", "request_id", "user", "client_address")
    date_hierarchy = "time"
    show_full_result_count = False
    list_per_page = 100


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("security", "audit.apicall", title="Audit log", icon="policy", order=10)
