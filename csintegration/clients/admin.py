"""Back-office for OAuth clients: scopes, IPs and quotas editable; secrets shown once."""

from django.contrib import admin, messages
from django.utils.html import format_html

from csintegration.adminsite.modeladmin import PlatformModelAdmin
from csintegration.adminsite.navigation import register_navigation_item

from .models import IntegrationClient
from .services import client_rotate_secrets


class IntegrationClientAdmin(PlatformModelAdmin):
    date_hierarchy = "created"
    list_display = (
        "name",
        "client_id",
        "authorization_grant_type",
        "scopes",
        "allowed_ips",
        "is_active",
        "created",
    )
    list_filter = ("authorization_grant_type", "is_active")
    search_fields = ("name", "client_id", "description")
    readonly_fields = ("client_id", "created", "updated")
    actions = ("rotate_secrets",)
    fields = (
        "name",
        "description",
        "client_id",
        "is_active",
        "authorization_grant_type",
        "client_type",
        "redirect_uris",
        "post_logout_redirect_uris",
        "scopes",
        "allowed_ips",
        "rate_limits",
        "user",
        "skip_authorization",
        "created",
        "updated",
    )
    raw_id_fields = ("user",)

    def _show_secrets_once(self, request, client, client_secret: str, signing_secret: str) -> None:
        messages.warning(
            request,
            format_html(
                "Credentials of <b>{}</b>, shown only now: client_id <code>{}</code>, client_secret "
                "<code>{}</code>, signing_secret <code>{}</code>",
                client.name,
                client.client_id,
                client_secret,
                signing_secret,
            ),
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:  # a new client gets its secrets from the same service as the command line
            issued = client_rotate_secrets(client=obj)
            self._show_secrets_once(request, obj, issued.client_secret, issued.signing_secret)

    @admin.action(description="Rotate client and signing secrets (shown once)")
    def rotate_secrets(self, request, queryset):
        for client in queryset:
            issued = client_rotate_secrets(client=client)
            self._show_secrets_once(request, client, issued.client_secret, issued.signing_secret)


__all__ = ["IntegrationClient", "IntegrationClientAdmin"]


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item(
    "integrations", "clients.integrationclient", title="OAuth clients", icon="key", order=40
)
