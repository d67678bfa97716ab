"""Back-office view of accepted request signatures (read-only)."""

from django.contrib import admin

from csintegration.adminsite.readonly import ViewOnlyAdminMixin

from .models import SeenSignature


@admin.register(SeenSignature)
class SeenSignatureAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("seen_at", "client_id", "method", "path", "signed_at")
    list_filter = ("method",)
    search_fields = ("client_id", "path", "digest")
    date_hierarchy = "seen_at"
