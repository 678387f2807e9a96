"""``custom.cf_...`` values on leads, contacts, opportunities and custom activities.

Values are stored as one JSON document per object keyed by field id (custom activities keep
the flattened ``custom.<id>`` keys in their ``data``) and rendered as top-level
``custom.<id>`` keys; unset fields are omitted. Every written value is checked against the
organization's definition of the field (``/custom_field/<object_type>/``).

Interface for resources: ``changes = validate(conn, org, object_type, body)`` then
``stored = merge(stored_or_None, changes)``. ``changes`` maps a field id to its new value
(``None`` clears it) and ``<id>.add`` / ``<id>.remove`` to the items to add to / remove from a
multi-value field, so always store ``merge(...)``, never ``changes`` itself.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.errors import InvalidRequest
from crmapi.resources import field_schema
from crmapi.storage import tables as t
from crmapi.util import dates

PREFIX = "custom."
OPS = ("add", "remove")
MULTI_TYPES = frozenset({"user", "choices", "contact"})
TEXT_MAX = 65_536


@dataclass(frozen=True)
class Definition:
    """What a value of one custom field must look like."""

    id: str
    name: str
    type: str
    choices: tuple[str, ...]
    multiple: bool
    required: bool


class _Bad(ValueError):
    """One bad value; the message goes to the client under the body key."""


def render(stored: dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {}
    return {f"{PREFIX}{key}": value for key, value in stored.items() if value is not None}


def definitions(
    conn: Connection, org_id: str, object_type: str, activity_type_id: str | None = None
) -> dict[str, Definition]:
    """The organization's fields for one object type (activity: of one custom activity type),
    regular and shared alike, in display order."""
    target = field_schema.Target(object_type, activity_type_id)
    return {
        m.field.id: Definition(
            m.field.id,
            m.field.name,
            m.field.type,
            tuple(m.field.choices or ()),
            m.field.accepts_multiple_values,
            m.required,
        )
        for m in field_schema.members(conn, org_id, target)
    }


def custom_keys(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``custom.`` keys of a body (plus a ``custom_fields`` object, an older spelling)."""
    out = {k: v for k, v in body.items() if isinstance(k, str) and k.startswith(PREFIX)}
    legacy = body.get("custom_fields")
    if isinstance(legacy, dict):
        for key, value in legacy.items():
            out.setdefault(f"{PREFIX}{key}", value)
    return out


def validate(
    conn: Connection,
    org_id: str,
    object_type: str,
    body: Mapping[str, Any],
    *,
    activity_type_id: str | None = None,
    tz: float = 0.0,
) -> dict[str, Any]:
    """Check the ``custom.`` keys of a body; return the changes (see the module docstring)."""
    sent = custom_keys(body)
    if not sent:
        return {}
    defs = definitions(conn, org_id, object_type, activity_type_id)
    by_name = {d.name: d for d in defs.values()}
    checker = _Checker(conn, org_id, tz)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in sent.items():
        ref, op = _split(key[len(PREFIX) :])
        found = defs.get(ref) or by_name.get(ref)
        if found is None:
            errors[key] = _unknown(object_type)
            continue
        try:
            if op is None:
                changes[found.id] = _whole(checker, found, value)
            else:
                changes[f"{found.id}.{op}"] = _items(checker, found, value, op)
        except _Bad as exc:
            errors[key] = str(exc)
    if errors:
        raise InvalidRequest(field_errors=errors)
    return changes


