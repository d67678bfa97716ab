"""Representations of the event log."""

from rest_framework import serializers

from ..models import Event


class EventSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(
        help_text="A type of the event catalogue (`GET …/webhooks/event-types`)"
    )
    payload = serializers.JSONField(
        source="body", help_text="The body delivered to subscribers and webhooks", read_only=True
    )

    class Meta:
        model = Event
        fields = ("event_id", "event_type", "customer_id", "payload", "occurred_at", "dispatched_at")
        read_only_fields = fields
