"""One row per API or OAuth call, written for refused and failed calls too; never a body or a secret."""

from django.db import models
from django.utils import timezone


class ApiCall(models.Model):
    time = models.DateTimeField(default=timezone.now, db_index=True, help_text="When the call arrived")
    client_id = models.CharField(max_length=100, blank=True, help_text="OAuth client, if one was identified")
    user = models.CharField(max_length=150, blank=True, help_text="The token's resource owner, if any")
    scopes = models.TextField(blank=True, help_text="The token's scopes")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2048, help_text="The path, without its query string")
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField(help_text="Time spent serving the call, in milliseconds")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = "API call"
        ordering = ("-time",)
        indexes = [
            models.Index(fields=["client_id", "time"], name="audit_client_time"),
            models.Index(fields=["status", "time"], name="audit_status_time"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"
