"""Back-office view of accepted request signatures (read-only)."""

from django.contrib import admin

from .models import SeenSignature


@admin.register(SeenSignature)
class SeenSignatureAdmin(admin.ModelAdmin):
    list_display = ("seen_at", "client_id", "method", "path", "signed_at")
    list_filter = ("method",)
    search_fields = ("client_id", "path", "digest")
    date_hierarchy = "seen_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
