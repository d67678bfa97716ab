"""Serializer fields every app shares, each read exactly as the OpenAPI document states: prefixed ids,
strict JSON numbers, decimals and labels."""

import decimal
import math
import re
from decimal import Decimal

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from csintegration.ids import ID_MAX_LENGTH, id_pattern


def prefixed_id_validator(prefix: str) -> RegexValidator:
    return RegexValidator(
        rf"^{id_pattern(prefix)}\Z",
        f"An id is '{prefix}_' followed by letters, digits, '_' or '-' "
        f"(at most {ID_MAX_LENGTH} characters in all).",
        code="invalid_id",
    )


class PrefixedIdField(serializers.CharField):
    """An id such as ``cust_12345``: its prefix, then letters, digits, '_' or '-'."""

    def __init__(self, *, prefix: str, **kwargs) -> None:
        self.prefix = prefix
        kwargs.setdefault("max_length", ID_MAX_LENGTH)
        kwargs.setdefault("help_text", f"`{prefix}_…`")
        super().__init__(**kwargs)
        self.validators.append(prefixed_id_validator(prefix))


class StrictFloatField(serializers.FloatField):
    """A JSON number: no booleans, no strings, no NaN or infinity."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no booleans, no strings, no fractions."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not data.is_integer():
            self.fail("invalid")
        return super().to_internal_value(data)


LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")

label_validator = RegexValidator(
    LABEL_PATTERN, "Use 1 to 100 letters, digits, '_', '.', ':' or '-'.", code="invalid_label"
)


class LabelField(serializers.CharField):
    """A machine label such as ``decreased_usage`` or ``schedule_check_in``."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(**kwargs)
        self.validators.append(label_validator)


class StrictDecimalField(serializers.DecimalField):
    """A JSON number (never a string or a boolean) within ``min_value`` and the largest value that
    ``max_digits``/``decimal_places`` hold, rounded half-even to ``decimal_places``.

    A money amount sent with more decimals than it keeps (``12.345``, or a float's ``0.30000000000000004``)
    is rounded rather than refused: the range is what the schema promises, and a client computing in
    floating point cannot always send exactly two decimals.
    """

    default_error_messages = {"invalid": "A number is required (not a string)."}

    def largest(self) -> Decimal:
        return Decimal(10) ** (self.max_digits - self.decimal_places) - Decimal(10) ** -self.decimal_places

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        value = Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
        if self.min_value is not None and value < Decimal(str(self.min_value)):
            self.fail("min_value", min_value=self.min_value)
        maximum = (
            self.largest() if self.max_value is None else min(self.largest(), Decimal(str(self.max_value)))
        )
        if value > maximum:
            self.fail("max_value", max_value=maximum)
        return value.quantize(Decimal(10) ** -self.decimal_places, rounding=decimal.ROUND_HALF_EVEN)


class StrictDecimalFieldSchema(OpenApiSerializerFieldExtension):
    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        maximum = (
            field.largest()
            if field.max_value is None
            else min(field.largest(), Decimal(str(field.max_value)))
        )
        schema = {"type": "number", "maximum": float(maximum)}
        if field.min_value is not None:
            schema["minimum"] = float(field.min_value)
        return schema


class UniqueListField(serializers.ListField):
    """A list whose values may each appear once; the schema says so (``uniqueItems``)."""

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if len(set(values)) != len(values):
            raise serializers.ValidationError("Each value may appear once.", code="duplicate")
        return values


class UniqueListFieldSchema(OpenApiSerializerFieldExtension):
    target_class = UniqueListField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        # drf-spectacular's own array mapping (items with their validators, min/maxItems), plus the rule.
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "uniqueItems": True}
