"""Webhook endpoints (per OAuth client), messages (one per event), deliveries (one per message and endpoint)
and the attempts of each delivery."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from csintegration.encryption.fields import EncryptedTextField
from csintegration.ids import new_id

ALL_EVENTS = "*"


def new_endpoint_id() -> str:
    return new_id("ep")


def new_message_id() -> str:
    return new_id("msg")


def new_delivery_id() -> str:
    return new_id("dlv")


class DisabledReason(models.TextChoices):
    GONE = "gone", "Receiver answered 410 Gone"
    FAILING = "failing", "Every delivery failed for too long"
    MANUAL = "manual", "Disabled by its owner or an operator"


class WebhookEndpoint(models.Model):
    """A receiver URL registered by an OAuth client, with the event types it wants and its signing secret."""

    id = models.CharField(primary_key=True, max_length=40, default=new_endpoint_id, editable=False)
    client = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    #: event type names, or ["*"] for every type
    event_types = models.JSONField(default=list)
    secret = EncryptedTextField(help_text="whsec_…; shown once, at creation and on rotation")
    #: the secret replaced by the last rotation: deliveries are signed with it too until it expires
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=20, choices=DisabledReason.choices, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    #: start of the current run of failed attempts (null after any success)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (models.Index(fields=("client", "-created_at"), name="webhooks_endpoint_client_idx"),)
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"{self.id} → {self.url}"

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types


class Message(models.Model):
    """One event as sent to receivers: the ``webhook-id`` and the exact body, the same on every retry."""

    id = models.CharField(primary_key=True, max_length=40, default=new_message_id, editable=False)
    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=64, db_index=True)
    customer_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    #: the JSON body, serialised once so every attempt signs and sends the same bytes
    body = models.TextField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.id} ({self.event_type})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One message to one endpoint: its state, its schedule and its lease while queued or in flight."""

    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    #: copied from the message so the per-endpoint list filters without a join
    event_type = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    #: every attempt made, across replays
    attempt_count = models.PositiveIntegerField(default=0)
    #: attempts since the delivery was created or last replayed: the position in the retry schedule
    schedule_position = models.PositiveIntegerField(default=0)
    #: when a pending delivery is due (null once it succeeded or failed)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    #: the lease of whoever queued or is sending it; a lapsed lease lets the dispatcher take it over
    lease_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    #: set while a worker is sending; still set when a new claim finds it, the worker died mid-attempt
    in_flight_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "deliveries"
        constraints = (
            models.UniqueConstraint(fields=("message", "endpoint"), name="webhooks_delivery_unique"),
        )
        indexes = (
            models.Index(
                fields=("next_attempt_at",), name="webhooks_delivery_due_idx", condition=Q(status="pending")
            ),
            models.Index(fields=("endpoint", "-created_at"), name="webhooks_delivery_endpoint_idx"),
            models.Index(fields=("endpoint", "status", "created_at"), name="webhooks_delivery_status_idx"),
        )

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class Attempt(models.Model):
    """One HTTP request of a delivery and what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="The first KB of the response body")
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("delivery", "number")
        constraints = (
            models.UniqueConstraint(fields=("delivery", "number"), name="webhooks_attempt_unique"),
        )

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class EndpointSlot(models.Model):
    """One of an endpoint's ``WEBHOOK_ENDPOINT_CONCURRENCY`` places for an attempt in flight.

    A claim takes free slots with ``FOR UPDATE SKIP LOCKED``, so claims of one endpoint never wait for
    each other, and no two attempts hold one slot: the limit is exact under concurrency without a lock
    that every claim queues on. An attempt gives its slot back when it is recorded; a slot whose
    attempt was lost (its worker died) is free again when its lease lapses, with the delivery's.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveSmallIntegerField()
    #: the delivery whose attempt holds the slot, and the claim it was taken by (empty when free)
    delivery_id = models.CharField(max_length=40, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("endpoint", "number"), name="webhooks_slot_unique"),)
        verbose_name = "endpoint slot"

    def __str__(self) -> str:
        return f"{self.endpoint_id} slot {self.number}"
