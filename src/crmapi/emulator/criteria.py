"""WireMock-style matchers over plain values, shared by journal queries and fault rules.

A matcher is a literal (equal, compared as text when the value is text) or an object with one
operator: ``equalTo``, ``contains``, ``matches`` (regex), ``present`` (bool), ``in`` (list),
``lt``/``lte``/``gt``/``gte``/``ne``.
"""

import re
from collections.abc import Mapping
from typing import Any

from crmapi.domain.errors import InvalidRequest

MISSING = object()
_COMPARE = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "ne": lambda a, b: a != b,
    "eq": lambda a, b: a == b,
}
OPERATORS = frozenset({"equalTo", "contains", "matches", "present", "in", *_COMPARE})


def check(matcher: Any, where: str) -> None:
    """Refuse a malformed matcher up front (a 400 naming it), never at match time."""
    if not isinstance(matcher, dict):
        return
    unknown = set(matcher) - OPERATORS
    if unknown or not matcher:
        raise InvalidRequest(
            field_errors={
                where: f"Unknown matcher {sorted(unknown)}; use one of {sorted(OPERATORS)}."
            }
        )
    if "matches" in matcher:
        try:
            re.compile(str(matcher["matches"]))
        except re.error as exc:
            raise InvalidRequest(field_errors={where: f"Invalid regex: {exc}"}) from None


def _same(expected: Any, value: Any) -> bool:
    if isinstance(value, str) and not isinstance(expected, str):
        if isinstance(expected, bool):
            return value.lower() == str(expected).lower()
        return value == str(expected)
    return bool(expected == value)


def match(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return value is not MISSING and _same(matcher, value)
    for op, expected in matcher.items():
        if op == "present":
            if (value is not MISSING) != bool(expected):
                return False
            continue
        if value is MISSING:
            return False
        if op == "equalTo" and not _same(expected, value):
            return False
        if op == "contains" and str(expected) not in _text(value):
            return False
        if op == "matches" and re.search(str(expected), _text(value)) is None:
            return False
        if op == "in" and not any(_same(e, value) for e in (expected or [])):
            return False
        if op in _COMPARE:
            try:
                if not _COMPARE[op](value, expected):
                    return False
            except TypeError:
                return False
    return True


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def lookup(doc: Any, dotted: str) -> Any:
    """``a.b.0`` in nested objects and lists; MISSING when absent. A whole key wins
    (``custom.cf_x`` is one body key)."""
    if isinstance(doc, Mapping) and dotted in doc:
        return doc[dotted]
    current = doc
    for part in dotted.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def all_match(matchers: Mapping[str, Any], doc: Any) -> bool:
    return all(match(m, lookup(doc, key)) for key, m in matchers.items())
