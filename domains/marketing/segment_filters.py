"""The segment filter vocabulary: validation of a segment's stored filters and their translation into one
SQL condition over customers (a ``Q``). Pure: no query is run here.

A segment's ``filters`` is an object of filter names (all must hold) and, optionally, ``any``: a list
of groups of the same names, at least one of which must hold as well:

    {"risk_level": ["high", "critical"]}                       risk high or critical
    {"engagement_score_below": 5}                              engagement strictly below 5
    {"any": [{"risk_level": ["high", "critical"]},             at_risk: risk high or critical,
             {"lifecycle_stage": ["at_risk"]}]}                or the stage at_risk

The names are the customer list's (``risk_level``, ``lifecycle_stage``, ``segment``,
``health_score_min``/``_max``, plus ``health_trend``), and ``adoption_rate_max``,
``engagement_score_max``, ``nps_score_max``. ``…_min``/``…_max`` bounds are inclusive; the extra
``…_below`` names (``health_score_below``, ``adoption_rate_below``, ``engagement_score_below``,
``nps_score_below``) are strict. A customer without a value (no engagement score, say) matches no bound
on it. A choice filter takes one value or a list of values (any of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from domains.customers.models import HealthTrend, LifecycleStage, RiskLevel, Segment

ANY = "any"
MAX_GROUPS = 10


@dataclass(frozen=True)
class FilterName:
    """One name of the vocabulary: the customer field it reads and how."""

    field: str
    #: "choice" (value or list of values), "min" (>=), "max" (<=) or "below" (<)
    kind: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    help: str = ""

    @property
    def lookup(self) -> str:
        return {"choice": "in", "min": "gte", "max": "lte", "below": "lt"}[self.kind]


def _choice(field: str, choices) -> FilterName:
    return FilterName(field, "choice", tuple(choices.values), help=f"{field} is any of the values given")


def _bound(field: str, kind: str, low: float, high: float, *, integer: bool = False) -> FilterName:
    sign = {"min": "at least", "max": "at most", "below": "strictly below"}[kind]
    return FilterName(field, kind, low=low, high=high, integer=integer, help=f"{field} {sign} the value")


VOCABULARY: dict[str, FilterName] = {
    "risk_level": _choice("risk_level", RiskLevel),
    "lifecycle_stage": _choice("lifecycle_stage", LifecycleStage),
    "segment": _choice("segment", Segment),
    "health_trend": _choice("health_trend", HealthTrend),
    "health_score_min": _bound("health_score", "min", 0, 100, integer=True),
    "health_score_max": _bound("health_score", "max", 0, 100, integer=True),
    "health_score_below": _bound("health_score", "below", 0, 101, integer=True),
    "adoption_rate_max": _bound("adoption_rate", "max", 0, 1),
    "adoption_rate_below": _bound("adoption_rate", "below", 0, 1),
    "engagement_score_max": _bound("engagement_score", "max", 0, 10),
    "engagement_score_below": _bound("engagement_score", "below", 0, 10),
    "nps_score_max": _bound("nps_score", "max", -100, 100),
    "nps_score_below": _bound("nps_score", "below", -100, 101),
}


class SegmentFilterError(ValueError):
    """Filters that are not valid; ``errors`` lists (dotted field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clean_value(name: str, spec: FilterName, value: Any, path: str, errors: list) -> Any:
    if spec.kind == "choice":
        values = value if isinstance(value, list) else [value]
        if not values:
            errors.append((path, "Give at least one value."))
            return None
        wrong = [item for item in values if not isinstance(item, str) or item not in spec.choices]
        if wrong:
            errors.append((path, f"Use one or more of {', '.join(spec.choices)}."))
            return None
        return list(dict.fromkeys(values))
    if not _is_number(value) or (spec.integer and float(value) != int(value)):
        kind = "a whole number" if spec.integer else "a number"
        errors.append((path, f"Use {kind} from {spec.low:g} to {spec.high:g}."))
        return None
    if not spec.low <= value <= spec.high:
        errors.append((path, f"Use a value from {spec.low:g} to {spec.high:g}."))
        return None
    return int(value) if spec.integer else value


def _clean_group(group: Any, prefix: str, errors: list, *, allow_any: bool) -> dict[str, Any]:
    if not isinstance(group, dict):
        errors.append((prefix, 'An object of filter names and values, e.g. {"risk_level": ["high"]}.'))
        return {}
    cleaned: dict[str, Any] = {}
    for name, value in group.items():
        path = f"{prefix}.{name}"
        if name == ANY and allow_any:
            cleaned[ANY] = _clean_any(value, path, errors)
            continue
        spec = VOCABULARY.get(name)
        if spec is None:
            known = ", ".join([*VOCABULARY, *([ANY] if allow_any else [])])
            errors.append((path, f"Unknown filter; use one of {known}."))
            continue
        value = _clean_value(name, spec, value, path, errors)
        if value is not None:
            cleaned[name] = value
    return cleaned


def _clean_any(value: Any, path: str, errors: list) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_GROUPS:
        errors.append((path, f"A list of 1 to {MAX_GROUPS} groups of filters, at least one of which holds."))
        return []
    groups = []
    for index, group in enumerate(value):
        if isinstance(group, dict) and not group:
            errors.append((f"{path}.{index}", "A group names at least one filter."))
            continue
        groups.append(_clean_group(group, f"{path}.{index}", errors, allow_any=False))
    return groups


def validate_filters(filters: Any, *, prefix: str = "filters") -> dict[str, Any]:
    """The filters, normalised (choice values as lists); raises ``SegmentFilterError`` naming each bad
    field as ``filters.<name>`` (``filters.any.<n>.<name>`` inside a group)."""
    errors: list[tuple[str, str]] = []
    cleaned = _clean_group(filters, prefix, errors, allow_any=True)
    if errors:
        raise SegmentFilterError(errors)
    return cleaned


def _group_condition(group: dict[str, Any]) -> Q:
    condition = Q()
    for name, value in group.items():
        if name == ANY:
            continue
        spec = VOCABULARY[name]
        condition &= Q(**{f"{spec.field}__{spec.lookup}": value})
    return condition


def filters_condition(filters: dict[str, Any]) -> Q:
    """The SQL condition of valid filters: every name, and at least one group of ``any``."""
    condition = _group_condition(filters)
    groups = filters.get(ANY) or []
    if groups:
        either = Q()
        for group in groups:
            either |= _group_condition(group)
        condition &= either
    return condition


def union_condition(filters_by_segment: dict[str, dict[str, Any]]) -> Q:
    """Customers in any of several segments."""
    condition = Q(pk__in=[])
    for filters in filters_by_segment.values():
        condition |= filters_condition(filters)
    return condition


def _describe_group(group: dict[str, Any]) -> str:
    parts = []
    for name, value in group.items():
        if name == ANY:
            continue
        spec = VOCABULARY[name]
        if spec.kind == "choice":
            parts.append(f"{spec.field} in ({', '.join(value)})")
        else:
            parts.append(f"{spec.field} {({'min': '≥', 'max': '≤', 'below': '<'})[spec.kind]} {value:g}")
    return " and ".join(parts)


def describe_filters(filters: dict[str, Any]) -> str:
    """A one-line reading of valid filters, for the admin: ``risk_level in (high) and (a or b)``."""
    text = _describe_group(filters)
    groups = filters.get(ANY) or []
    if groups:
        either = " or ".join(f"({_describe_group(group)})" for group in groups)
        text = f"{text} and ({either})" if text else either
    return text or "every customer"
