"""A faster ``Serializer.to_representation`` for the serializers that answer lists.

DRF's own loop asks every field, for every row, for its attribute through ``Field.get_attribute`` (a walk
of ``source_attrs`` with its exception handling) and re-reads the readable fields each time. A list of 50
customers spent most of its serializer time there. ``PlannedRepresentationMixin`` works out once per
serializer instance (a list reuses one child for every row) how each readable field reads its value:

- a plain attribute (one source attribute, the field's ``get_attribute`` is DRF's own): ``getattr``;
- the whole object (``source="*"``, a nested serializer of the same row): the object itself;
- anything else (a dotted source, a method field, a field with its own ``get_attribute``): DRF's way.

Then each value goes through the field's own ``to_representation``, ``None`` staying ``None``, exactly as
DRF does. A mapping as the instance is read by key as DRF reads it; a key or attribute that is missing, or
a callable value, takes DRF's path.

The plan is kept on the class when nothing of it can depend on the instance or its context: the
serializer class builds its fields as DRF does (neither ``__init__`` nor ``get_fields`` of its own), and
every field is a plain attribute whose ``to_representation`` is one of DRF's context-free ones, or a
nested serializer of the same row whose plan is kept too. A serializer answering one row (a detail
view) then never builds its fields: DRF deep-copies every declared field for each new serializer, which
cost a detail request more than the rest of its serialization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import fields as drf_fields
from rest_framework import serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject

_PLAIN, _WHOLE, _GENERIC = 0, 1, 2

#: DRF's ``to_representation`` functions that read nothing but the value and the field's own options
_CONTEXT_FREE = {
    cls.to_representation
    for cls in (
        drf_fields.BooleanField,
        drf_fields.CharField,
        drf_fields.ChoiceField,
        drf_fields.DateField,
        drf_fields.DateTimeField,
        drf_fields.DecimalField,
        drf_fields.FloatField,
        drf_fields.IntegerField,
        drf_fields.UUIDField,
    )
}


class PlannedRepresentationMixin:
    """Mix into a ``serializers.Serializer``; the output is the one DRF's ``to_representation`` gives."""

    def _representation_plan(self) -> list[tuple[str, int, str | None, Field]]:
        plan = self.__dict__.get("_planned_fields") or type(self).__dict__.get("_shared_plan")
        if plan is None:
            plan = []
            for field in self._readable_fields:
                own_getter = type(field).get_attribute is not Field.get_attribute
                if not own_getter and field.source == "*":
                    plan.append((field.field_name, _WHOLE, None, field))
                elif not own_getter and len(field.source_attrs) == 1:
                    plan.append((field.field_name, _PLAIN, field.source_attrs[0], field))
                else:
                    plan.append((field.field_name, _GENERIC, None, field))
            self.__dict__["_planned_fields"] = plan
            if _shareable(type(self), plan):
                type(self)._shared_plan = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        mapping = isinstance(instance, Mapping)
        result: dict[str, Any] = {}
        for name, kind, attribute, field in self._representation_plan():
            if kind == _PLAIN:
                try:
                    value = instance[attribute] if mapping else getattr(instance, attribute)
                except Exception:  # a missing attribute or related row: DRF's rules (default, skip, None)
                    return super().to_representation(instance)
                if callable(value):
                    return super().to_representation(instance)
            elif kind == _WHOLE:
                value = instance
            else:
                try:
                    value = field.get_attribute(instance)
                except SkipField:
                    continue
            check = value.pk if isinstance(value, PKOnlyObject) else value
            result[name] = None if check is None else field.to_representation(value)
        return result


def _shareable(cls: type, plan: list[tuple[str, int, str | None, Field]]) -> bool:
    """Whether ``plan``, built on one instance of ``cls``, holds for every instance (see the module)."""
    if cls.__init__ is not serializers.BaseSerializer.__init__:
        return False
    if cls.get_fields is not serializers.Serializer.get_fields:
        return False
    for _, kind, _, field in plan:
        if kind == _PLAIN and type(field).to_representation in _CONTEXT_FREE:
            continue
        if kind == _WHOLE and isinstance(field, PlannedRepresentationMixin):
            field._representation_plan()
            if "_shared_plan" in type(field).__dict__:
                continue
        return False
    return True
