"""Back-office view of accepted request signatures (read-only)."""

from django.contrib import admin

from csintegration.adminsite.modeladmin import PlatformModelAdmin
from csintegration.adminsite.navigation import register_navigation_item
from csintegration.adminsite.readonly import ViewOnlyAdminMixin

from .models import SeenSignature


@admin.register(SeenSignature)
class SeenSignatureAdmin(ViewOnlyAdminMixin, PlatformModelAdmin):
    list_display = ("seen_at", "client_id", "method", "path", "signed_at")
    list_filter = ("method",)
    search_fields = ("client_id", "path", "digest")
    date_hierarchy = "seen_at"


# Where these pages sit in the sidebar (csintegration/adminsite/navigation.py).
register_navigation_item(
    "security", "platform_auth.seensignature", title="Signatures", icon="signature", order=40
)
