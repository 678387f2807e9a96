"""Field declarations and the one place request values are checked and coerced.

A resource declares its fields once (name, kind, enum, who may write it); request bodies
are validated against those declarations and every problem becomes a Close ``field-errors``
entry, so no handler validates by hand.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from crmapi.domain.errors import InvalidRequest
from crmapi.util import dates

Kind = Literal[
    "str",
    "int",
    "number",
    "bool",
    "datetime",
    "date",
    "enum",
    "str_list",
    "object",
    "object_list",
    "any",
    "id",
]

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
BLANK = "This field may not be blank."

# Bounds every field has unless it declares tighter ones: what storage can hold. Integers and
# numbers fit a signed 64-bit integer (BIGINT; JSON documents are encoded by orjson, which
# stops at 64 bits); floats are finite; JSON values nest at most MAX_DEPTH deep (orjson stops
# encoding at 255 levels, and a field's value sits inside a stored document).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MAX_DEPTH = 32


class FieldError(ValueError):
    """A single bad value; the message is shown to the client as-is."""


@dataclass(frozen=True)
class Field:
    """One field of a resource as the wire shows it."""

    name: str
    kind: Kind = "str"
    choices: tuple[str, ...] = ()
    default: Any = None
    create: bool = True  # accepted in a POST body
    update: bool = True  # accepted in a PUT body
    required: bool = False  # must be present (and non-null) on create
    nullable: bool = True
    max_length: int | None = None
    blank: bool = True  # False: a string of only whitespace is refused
    max_items: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    error_key: str | None = None  # Close names some fields differently in field-errors
    on_request: bool = False  # returned only when asked for with _fields (e.g. transcripts)
    # The resource an id field names ("lead", "contact", "user"...): it must exist in the
    # caller's organization (``resources.repository.check_references``).
    references: str | None = None

    @property
    def key(self) -> str:
        return self.error_key or self.name

    @property
    def bounds(self) -> tuple[float, float]:
        """The range a number must be in: declared, else what storage holds (64-bit)."""
        low = self.minimum if self.minimum is not None else INT64_MIN
        high = self.maximum if self.maximum is not None else INT64_MAX
        return low, high


def _check_str(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid string.")
    if "\x00" in value:
        raise FieldError("Null characters are not allowed.")
    if f.max_length is not None and len(value) > f.max_length:
        raise FieldError(f"String value is too long (max {f.max_length}).")
    if not f.blank and not value.strip():
        raise FieldError(BLANK)
    return value


def _check_int(f: Field, value: Any) -> int:
    if isinstance(value, bool):
        raise FieldError("Not a valid integer.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError as exc:
            raise FieldError("Not a valid integer.") from exc
    if not isinstance(value, int):
        raise FieldError("Not a valid integer.")
    _check_range(f, value)
    return value


def _check_number(f: Field, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError("Not a valid number.")
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldError("Not a valid number.")
    _check_range(f, value)
    return value


def _check_range(f: Field, value: float) -> None:
    low, high = f.bounds
    if value < low:
        raise FieldError(f"Number must be at least {_show(low)}.")
    if value > high:
        raise FieldError(f"Number must be at most {_show(high)}.")


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep a JSON value nests (a scalar is 0), counting no further than ``limit + 1``."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(item, limit - 1) for item in items), default=0)


def _check_depth(value: Any) -> Any:
    if depth(value) > MAX_DEPTH:
        raise FieldError(f"Value is nested too deeply (max {MAX_DEPTH} levels).")
    return value


def _check_bool(f: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError("Not a valid boolean.")
    return value


def _check_datetime(f: Field, value: Any, tz: float = 0.0) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid datetime.")
    try:
        return dates.parse(value, tz)
    except ValueError as exc:
        raise FieldError("Not a valid datetime.") from exc


def _check_date(f: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid date.")
    try:
        return str(dates.parse(value)[:10])
    except ValueError as exc:
        raise FieldError("Not a valid date.") from exc


def _check_enum(f: Field, value: Any) -> str:
    if not isinstance(value, str) or value not in f.choices:
        raise FieldError(f"Not a valid choice. Valid choices are: {', '.join(f.choices)}.")
    return value


def _check_list(f: Field, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FieldError("Not a valid list.")
    if f.max_items is not None and len(value) > f.max_items:
        raise FieldError(f"List is too long (max {f.max_items} items).")
    _check_depth(value)
    return value


def _check_str_list(f: Field, value: Any) -> list[str]:
    items = _check_list(f, value)
    if not all(isinstance(item, str) and "\x00" not in item for item in items):
        raise FieldError("Not a valid list of strings.")
    return items


def _check_object(f: Field, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError("Not a valid object.")
    _check_depth(value)
    return value


def _check_object_list(f: Field, value: Any) -> list[dict[str, Any]]:
    items = _check_list(f, value)
    if not all(isinstance(item, dict) for item in items):
        raise FieldError("Not a valid list of objects.")
    return items


def _check_id(f: Field, value: Any) -> str:
    text = _check_str(f, value)
    if not text or len(text) > 100:
        raise FieldError("Not a valid id.")
    return text


_CHECKS: dict[str, Callable[[Field, Any], Any]] = {
    "str": _check_str,
    "int": _check_int,
    "number": _check_number,
    "bool": _check_bool,
    "date": _check_date,
    "enum": _check_enum,
    "str_list": _check_str_list,
    "object": _check_object,
    "object_list": _check_object_list,
    "id": _check_id,
    "any": lambda f, v: _check_depth(v),
}


def coerce(f: Field, value: Any, tz: float = 0.0) -> Any:
    """Check one value against its declaration; return the stored form."""
    if value is None:
        if not f.nullable:
            raise FieldError(NOT_NULL)
        return None
    if f.kind == "datetime":
        return _check_datetime(f, value, tz)
    return _CHECKS[f.kind](f, value)


@dataclass(frozen=True)
class FieldSet:
    """The declared fields of one resource, indexed for validation and rendering."""

    fields: tuple[Field, ...]
    by_name: Mapping[str, Field] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def validate(
        self, body: Mapping[str, Any], *, creating: bool, tz: float = 0.0
    ) -> dict[str, Any]:
        """Return the writable subset of ``body``, coerced; raise one 400 with every problem.

        Keys that are unknown or read-only are ignored: exported objects are re-posted whole
        by real scripts (``id``, ``_type``, ``date_updated``...), and Close accepts them.
        """
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, raw in body.items():
            f = self.by_name.get(name)
            if f is None or not (f.create if creating else f.update):
                continue
            try:
                values[name] = coerce(f, raw, tz)
            except FieldError as exc:
                errors[f.key] = str(exc)
        if creating:
            for f in self.fields:
                if f.required and f.create and values.get(f.name) is None and f.key not in errors:
                    errors[f.key] = REQUIRED
        if errors:
            raise InvalidRequest(field_errors=errors)
        return values


def merge(*groups: Iterable[Field]) -> tuple[Field, ...]:
    """Join field groups; a later declaration of a name replaces the earlier one."""
    out: dict[str, Field] = {}
    for group in groups:
        for f in group:
            out[f.name] = f
    return tuple(out.values())
