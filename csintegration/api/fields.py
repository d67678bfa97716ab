"""Serializer fields every app shares: prefixed ids, and strict JSON numbers and labels."""

import math
import re

from django.core.validators import RegexValidator
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
