"""Representations of webhook endpoints, deliveries and attempts."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField
from csintegration.events.models import EventType

from .. import services
from ..models import ALL_EVENTS, Attempt, Delivery, DisabledReason, WebhookEndpoint

EVENT_CHOICES = [ALL_EVENTS, *EventType.values]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string", "enum": [ALL_EVENTS]}, "minItems": 1},
            {"type": "array", "items": {"type": "string", "enum": list(EventType.values)}, "minItems": 1},
        ]
    }
)
class EventTypesField(serializers.ListField):
    """``["*"]``, or one or more event types (repeats are ignored)."""


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as listed and read: never its secret."""

    events = EventTypesField(
        child=serializers.CharField(max_length=64),
        source="event_types",
        help_text=f'Event types to receive, or ["*"] for all. One of: {", ".join(EVENT_CHOICES)}',
    )
    url = serializers.CharField(
        max_length=2000, help_text="https URL of the receiver; its host must resolve to public addresses"
    )
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    disabled_reason = serializers.ChoiceField(
        choices=DisabledReason.choices, read_only=True, allow_blank=True
    )
    secret_rotation_ends_at = serializers.DateTimeField(
        source="previous_secret_expires_at",
        read_only=True,
        allow_null=True,
        help_text="Until then deliveries carry a signature with the previous secret too",
    )

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "secret_rotation_ends_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "disabled_at", "created_at", "updated_at")
        extra_kwargs = {"is_active": {"required": False}}

    def validate_events(self, value: list[str]) -> list[str]:
        return services.validate_event_types(value)

    def validate_url(self, value: str) -> str:
        if self.instance is not None and value == self.instance.url:
            return value
        return services.validate_endpoint_url(value)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        expires = instance.previous_secret_expires_at
        if expires is None or expires <= timezone.now():
            data["secret_rotation_ends_at"] = None
        return data


class WebhookEndpointCreateSerializer(WebhookEndpointSerializer):
    """The answer to a registration: the endpoint and, this once, its secret."""

    secret = serializers.CharField(read_only=True, help_text="whsec_…: shown only now and on rotation")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class SecretRotationSerializer(serializers.Serializer):
    id = serializers.CharField()
    secret = serializers.CharField(help_text="The new whsec_… secret, shown only now")
    previous_secret_expires_at = serializers.DateTimeField(
        help_text="Until then deliveries are signed with both the new and the previous secret"
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = (
            "number",
            "status_code",
            "duration_ms",
            "response_excerpt",
            "error",
            "succeeded",
            "created_at",
        )


class DeliverySerializer(serializers.ModelSerializer):
    message_id = serializers.CharField(help_text="The webhook-id header: the same on every attempt")
    event_id = serializers.CharField(source="message.event_id")
    customer_id = serializers.CharField(source="message.customer_id", allow_null=True)
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "message_id",
            "event_id",
            "event_type",
            "customer_id",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_attempt_at",
            "succeeded_at",
            "replay_count",
            "created_at",
            "updated_at",
            "attempts",
        )
        read_only_fields = fields


class ReplayRequestSerializer(serializers.Serializer):
    since = RFC3339DateTimeField(help_text="Replay the failed deliveries created at or after this time")

    def validate_since(self, value):
        if value > timezone.now():
            raise serializers.ValidationError("'since' is in the future.", code="future")
        return value


class ReplayResponseSerializer(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="How many failed deliveries were queued again")
    delivery_ids = serializers.ListField(child=serializers.CharField())
