"""Back-office of webhooks: endpoints (rotate secret, replay failed), messages, deliveries with attempts."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone

from csintegration.adminsite.modeladmin import ActionForm, PlatformModelAdmin, TabularInline, action, display
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ViewOnlyAdminMixin

from . import deliveries, endpoints
from .models import Attempt, Delivery, DeliveryStatus, Message, WebhookEndpoint

#: unfold's label colours per delivery status
STATUS_LABELS = {
    DeliveryStatus.PENDING: "warning",
    DeliveryStatus.SUCCEEDED: "success",
    DeliveryStatus.FAILED: "danger",
}


class ReplaySinceActionForm(ActionForm):
    since = forms.DateTimeField(
        required=False,
        help_text="Replay failed deliveries created since (default: 24 hours ago)",
        widget=forms.DateTimeInput(attrs={"placeholder": "since YYYY-MM-DD HH:MM"}),
    )


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "event_types", "description")

    def clean_url(self):
        return endpoints.validate_endpoint_url(self.cleaned_data["url"])

    def clean_event_types(self):
        return endpoints.validate_event_types(self.cleaned_data["event_types"])

    def clean(self):
        cleaned = super().clean()
        client = cleaned.get("client") or getattr(self.instance, "client", None)
        if client is not None and cleaned.get("event_types"):
            try:
                endpoints.check_event_type_scopes(
                    cleaned["event_types"], scopes=endpoints.client_scopes(client)
                )
            except endpoints.MissingScope as exc:
                self.add_error("event_types", str(exc))
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(PlatformModelAdmin):
    date_hierarchy = "created_at"
    form = WebhookEndpointForm
    action_form = ReplaySinceActionForm
    list_display = (
        "id",
        "client",
        "url",
        "events",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "created_at",
    )
    list_filter = ("is_active", "disabled_reason")
    search_fields = ("id", "url", "client__name", "client__client_id")
    list_select_related = ("client",)
    readonly_fields = (
        "id",
        "is_active",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    actions = ("rotate_secret", "replay_failed", "enable", "disable")

    @admin.display(description="events")
    def events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)

    def get_fields(self, request, obj=None):
        fields = ["client", "url", "event_types", "description"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            endpoints.endpoint_update(
                endpoint=WebhookEndpoint.objects.get(pk=obj.pk),
                data={name: data[name] for name in ("url", "event_types", "description")},
            )
            return
        endpoint, secret = endpoints.endpoint_create(
            client=data["client"],
            url=data["url"],
            event_types=data["event_types"],
            description=data["description"],
        )
        obj.pk = endpoint.pk
        messages.warning(request, f"The signing secret of {endpoint.pk}, shown only now: {secret}")

    def delete_model(self, request, obj):
        endpoints.endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoints.endpoint_delete(endpoint=endpoint)

    @admin.action(description="Rotate the signing secret (the new one is shown once)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            secret = endpoints.endpoint_rotate_secret(endpoint=endpoint)
            messages.warning(request, f"New signing secret of {endpoint.pk}, shown only now: {secret}")

    @admin.action(description="Replay failed deliveries since the time given (default 24 h)")
    def replay_failed(self, request, queryset):
        since = request.POST.get("since")
        try:
            since = forms.DateTimeField().clean(since) if since else timezone.now() - timedelta(hours=24)
        except forms.ValidationError:
            messages.error(request, "The 'since' time is not a valid date and time.")
            return
        for endpoint in queryset:
            try:
                ids = deliveries.endpoint_replay_failed(endpoint=endpoint, since=since)
            except deliveries.WebhookConflict as exc:
                messages.error(request, f"{endpoint.pk}: {exc}")
                continue
            messages.success(request, f"{endpoint.pk}: {len(ids)} failed deliveries queued again.")

    @admin.action(description="Re-enable")
    def enable(self, request, queryset):
        for endpoint in queryset.filter(is_active=False):
            endpoints.endpoint_enable(endpoint=endpoint)

    @admin.action(description="Disable")
    def disable(self, request, queryset):
        for endpoint in queryset.filter(is_active=True):
            endpoints.endpoint_disable(endpoint=endpoint, reason="manual", notify=False)


class DeliveryInline(TabularInline):
    model = Delivery
    fields = ("id", "endpoint", "status", "attempt_count", "last_status_code", "next_attempt_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    date_hierarchy = "occurred_at"
    list_display = ("id", "event_type", "customer_id", "event_id", "occurred_at", "created_at")
    list_filter = ("event_type",)
    search_fields = ("id", "event_id", "customer_id")
    readonly_fields = ("id", "event_id", "event_type", "customer_id", "body", "occurred_at", "created_at")
    inlines = (DeliveryInline,)


class AttemptInline(TabularInline):
    model = Attempt
    fields = ("number", "status_code", "succeeded", "duration_ms", "error", "response_excerpt", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(PlatformModelAdmin):
    date_hierarchy = "created_at"
    list_display = (
        "id",
        "endpoint",
        "event_type",
        "status_badge",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = (
        "id",
        "message__id",
        "message__event_id",
        "message__customer_id",
        "endpoint__id",
        "endpoint__url",
    )
    list_select_related = ("endpoint",)
    readonly_fields = (
        "id",
        "message",
        "endpoint",
        "event_type",
        "status",
        "attempt_count",
        "schedule_position",
        "next_attempt_at",
        "lease_expires_at",
        "in_flight_since",
        "last_status_code",
        "last_error",
        "last_attempt_at",
        "succeeded_at",
        "replay_count",
        "created_at",
        "updated_at",
    )
    exclude = ("lease_token",)
    inlines = (AttemptInline,)
    actions = ("replay",)
    actions_detail = ("replay_this",)
    show_full_result_count = False

    @display(description="status", ordering="status", label=STATUS_LABELS)
    def status_badge(self, delivery: Delivery):
        return delivery.status, delivery.get_status_display()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Replay (send again with a fresh schedule)")
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset:
            try:
                deliveries.delivery_replay(delivery=delivery)
                replayed += 1
            except deliveries.WebhookConflict as exc:
                messages.error(request, f"{delivery.pk}: {exc}")
        if replayed:
            messages.success(request, f"{replayed} deliveries queued again.")

    @action(description="Replay", url_path="replay", icon="replay")
    def replay_this(self, request, object_id: str):
        """The delivery page's button: the same service as the list's action."""
        delivery = get_object_or_404(Delivery, pk=object_id)
        try:
            deliveries.delivery_replay(delivery=delivery)
            messages.success(request, f"{delivery.pk} queued again.")
        except deliveries.WebhookConflict as exc:
            messages.error(request, f"{delivery.pk}: {exc}")
        return redirect(reverse("admin:webhooks_delivery_change", args=[delivery.pk]))


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item(
    "integrations", "webhooks.webhookendpoint", title="Webhook endpoints", icon="webhook", order=20
)
register_navigation_item("integrations", "webhooks.delivery", title="Deliveries", icon="send", order=30)
register_navigation_item("integrations", "webhooks.message", title="Messages", icon="mail", order=35)
