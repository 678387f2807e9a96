"""Close's list grammar: ``_skip``/``_limit``/``_fields``/``_order_by`` and ``field__op`` filters.

Policy for parameters a list does not declare: they are ignored, as Close ignores them (real
clients send extras such as ``query`` or ``format``). Declared parameters are strict: a bad
value is a 400 that names the parameter.
"""

from collections.abc import Mapping
from typing import Any

from crmapi.domain.errors import InvalidRequest
from crmapi.query.model import Condition, FilterSpec, ListQuery, ListSpec
from crmapi.util import dates

CONTROL = frozenset({"_skip", "_limit", "_fields", "_order_by"})
MAX_FIELDS = 200
# Beyond a 32-bit offset no page exists, and SQLite cannot even bind the number (was a 500).
MAX_INT = 2**31 - 1


def parse(params: Mapping[str, str], spec: ListSpec, tz: float = 0.0) -> ListQuery:
    """Validate ``params`` against ``spec``; raise one 400 listing every problem."""
    field_errors: dict[str, str] = {}
    errors: list[str] = []
    skip = _int_param(params, "_skip", 0, field_errors)
    limit = _int_param(params, "_limit", spec.default_limit, field_errors)
    if skip is not None and spec.max_skip is not None and skip > spec.max_skip:
        raise skip_too_large(spec.max_skip)
    if limit is not None and limit > spec.max_limit:
        field_errors["_limit"] = (
            f"_limit is too large (the maximum for this resource is {spec.max_limit})."
        )
    order_column, descending = _order(params, spec, field_errors, errors)
    conditions = []
    for name, raw in params.items():
        fspec = spec.filters.get(name)
        if fspec is None or name in CONTROL:
            continue
        try:
            values = _values(raw, fspec, spec, tz)
        except ValueError as exc:
            field_errors[name] = str(exc) or f"Invalid value for {name}."
            continue
        conditions.append(Condition(name, fspec, values))
    _cross_checks(conditions, params, order_column, errors)
    _one_of(conditions, spec, field_errors, errors)
    _modes(params, spec, field_errors)
    fields = _fields(params.get("_fields"), field_errors)
    if errors or field_errors:
        raise InvalidRequest(errors, field_errors)
    assert skip is not None
    assert limit is not None
    return ListQuery(tuple(conditions), order_column, descending, skip, limit, fields, params)


def _one_of(
    conditions: list[Condition], spec: ListSpec, field_errors: dict[str, str], errors: list[str]
) -> None:
    """Exactly one of ``spec.one_of`` is sent (a list that only makes sense narrowed)."""
    if not spec.one_of:
        return
    sent = [c.param for c in conditions if c.param in spec.one_of]
    if not sent and spec.one_of[0] not in field_errors:
        field_errors[spec.one_of[0]] = "This field is required."
    elif len(sent) > 1:
        errors.append(f"Send {' or '.join(spec.one_of)}, not both.")


def skip_too_large(cap: int) -> InvalidRequest:
    """Close's max_skip 400: tap-closeio restarts paging on ``max_skip = `` in ``error``,
    Airbyte on ``less than or equal to`` (spec more.md §1.8)."""
    return InvalidRequest(
        error=(
            "The skip you set is larger than the maximum skip for this resource "
            f"(max_skip = {cap}). _skip must be less than or equal to {cap}. "
            "Please refine your search query."
        )
    )


