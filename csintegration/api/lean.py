"""A lean validation path for the items of a bulk request: the rules of a DRF serializer, checked without
DRF's per-field machinery, for the items that pass them.

A bulk request validates up to thousands of items with one serializer (``bulk.py``); DRF's
``run_validation`` per item costs more than the write of the item. ``LeanValidator`` compiles a serializer's
writable fields once: a text, choice, integer, float or boolean field (DRF's own, as the strict JSON types of
``strict_bodies.py`` read them) is checked here, with its validators (lengths, ranges, forbidden characters
checked inline; any other validator called as DRF calls it); a nested serializer is compiled the same way;
any other field runs its own ``run_validation``. ``validate_<field>`` and ``validate()`` methods are called as
DRF calls them.

It only ever accepts: an item that fails a check here, or that the compiled path does not cover, is
validated by DRF itself, so an invalid item gets exactly DRF's errors, and a valid one exactly DRF's data
(tests/csintegration/test_lean_validation.py compares the two on generated items).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

from django.core import validators as django_validators
from rest_framework import serializers
from rest_framework.fields import Field, SkipField, empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class _Fallback(Exception):
    """The lean path does not decide this item: DRF validates it."""


_SURROGATES = re.compile("[\ud800-\udfff]")

_TEXT, _CHOICE, _INTEGER, _FLOAT, _BOOLEAN, _NESTED, _GENERIC = range(7)


def _fallback(*_args) -> None:
    raise _Fallback


def _validator_check(validator, field: Field) -> Callable[[Any], None]:
    """A check that raises ``_Fallback`` where ``validator`` would raise."""
    kind = type(validator)
    limit = getattr(validator, "limit_value", None)
    if not callable(limit):
        if kind is django_validators.MaxLengthValidator:
            return lambda value: _fallback() if len(value) > limit else None
        if kind is django_validators.MinLengthValidator:
            return lambda value: _fallback() if len(value) < limit else None
        if kind is django_validators.MaxValueValidator:
            return lambda value: _fallback() if value > limit else None
        if kind is django_validators.MinValueValidator:
            return lambda value: _fallback() if value < limit else None
    if kind is django_validators.ProhibitNullCharactersValidator:
        return lambda value: _fallback() if "\x00" in str(value) else None
    if kind is ProhibitSurrogateCharactersValidator:
        return lambda value: _fallback() if _SURROGATES.search(str(value)) else None
    with_context = getattr(validator, "requires_context", False)

    def check(value) -> None:
        try:
            validator(value, field) if with_context else validator(value)
        except Exception:
            raise _Fallback from None

    if with_context or kind.__module__ != django_validators.__name__:
        return check
    # Django's own validators (an e-mail address, a pattern) are pure functions of the value: a value seen
    # before in this batch (a success manager's address on many records) is not checked again.
    passed: set[str] = set()

    def remembered(value) -> None:
        if type(value) is not str:
            check(value)
        elif value not in passed:
            check(value)
            if len(passed) < _REMEMBERED:
                passed.add(value)

    return remembered


#: distinct values a validator of one batch remembers as passed
_REMEMBERED = 10_000


def _own(field: Field, name: str, owner: type) -> bool:
    return getattr(type(field), name) is getattr(owner, name)


def _kind(field: Field) -> int:
    """Which compiled check reads this field (``_GENERIC``: its own ``run_validation``). Each class method
    compared is DRF's (as strict_bodies.py installs it), so a subclass that changes one is generic."""
    plain = _own(field, "get_value", Field) and _own(field, "validate_empty_values", Field)
    if isinstance(field, serializers.Serializer):
        compiled = (
            _own(field, "run_validation", serializers.Serializer)
            and _own(field, "to_internal_value", serializers.Serializer)
            and _own(field, "get_value", serializers.Serializer)
            and _own(field, "validate_empty_values", Field)
            and not field.validators
        )
        return _NESTED if compiled else _GENERIC
    if not plain:
        return _GENERIC
    if (
        isinstance(field, serializers.CharField)
        and _own(field, "run_validation", serializers.CharField)
        and _own(field, "to_internal_value", serializers.CharField)
        and not field.trim_whitespace
    ):
        return _TEXT
    checked = (
        (serializers.ChoiceField, _CHOICE),
        (serializers.IntegerField, _INTEGER),
        (serializers.FloatField, _FLOAT),
        (serializers.BooleanField, _BOOLEAN),
    )
    for field_class, kind in checked:
        if (
            isinstance(field, field_class)
            and _own(field, "run_validation", Field)
            and _own(field, "to_internal_value", field_class)
        ):
            return kind
    return _GENERIC