def merge(stored: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to stored values; unset fields are dropped, never kept as null."""
    merged = dict(stored or {})
    for key, value in changes.items():
        field_id, _, op = key.partition(".")
        if op == "add":
            current = _as_list(merged.get(field_id))
            merged[field_id] = current + [v for v in value if v not in current]
        elif op == "remove":
            kept = [v for v in _as_list(merged.get(field_id)) if v not in value]
            merged[field_id] = kept or None
        else:
            merged[field_id] = value
        if merged[field_id] is None:
            del merged[field_id]
    return merged


def missing_required(defs: Mapping[str, Definition], stored: Mapping[str, Any]) -> dict[str, str]:
    """Field errors for required fields without a value (custom activities on publish)."""
    return {
        f"{PREFIX}{d.id}": "This field is required."
        for d in defs.values()
        if d.required and stored.get(d.id) in (None, "", [])
    }


def _unknown(object_type: str) -> str:
    if object_type == "activity":
        return "Unknown custom field for this custom activity type."
    return f"Unknown {object_type} custom field."


def _split(ref: str) -> tuple[str, str | None]:
    head, dot, tail = ref.rpartition(".")
    if dot and tail in OPS:
        return head, tail
    return ref, None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _whole(checker: "_Checker", d: Definition, value: Any) -> Any:
    """A full value; multi-value fields are replaced whole (a scalar becomes one item)."""
    if value is None:
        return None
    if not d.multiple:
        if isinstance(value, list):
            raise _Bad("This field accepts a single value.")
        return checker.one(d, value)
    items = _dedupe([checker.one(d, v) for v in _as_list(value)])
    return items or None


def _items(checker: "_Checker", d: Definition, value: Any, op: str) -> list[Any]:
    if not d.multiple:
        raise _Bad(f".{op} is only supported on fields that accept multiple values.")
    if value is None:
        raise _Bad("This field may not be null.")
    if op == "remove":
        # Removing an item that is no longer valid (an old choice, a deleted contact) works.
        return [_try(checker, d, v) for v in _as_list(value)]
    return _dedupe([checker.one(d, v) for v in _as_list(value)])


def _try(checker: "_Checker", d: Definition, value: Any) -> Any:
    try:
        return checker.one(d, value)
    except _Bad:
        return value


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


class _Checker:
    """Types one value per field type; looks users and contacts up lazily, once."""

    def __init__(self, conn: Connection, org_id: str, tz: float) -> None:
        self.conn = conn
        self.org_id = org_id
        self.tz = tz
        self._members: dict[str, str] | None = None

    def one(self, d: Definition, value: Any) -> Any:
        if isinstance(value, dict | list):
            raise _Bad("Not a valid value for this field.")
        check: Callable[[_Checker, Definition, Any], Any] = _TYPES.get(d.type, _text)
        return check(self, d, value)

    def members(self) -> dict[str, str]:
        """Member user id -> full name."""
        if self._members is None:
            rows = self.conn.execute(
                select(t.user.c.id, t.user.c.first_name, t.user.c.last_name)
                .join(t.membership, t.membership.c.user_id == t.user.c.id)
                .where(t.membership.c.organization_id == self.org_id)
            )
            self._members = {
                r.id: " ".join(p for p in (r.first_name, r.last_name) if p) for r in rows
            }
        return self._members


def _text(c: _Checker, d: Definition, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or "\x00" in value:
        raise _Bad("Not a valid string.")
    if len(value) > TEXT_MAX:
        raise _Bad(f"String value is too long (max {TEXT_MAX}).")
    return value


def _number(c: _Checker, d: Definition, value: Any) -> int | float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _Bad("Not a valid number.") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("Not a valid number.")
    if value != value or value in (float("inf"), float("-inf")):
        raise _Bad("Not a valid number.")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _date(c: _Checker, d: Definition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("Not a valid date (use YYYY-MM-DD).")
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise _Bad("Not a valid date (use YYYY-MM-DD).") from None


def _datetime(c: _Checker, d: Definition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("Not a valid datetime.")
    try:
        return dates.parse(value, c.tz)
    except ValueError:
        raise _Bad("Not a valid datetime.") from None


def _choice(c: _Checker, d: Definition, value: Any) -> str:
    if not isinstance(value, str) or value not in d.choices:
        raise _Bad(f"{str(value)[:100]!r} is not one of the field's choices.")
    return value


def _user(c: _Checker, d: Definition, value: Any) -> str:
    """A member's id, or a member's exact full name (stored as the id, as Close does)."""
    if not isinstance(value, str):
        raise _Bad("Not a valid user.")
    members = c.members()
    if value in members:
        return value
    named = [uid for uid, name in members.items() if name and name == value.strip()]
    if len(named) == 1:
        return named[0]
    raise _Bad(f"{value[:100]!r} is not a user of this organization.")


def _contact(c: _Checker, d: Definition, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("Not a valid contact id.")
    found = c.conn.execute(
        select(t.contact.c.id).where(
            t.contact.c.organization_id == c.org_id, t.contact.c.id == value
        )
    ).first()
    if found is None:
        raise _Bad(f"{value[:100]!r} is not a contact of this organization.")
    return value


_TYPES: dict[str, Callable[[_Checker, Definition, Any], Any]] = {
    "text": _text,
    "textarea": _text,
    "hidden": _text,
    "number": _number,
    "date": _date,
    "datetime": _datetime,
    "choices": _choice,
    "user": _user,
    "contact": _contact,
}
