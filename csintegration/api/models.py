"""Stored idempotency records, so a retried POST is answered the same by any web process."""

from django.db import models

from csintegration.encryption.fields import EncryptedTextField


class IdempotencyRecord(models.Model):
    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    client_key = models.CharField(max_length=128, help_text="The OAuth client the key belongs to")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body")
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The JSON of the first answer, encrypted: answers may carry secrets shown only once (a webhook's
    # whsec_ secret at creation and rotation), which must not sit in clear beside their encrypted column.
    response_body = EncryptedTextField(blank=True, default="")
    response_content_type = models.CharField(max_length=100, blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client_key", "key"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.client_key}:{self.key}"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker reported in; the health check reads it."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.hostname