class LeanValidator:
    """``serializer.run_validation(data)``, faster for the items that are valid (see the module)."""

    def __init__(self, serializer: serializers.Serializer) -> None:
        self.serializer = serializer
        self.partial = bool(getattr(serializer.root, "partial", False))
        self._plan = self._compile(serializer)

    def validate(self, data: Any) -> Any:
        try:
            return self._run(self._plan, data)
        except _Fallback:
            return self.serializer.run_validation(data)

    # -- compiled ----------------------------------------------------------------------------------------

    def _compile(self, serializer: serializers.Serializer):
        if serializer.validators or getattr(serializer, "many", False):
            return None
        known = None if getattr(serializer, "allow_unknown_fields", False) else frozenset(serializer.fields)
        validate = None
        if type(serializer).validate is not serializers.Serializer.validate:
            validate = serializer.validate
        steps = []
        for field in serializer._writable_fields:
            kind = _kind(field)
            nested = self._compile(field) if kind == _NESTED else None
            if kind == _NESTED and nested is None:
                kind = _GENERIC
            checks = [] if kind == _GENERIC else [_validator_check(v, field) for v in field.validators]
            steps.append(
                (
                    kind,
                    field,
                    field.field_name,
                    field.source_attrs,
                    checks,
                    nested,
                    getattr(serializer, f"validate_{field.field_name}", None),
                )
            )
        return known, steps, validate, serializer.set_value

    def _run(self, plan, data):
        if plan is None or type(data) is not dict:
            raise _Fallback
        known, steps, validate, set_value = plan
        if known is not None and not data.keys() <= known:
            raise _Fallback
        result: dict[str, Any] = {}
        for kind, field, name, source_attrs, checks, nested, validate_method in steps:
            value = data.get(name, empty)
            if kind == _GENERIC:
                try:
                    value = field.run_validation(field.get_value(data))
                except SkipField:
                    continue
                except Exception:
                    raise _Fallback from None
            elif value is empty:  # as DRF's validate_empty_values
                if self.partial:
                    continue
                if field.required:
                    raise _Fallback
                try:
                    value = field.get_default()
                except SkipField:
                    continue
            elif value is None:
                if not field.allow_null or field.source == "*":
                    raise _Fallback
            else:
                value = self._value(kind, field, value, nested)
                if not (kind == _TEXT and value == ""):  # DRF takes an allowed blank without its validators
                    for check in checks:
                        check(value)
            if validate_method is not None:
                try:
                    value = validate_method(value)
                except Exception:
                    raise _Fallback from None
            set_value(result, source_attrs, value)
        if validate is not None:
            try:
                result = validate(result)
            except Exception:
                raise _Fallback from None
            if result is None:
                raise _Fallback
        return result

    def _value(self, kind: int, field: Field, value: Any, nested) -> Any:
        kind_of = type(value)
        if kind == _TEXT:
            if kind_of is not str or (value == "" and not field.allow_blank):
                raise _Fallback
            return value
        if kind == _CHOICE:
            if kind_of is not str:
                raise _Fallback
            if value == "" and field.allow_blank:
                return ""
            try:
                return field.choice_strings_to_values[value]
            except KeyError:
                raise _Fallback from None
        if kind == _INTEGER:
            if kind_of is not int:
                raise _Fallback
            return value
        if kind == _FLOAT:
            if kind_of is not int and kind_of is not float:
                raise _Fallback
            value = float(value)
            if not math.isfinite(value):
                raise _Fallback
            return value
        if kind == _BOOLEAN:
            if kind_of is not bool:
                raise _Fallback
            return value
        return self._run(nested, value)  # _NESTED


_shared: dict[type[serializers.Serializer], LeanValidator] = {}
_shared_lock = threading.Lock()


def validate_body(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    """``serializer_class(data=data)``'s validated data, or its ``ValidationError`` (what
    ``is_valid(raise_exception=True)`` raises), through one ``LeanValidator`` per class, kept for the
    process: for a hot view validating one body per request, which would otherwise build (deep-copy) the
    serializer's fields on every request. For a serializer that needs no context (no request, no view)."""
    validator = _shared.get(serializer_class)
    if validator is None:
        with _shared_lock:
            validator = _shared.get(serializer_class)
            if validator is None:
                validator = _shared[serializer_class] = LeanValidator(serializer_class())
    return validator.validate(data)
