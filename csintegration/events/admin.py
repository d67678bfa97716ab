"""The event log in the back-office: read-only, with per-subscriber receipts and a re-dispatch action."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from csintegration.adminsite.modeladmin import PlatformModelAdmin, TabularInline
from csintegration.adminsite.navigation import register_navigation_item

from . import services
from .models import Event, EventReceipt
from .types import event_types


class EventTypeFilter(admin.SimpleListFilter):
    """The registered types (not a DISTINCT over the whole log)."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(event_type.name, event_type.name) for event_type in event_types()]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class DispatchedFilter(admin.SimpleListFilter):
    title = "dispatched"
    parameter_name = "dispatched"

    def lookups(self, request, model_admin):
        return (("yes", "Dispatched"), ("no", "Waiting in the outbox"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(dispatched_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(dispatched_at__isnull=True)
        return queryset


class EventReceiptInline(TabularInline):
    model = EventReceipt
    extra = 0
    can_delete = False
    fields = ("subscriber", "attempts", "completed_at", "last_error", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(PlatformModelAdmin):
    list_display = (
        "event_id",
        "event_type",
        "customer_id",
        "occurred_at",
        "dispatched_at",
        "dispatch_attempts",
    )
    list_filter = (EventTypeFilter, DispatchedFilter)
    date_hierarchy = "occurred_at"
    search_fields = ("=event_id", "=customer_id")
    ordering = ("-occurred_at", "-event_id")
    readonly_fields = (
        "event_id",
        "event_type",
        "customer_id",
        "occurred_at",
        "created_at",
        "dispatched_at",
        "dispatch_attempts",
        "enqueue_count",
        "next_attempt_at",
        "last_error",
        "payload_pretty",
    )
    fields = readonly_fields
    inlines = (EventReceiptInline,)
    actions = ("redispatch",)
    show_full_result_count = False  # the log is large; skip the second COUNT(*)

    @admin.display(description="payload")
    def payload_pretty(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.action(description="Re-dispatch the selected events to their subscribers", permissions=["change"])
    def redispatch(self, request, queryset) -> None:
        count = services.events_redispatch(event_ids=queryset.values_list("event_id", flat=True))
        self.message_user(request, f"{count} event(s) sent to the fan-out again.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The log is read-only: the change permission only gates the re-dispatch action of the list.
        return obj is None and super().has_change_permission(request)


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item("integrations", "events.event", title="Event log", icon="event_note", order=10)
