"""Webhook ``extra_filter`` trees: checked when a subscription is saved, evaluated per event.

A filter is a JSON tree evaluated against the event object (Close's webhook-filters page):
value tests (``equals``, ``not_equals``, ``is_null``, ``non_null``, ``contains``), combinators
(``and``, ``or``, ``not``) and navigation (``field_accessor``, ``any_array_value``).
"""

from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32
_VALUE_TESTS = frozenset({"equals", "not_equals", "is_null", "non_null", "contains"})
TYPES = frozenset({*_VALUE_TESTS, "and", "or", "not", "field_accessor", "any_array_value"})


class FilterError(ValueError):
    """A malformed filter; the message says where."""


def validate(node: Any, path: str = "extra_filter", depth: int = 0) -> None:
    """Raise ``FilterError`` unless ``node`` is a well-formed filter tree."""
    if depth > MAX_DEPTH:
        raise FilterError(f"{path}: filter is nested too deeply (max {MAX_DEPTH}).")
    if not isinstance(node, dict):
        raise FilterError(f"{path}: a filter must be an object.")
    kind = node.get("type")
    if kind not in TYPES:
        raise FilterError(
            f"{path}: unknown filter type {kind!r}; valid: {', '.join(sorted(TYPES))}."
        )
    if kind in ("equals", "not_equals", "contains") and "value" not in node:
        raise FilterError(f"{path}: {kind} needs a value.")
    if kind in ("and", "or"):
        children = node.get("filters")
        if not isinstance(children, list) or not children:
            raise FilterError(f"{path}: {kind} needs a non-empty list of filters.")
        for i, child in enumerate(children):
            validate(child, f"{path}.filters[{i}]", depth + 1)
    if kind == "field_accessor":
        field = node.get("field")
        if not isinstance(field, str) or not field:
            raise FilterError(f"{path}: field_accessor needs a field name.")
    if kind in ("not", "field_accessor", "any_array_value"):
        validate(node.get("filter"), f"{path}.filter", depth + 1)


def _contains(value: Any, wanted: Any) -> bool:
    if isinstance(value, list):
        return wanted in value
    if isinstance(value, str) and isinstance(wanted, str):
        return wanted in value
    return False


def _field(value: Any, name: str) -> Any:
    # Custom fields render as flat "custom.cf_..." keys, so the whole name is tried first.
    if not isinstance(value, dict):
        return None
    return value.get(name)


_TESTS: dict[str, Callable[[dict[str, Any], Any], bool]] = {
    "equals": lambda n, v: bool(v == n["value"]),
    "not_equals": lambda n, v: bool(v != n["value"]),
    "is_null": lambda n, v: v is None,
    "non_null": lambda n, v: v is not None,
    "contains": lambda n, v: _contains(v, n["value"]),
    "and": lambda n, v: all(matches(f, v) for f in n["filters"]),
    "or": lambda n, v: any(matches(f, v) for f in n["filters"]),
    "not": lambda n, v: not matches(n["filter"], v),
    "field_accessor": lambda n, v: matches(n["filter"], _field(v, n["field"])),
    "any_array_value": lambda n, v: isinstance(v, list) and any(matches(n["filter"], i) for i in v),
}


def matches(node: dict[str, Any], value: Any) -> bool:
    """Evaluate a validated filter against ``value`` (the event object at the root)."""
    return _TESTS[node["type"]](node, value)
