"""Request bodies are read exactly as the OpenAPI document describes them, by every DRF serializer of
every app (current and future):

- **Unknown fields are a 400**, as unknown query parameters are (``query.py``): DRF ignores a field no
  serializer field declares, so a misspelt one (``"healthScore"``) would be lost without a word. A
  declared read-only field (``created_at`` sent back from a GET) is still ignored; a serializer that
  takes free-form keys says so with ``allow_unknown_fields = True``.
- **JSON types are kept**: DRF would take ``"5"`` or ``true`` for a number, ``"yes"`` or ``1`` for a
  boolean and ``5`` for a string, none of which the schema admits.
- **Strings are taken as sent**: DRF trims them with Python's ``str.strip()`` (which also removes
  characters such as ``\x1c`` that JSON Schema does not call whitespace), so lengths and blankness
  would be judged on a string other than the one sent; a field may still ask for
  ``trim_whitespace=True``.

Installed once, by ``ApiConfig.ready()``: DRF has no setting for these, and a base class would have
to be remembered by every serializer of every app.
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

_installed = False


def unknown_fields(serializer: serializers.Serializer, data) -> list[str]:
    if getattr(serializer, "allow_unknown_fields", False) or not isinstance(data, Mapping):
        return []
    known = set(serializer.fields)
    return sorted(str(name) for name in data if name not in known)


def install() -> None:
    global _installed
    if _installed:
        return
    declared_to_internal_value = serializers.Serializer.to_internal_value

    def to_internal_value(self, data):
        unknown = unknown_fields(self, data)
        if unknown:
            known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
            raise ValidationError(
                {name: [f"Unknown field; this body takes: {known}."] for name in unknown},
                code="unknown_field",
            )
        return declared_to_internal_value(self, data)

    serializers.Serializer.to_internal_value = to_internal_value
    _keep_json_types()
    _installed = True


def _refusing(field_class, accepts) -> None:
    declared = field_class.to_internal_value

    def to_internal_value(self, data):
        if not accepts(data):
            self.fail("invalid")
        return declared(self, data)

    field_class.to_internal_value = to_internal_value


def _is_number(data) -> bool:
    return isinstance(data, int | float) and not isinstance(data, bool)


def _keep_json_types() -> None:
    _refusing(serializers.IntegerField, _is_number)
    _refusing(serializers.FloatField, _is_number)
    _refusing(serializers.BooleanField, lambda data: isinstance(data, bool))
    _refusing(serializers.CharField, lambda data: isinstance(data, str))
    declared_init = serializers.CharField.__init__

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        declared_init(self, **kwargs)

    serializers.CharField.__init__ = __init__
