"""The condition language of automation rules: NetBox's operator set plus ``changed_by``. Pure: no ORM, no
I/O; values are read through a ``lookup(attr)`` callable.

A condition::

    {"attr": "payload.risk_level", "op": "in", "value": ["high", "critical"]}
    {"attr": "customer.segment", "value": "enterprise", "negate": true}          # op defaults to eq
    {"attr": "payload.new_score", "op": "changed_by", "from": "payload.previous_score", "value": -20}
    {"attr": "signals.login_frequency", "op": "changed_by", "from": "signals_past.login_frequency",
     "value": -0.3, "relative": true, "if_present": true, "label": "usage_decline"}

and groups nest them: ``{"and": [...]}``, ``{"or": [...]}`` (a group may be negated too). An empty object
matches every event.

- ``eq``/``ne``: equal (numbers compare as numbers, a boolean only equals a boolean); ``gt``, ``gte``,
  ``lt``, ``lte``: two numbers or two strings; ``in``: the value is one of a list; ``contains``: a string
  contains a substring, or a list contains an item; ``regex``: a string matches (``re.search``).
- ``changed_by``: the change from the attribute ``from`` to ``attr`` reaches ``value``: a negative value
  asks for a drop of at least that much (``current - previous <= value``), a positive one for a rise of at
  least that much. With ``relative`` the change is ``(current - previous) / |previous|`` (from 0, any rise
  is an infinite one).
- A condition whose attribute (or ``from``) is absent is false, negated or not: a rule never fires on
  data it does not have. With ``if_present`` it is true instead: it applies only when the value exists.
- ``label`` names the measured value in what the rule records (``trigger_conditions`` of the run it
  starts): the change's magnitude for ``changed_by``, else the attribute's value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: what a lookup returns for an attribute that is absent
MISSING: Any = _Missing()

Lookup = Callable[[str], Any]

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "regex", "changed_by")
GROUPS = ("and", "or")
CONDITION_KEYS = frozenset({"attr", "op", "value", "negate", "if_present", "from", "relative", "label"})
ATTR_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*\Z")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,100}\Z")
MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_IN_VALUES = 100
MAX_REGEX_LENGTH = 200


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or (_is_number(value) and math.isfinite(value))


# --- Validation -----------------------------------------------------------------------------------------


@dataclass
class _Validation:
    roots: Collection[str] | None
    errors: list[tuple[str, str]] = field(default_factory=list)
    count: int = 0

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))


def _check_attr(name: str, value: Any, path: str, state: _Validation) -> None:
    if not isinstance(value, str) or not ATTR_PATTERN.match(value):
        state.error(path, f"'{name}' is a dotted attribute path such as payload.new_score.")
        return
    root = value.split(".", 1)[0]
    if state.roots is not None and root not in state.roots:
        state.error(path, f"'{name}' starts with one of {', '.join(sorted(state.roots))}, not {root}.")


def _check_value(op: str, condition: Mapping[str, Any], path: str, state: _Validation) -> None:
    if "value" not in condition:
        state.error(f"{path}.value", "A condition needs a value.")
        return
    value = condition["value"]
    if op in ("eq", "ne", "contains"):
        if not _is_scalar(value):
            state.error(f"{path}.value", f"'{op}' compares with a string, number, boolean or null.")
    elif op in ("gt", "gte", "lt", "lte"):
        if not (isinstance(value, str) or (_is_number(value) and math.isfinite(value))):
            state.error(f"{path}.value", f"'{op}' compares with a number or a string.")
    elif op == "in":
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
            state.error(f"{path}.value", f"'in' takes a list of 1 to {MAX_IN_VALUES} values.")
        elif not all(_is_scalar(item) for item in value):
            state.error(f"{path}.value", "'in' takes strings, numbers, booleans or nulls.")
    elif op == "regex":
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_REGEX_LENGTH:
            state.error(f"{path}.value", f"'regex' takes a pattern of 1 to {MAX_REGEX_LENGTH} characters.")
        else:
            try:
                re.compile(value)
            except re.error as exc:
                state.error(f"{path}.value", f"Not a regular expression: {exc}.")
    elif op == "changed_by":
        if not _is_number(value) or not math.isfinite(value) or value == 0:
            state.error(
                f"{path}.value",
                "'changed_by' takes a non-zero number: negative for a drop of at least that much, "
                "positive for a rise.",
            )
        if "from" not in condition:
            state.error(f"{path}.from", "'changed_by' needs 'from', the attribute of the previous value.")
        else:
            _check_attr("from", condition["from"], f"{path}.from", state)


def _check_condition(condition: Mapping[str, Any], path: str, state: _Validation) -> None:
    state.count += 1
    unknown = sorted(set(condition) - CONDITION_KEYS)
    if unknown:
        state.error(
            path, f"Unknown keys {', '.join(unknown)}; a condition has {', '.join(sorted(CONDITION_KEYS))}."
        )
    if "attr" not in condition:
        state.error(f"{path}.attr", "A condition needs 'attr'.")
    else:
        _check_attr("attr", condition["attr"], f"{path}.attr", state)
    op = condition.get("op", "eq")
    if op not in OPERATORS:
        state.error(f"{path}.op", f"Unknown operator {op!r}; use one of {', '.join(OPERATORS)}.")
        return
    _check_value(op, condition, path, state)
    for flag in ("negate", "if_present", "relative"):
        if flag in condition and not isinstance(condition[flag], bool):
            state.error(f"{path}.{flag}", f"'{flag}' is true or false.")
    if "relative" in condition and op != "changed_by":
        state.error(f"{path}.relative", "'relative' applies to changed_by only.")
    if "from" in condition and op != "changed_by":
        state.error(f"{path}.from", "'from' applies to changed_by only.")
    if "label" in condition and not (
        isinstance(condition["label"], str) and LABEL_PATTERN.match(condition["label"])
    ):
        state.error(f"{path}.label", "A label is 1 to 100 letters, digits, '_', '.', ':' or '-'.")


def _check_node(node: Any, path: str, depth: int, state: _Validation) -> None:
    if not isinstance(node, Mapping):
        state.error(path, 'A condition or a group ({"and": […]} or {"or": […]}) is an object.')
        return
    if depth > MAX_DEPTH:
        state.error(path, f"Groups nest at most {MAX_DEPTH} deep.")
        return
    groups = [key for key in GROUPS if key in node]
    if not groups:
        _check_condition(node, path, state)
        return
    extra = sorted(set(node) - {*groups, "negate"})
    if len(groups) > 1 or extra:
        state.error(path, "A group has exactly one of 'and' or 'or' (and optionally 'negate').")
        return
    key = groups[0]
    if "negate" in node and not isinstance(node["negate"], bool):
        state.error(f"{path}.negate", "'negate' is true or false.")
    members = node[key]
    if not isinstance(members, list) or not members:
        state.error(f"{path}.{key}", f"'{key}' takes a non-empty list of conditions or groups.")
        return
    for index, member in enumerate(members):
        _check_node(member, f"{path}.{key}.{index}", depth + 1, state)


def validate_conditions(
    conditions: Any, *, roots: Collection[str] | None = None, path: str = "conditions"
) -> list[tuple[str, str]]:
    """``[(dotted path, message)]`` of what is wrong with ``conditions``; empty when valid.

    ``roots`` limits the first segment of attribute paths (``payload``, ``customer``, …).
    """
    if conditions is None or conditions == {}:
        return []
    state = _Validation(roots=roots)
    _check_node(conditions, path, 1, state)
    if state.count > MAX_CONDITIONS:
        state.error(path, f"At most {MAX_CONDITIONS} conditions in all.")
    return state.errors


def referenced_attributes(conditions: Any) -> set[str]:
    """Every attribute path the conditions read (``attr`` and ``from``)."""
    found: set[str] = set()
    if not isinstance(conditions, Mapping):
        return found
    for key in GROUPS:
        if isinstance(conditions.get(key), list):
            for member in conditions[key]:
                found |= referenced_attributes(member)
            return found
    for name in ("attr", "from"):
        if isinstance(conditions.get(name), str):
            found.add(conditions[name])
    return found


# --- Evaluation -----------------------------------------------------------------------------------------


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def _ordered(left: Any, right: Any) -> bool:
    return (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))


def change(current: Any, previous: Any, *, relative: bool) -> float | None:
    """``current - previous`` (or relative to ``|previous|``); None unless both are numbers."""
    if not (_is_number(current) and _is_number(previous)):
        return None
    delta = float(current) - float(previous)
    if not relative:
        return delta
    if previous == 0:
        return 0.0 if delta == 0 else math.copysign(math.inf, delta)
    return delta / abs(float(previous))


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "eq":
        return _equal(actual, expected)
    if op == "ne":
        return not _equal(actual, expected)
    if op in ("gt", "gte", "lt", "lte"):
        if not _ordered(actual, expected):
            return False
        return {
            "gt": actual > expected,
            "gte": actual >= expected,
            "lt": actual < expected,
            "lte": actual <= expected,
        }[op]
    if op == "in":
        return isinstance(expected, list) and any(_equal(actual, item) for item in expected)
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list):
            return any(_equal(item, expected) for item in actual)
        return False
    if op == "regex":
        return (
            isinstance(actual, str)
            and isinstance(expected, str)
            and re.search(expected, actual[:10000]) is not None
        )
    raise ValueError(f"Unknown operator {op!r}")


@dataclass
class Evaluation:
    matched: bool
    #: the values read, by attribute path, and the measured values by label
    observed: dict[str, Any] = field(default_factory=dict)
    labelled: dict[str, Any] = field(default_factory=dict)


def _read(lookup: Lookup, attr: str, result: Evaluation) -> Any:
    value = lookup(attr)
    if value is not MISSING:
        result.observed[attr] = value
    return value


def _evaluate_condition(condition: Mapping[str, Any], lookup: Lookup, result: Evaluation) -> bool:
    op = condition.get("op", "eq")
    if_present = bool(condition.get("if_present", False))
    actual = _read(lookup, condition["attr"], result)
    if actual is MISSING:
        return if_present
    label = condition.get("label")
    if op == "changed_by":
        previous = _read(lookup, condition["from"], result)
        if previous is MISSING:
            return if_present
        delta = change(actual, previous, relative=bool(condition.get("relative", False)))
        if delta is None:
            return False
        threshold = condition["value"]
        matched = delta <= threshold if threshold < 0 else delta >= threshold
        if label:
            result.labelled[label] = round(abs(delta), 4) if math.isfinite(delta) else None
    else:
        matched = _compare(op, actual, condition.get("value"))
        if label:
            result.labelled[label] = actual
    return not matched if condition.get("negate", False) else matched


def _evaluate_node(node: Mapping[str, Any], lookup: Lookup, result: Evaluation) -> bool:
    if "and" in node or "or" in node:
        members = node.get("and", node.get("or"))
        if "and" in node:
            matched = all(_evaluate_node(member, lookup, result) for member in members)
        else:
            matched = any(_evaluate_node(member, lookup, result) for member in members)
        return not matched if node.get("negate", False) else matched
    return _evaluate_condition(node, lookup, result)


def evaluate(conditions: Any, lookup: Lookup) -> Evaluation:
    """Whether ``conditions`` (valid ones: see ``validate_conditions``) hold for the values ``lookup``
    gives, and what was read. ``and`` and ``or`` stop at the first member that decides them."""
    if conditions is None or conditions == {}:
        return Evaluation(matched=True)
    result = Evaluation(matched=False)
    result.matched = _evaluate_node(conditions, lookup, result)
    return result


def dig(data: Any, parts: list[str]) -> Any:
    """The value at ``parts`` inside nested dicts (and lists, by index); MISSING when absent."""
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return MISSING
            current = current[part]
        elif isinstance(current, list) and part.isascii() and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current