def _int_param(
    params: Mapping[str, str], name: str, default: int, field_errors: dict[str, str]
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        field_errors[name] = f"{name} must be a whole number, got {raw[:50]!r}."
        return None
    if value < 0:
        field_errors[name] = f"{name} must not be negative."
        return None
    if value > MAX_INT:
        field_errors[name] = f"{name} is too large (max {MAX_INT})."
        return None
    return value


def _order(
    params: Mapping[str, str], spec: ListSpec, field_errors: dict[str, str], errors: list[str]
) -> tuple[str, bool]:
    raw = params.get("_order_by") or spec.default_order
    name = raw.strip().lstrip("-")
    descending = raw.strip().startswith("-")
    ordering = spec.orderings.get(name)
    if ordering is None:
        allowed = ", ".join(sorted(spec.orderings))
        field_errors["_order_by"] = f"Cannot order by {raw[:50]!r}. Valid fields: {allowed}."
        default = spec.default_order.lstrip("-")
        return spec.orderings[default].column, spec.default_order.startswith("-")
    if ordering.requires and not any(params.get(r) for r in ordering.requires):
        errors.append(
            f"_order_by={raw} can only be used together with {' or '.join(ordering.requires)}"
            + (f": {ordering.requires_reason}" if ordering.requires_reason else ".")
        )
    return ordering.column, descending


def _values(raw: Any, fspec: FilterSpec, spec: ListSpec, tz: float) -> tuple[Any, ...]:
    text = str(raw).strip()
    if fspec.op == "in" or fspec.multi:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise ValueError("Expected one or more comma-separated values.")
        if len(parts) > spec.max_in_items:
            raise ValueError(f"Too many values (max {spec.max_in_items}).")
    else:
        parts = [text]
    return tuple(_coerce(p, fspec, tz) for p in parts)


def _coerce(text: str, fspec: FilterSpec, tz: float) -> Any:
    if "\x00" in text or len(text) > fspec.max_length:
        raise ValueError("Invalid value.")
    if fspec.choices and text not in fspec.choices:
        raise ValueError(f"{text[:50]!r} is not valid; use one of {', '.join(fspec.choices)}.")
    if fspec.check is not None:
        return fspec.check(text)
    if fspec.kind == "datetime":
        try:
            return dates.parse(text, tz)
        except ValueError:
            raise ValueError(
                f"{text[:50]!r} is not a valid date. Use YYYY-MM-DD or an ISO 8601 datetime "
                "such as 2024-03-03T10:00:06.123456+00:00."
            ) from None
    if fspec.kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise ValueError(f"{text[:50]!r} is not a valid boolean (true or false).")
        return lowered in ("true", "1")
    if fspec.kind == "int":
        try:
            number = int(text)
        except ValueError:
            raise ValueError(f"{text[:50]!r} is not a whole number.") from None
        if abs(number) > MAX_INT:  # what every backend can bind
            raise ValueError(f"{text[:50]!r} is too large (max {MAX_INT}).")
        return number
    return text


def _cross_checks(
    conditions: list[Condition], params: Mapping[str, str], order_column: str, errors: list[str]
) -> None:
    for condition in conditions:
        fspec = condition.spec
        if fspec.requires and not any(params.get(r) for r in fspec.requires):
            reason = fspec.requires_reason or "it is only supported for a single lead."
            errors.append(
                f"{condition.param} can only be used together with "
                f"{' or '.join(fspec.requires)}: {reason}"
            )
        if fspec.requires_order and fspec.requires_order != order_column:
            errors.append(
                f"{condition.param} can only be used when sorting by {fspec.requires_order} "
                f"(add _order_by=-{fspec.requires_order}); date filters must match the sort field."
            )


def _modes(params: Mapping[str, str], spec: ListSpec, field_errors: dict[str, str]) -> None:
    """Handler-applied parameters: an empty value is absent; case does not matter."""
    for name, mode in spec.modes.items():
        raw = params.get(name) or ""
        if raw.strip() and raw.strip().lower() not in mode.choices:
            field_errors[name] = (
                f"{raw[:40]!r} is not valid; use one of {', '.join(mode.choices)} "
                "(or leave it out)."
            )


def field_names(raw: str | None) -> frozenset[str] | None:
    """``_fields=a, b`` as the names asked for; None when absent or empty (every field).

    The one parser of ``_fields``: lists (with the bound below), single objects and writes.
    """
    if raw is None or not raw.strip():
        return None
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


def _fields(raw: str | None, field_errors: dict[str, str]) -> frozenset[str] | None:
    names = field_names(raw)
    if names is not None and len([n for n in (raw or "").split(",") if n.strip()]) > MAX_FIELDS:
        field_errors["_fields"] = f"Too many fields (max {MAX_FIELDS})."
        return None
    return names
