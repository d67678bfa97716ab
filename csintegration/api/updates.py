"""What an update body may and must hold, stated once for the serializer and its OpenAPI schema.

- ``create_only_fields``: fields that a create sets and an update may only repeat (a segment's ``key``,
  the customer a contract belongs to). On an update a value other than the stored one is a 400 (code
  ``immutable``); the same value is accepted, so a client may send back what it read. The PATCH body
  of the OpenAPI document marks them ``readOnly``.
- ``NonEmptyBodyMixin``: a body must name at least one field (code ``empty``); the schema says
  ``minProperties: 1``.

``schema.PlatformAutoSchema`` reads both from the serializer.
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.settings import api_settings


class CreateOnlyFieldsMixin:
    create_only_fields: tuple[str, ...] = ()

    def to_internal_value(self, data):
        instance = getattr(self, "instance", None)
        if instance is not None and isinstance(data, Mapping):
            errors = {}
            for name in self.create_only_fields:
                if name in data and data[name] != self.fields[name].get_attribute(instance):
                    errors[name] = [f"{name} is set on creation and cannot be changed."]
            if errors:
                raise serializers.ValidationError(errors, code="immutable")
        return super().to_internal_value(data)


class NonEmptyBodyMixin:
    requires_some_field = True

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not data:
            names = ", ".join(name for name, field in self.fields.items() if not field.read_only)
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [f"Send at least one of {names}."]},
                code="empty",
            )
        return super().to_internal_value(data)


def create_only_field_names(serializer) -> tuple[str, ...]:
    return tuple(getattr(serializer, "create_only_fields", ()) or ())


def requires_some_field(serializer) -> bool:
    return bool(getattr(serializer, "requires_some_field", False))
