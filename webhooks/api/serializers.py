"""Representations of webhook endpoints, deliveries and attempts."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField
from csintegration.events.types import event_type_names

from .. import endpoints
from ..models import ALL_EVENTS, Attempt, Delivery, DisabledReason, WebhookEndpoint


class EventTypesField(serializers.ListField):
    """``["*"]``, or one or more event types (repeats are ignored)."""


class EventTypesFieldSchema(OpenApiSerializerFieldExtension):
    """The registered types when the document is generated (apps register theirs at start-up)."""

    target_class = EventTypesField

    def map_serializer_field(self, auto_schema, direction):
        return {
            "oneOf": [
                {"type": "array", "items": {"type": "string", "enum": [ALL_EVENTS]}, "minItems": 1},
                {"type": "array", "items": {"type": "string", "enum": event_type_names()}, "minItems": 1},
            ]
        }


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as listed and read: never its secret."""

    events = EventTypesField(
        child=serializers.CharField(max_length=64),
        source="event_types",
        help_text=(
            'Event types to receive (`GET …/webhooks/event-types` lists them), or ["*"] for every type '
            "the client may read. Each type needs its read scope (`<area>:read`) on the client: 403 "
            "otherwise."
        ),
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
        return endpoints.validate_event_types(value)

    def validate_url(self, value: str) -> str:
        if self.instance is not None and value == self.instance.url:
            return value
        return endpoints.validate_endpoint_url(value)

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


class EventTypeSerializer(serializers.Serializer):
    """One entry of the event catalogue."""

    name = serializers.CharField(help_text="What `events` of an endpoint names, and the body's `event`")
    label = serializers.CharField()
    description = serializers.CharField()
    area = serializers.CharField(help_text="The receiving client needs the scope `<area>:read`")
    scope = serializers.CharField(source="read_scope", help_text="The read scope a receiver needs")
    critical = serializers.BooleanField(help_text="Fanned out on the dedicated critical queue")
    readable = serializers.BooleanField(help_text="Whether this client holds the scope")
    example = serializers.JSONField(source="example_body", help_text="A whole delivered body")
    schema = serializers.JSONField(source="body_schema", help_text="JSON schema of the delivered body")
    openapi_component = serializers.CharField(help_text="The same schema in this API's OpenAPI document")
