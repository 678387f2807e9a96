"""Strict mode: what Close accepts and quietly ignores, found from the route declarations.

Known query parameters come from the operation's ``ListSpec`` (filters, modes, paging), known
body keys and their writability from its ``FieldSet``; nothing is listed by hand. ``warn``
answers as Close does plus an ``x-crmapi-warnings`` header; ``strict`` answers Close's 400
naming every problem.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from crmapi.domain.fields import Field, FieldError, FieldSet, coerce
from crmapi.http.endpoint import Op
from crmapi.query.grammar import CONTROL

LEVELS = ("off", "warn", "strict")
HEADER = "x-crmapi-strict"
_PAGING_CONTROL = {
    "skip": CONTROL,
    "cursor": frozenset({"_cursor", "_limit", "_fields"}),
    "none": frozenset({"_fields"}),
}
_BOOL_WORDS = frozenset({"true", "false"})


@dataclass(frozen=True)
class Ignored:
    code: str  # unknown_param, unknown_field, unknown_key, read_only_key, needs_lead_id,
    # deprecated_param, coerced_value
    name: str
    message: str

    @property
    def header(self) -> str:
        # Names come from the client (``?%1F=``): percent-encoded, so the header stays valid.
        return f"{self.code}={quote(self.name[:100], safe='._-[]')}"


def level_of(raw: str | None) -> str | None:
    value = (raw or "").strip().lower()
    return value if value in LEVELS else None


def known_params(op: Op) -> frozenset[str]:
    spec = op.list_spec
    if spec is None:
        return frozenset({"_fields", *op.params})
    return frozenset({*_PAGING_CONTROL[spec.paging], *spec.filters, *spec.modes})


def before(op: Op, method: str, params: Mapping[str, str], body: Any) -> list[Ignored]:
    """Everything visible before the handler runs."""
    found: list[Ignored] = []
    known = known_params(op)
    spec = op.list_spec
    deprecated: Mapping[str, str] = spec.deprecated if spec else {}
    for name in params:
        if name in deprecated:
            found.append(
                Ignored("deprecated_param", name, f"{name} is deprecated: {deprecated[name]}")
            )
        elif name not in known:
            found.append(Ignored("unknown_param", name, f"Unknown parameter {name!r} is ignored."))
    if spec is not None:
        for name, raw in params.items():
            fspec = spec.filters.get(name)
            if fspec is None:
                continue
            if fspec.requires and not any(params.get(r) for r in fspec.requires):
                found.append(
                    Ignored(
                        "needs_lead_id",
                        name,
                        f"{name} only works together with {' or '.join(fspec.requires)}.",
                    )
                )
            if fspec.kind == "bool" and raw.strip().lower() not in _BOOL_WORDS:
                found.append(
                    Ignored("coerced_value", name, f"{name}={raw!r} is read as a boolean.")
                )
    if method in ("POST", "PUT") and isinstance(body, dict) and op.fields is not None:
        found += _body_warnings(op.fields, body, creating=method == "POST")
    return found


def _body_warnings(fields: FieldSet, body: Mapping[str, Any], creating: bool) -> list[Ignored]:
    found = []
    for key, value in body.items():
        if key == "custom" or key.startswith("custom."):
            continue  # custom field values: checked against the org's fields by the handler
        f = fields.by_name.get(key)
        if f is None and key != "id":
            found.append(Ignored("unknown_key", key, f"Unknown field {key!r} is ignored."))
        elif f is None or not (f.create if creating else f.update):
            found.append(Ignored("read_only_key", key, f"{key!r} is read-only and is ignored."))
        elif _coerced(f, value):
            found.append(
                Ignored("coerced_value", key, f"{key}={value!r} is converted to a {f.kind}.")
            )
    return found


def _coerced(f: Field, value: Any) -> bool:
    if value is None:
        return False
    try:
        stored = coerce(f, value)
    except FieldError:
        return False  # a real error: the handler answers 400 for it anyway
    if f.kind in ("int", "number"):
        return type(stored) is not type(value)
    if f.kind == "date" and isinstance(value, str):
        return bool(stored != value)
    return False


def reclassify(warnings: list[Ignored], body: bytes) -> list[Ignored]:
    """An "unknown" body key the returned object carries is a read-only one."""
    return [
        Ignored("read_only_key", w.name, f"{w.name!r} is read-only and is ignored.")
        if w.code == "unknown_key" and f'"{w.name}":'.encode() in body
        else w
        for w in warnings
    ]


def unknown_fields(requested: str, body: bytes, declared: FieldSet | None) -> list[Ignored]:
    """``_fields`` names no returned object carries (checked on the answer: Close returns
    every known name it was asked for, so a missing key is one it did not know)."""
    names = [n.strip() for n in requested.split(",") if n.strip()]
    if not names:
        return []
    empty = b'"data":[]' in body
    out = []
    for name in names:
        if declared is not None and name in declared.by_name or name == "id":
            continue
        if empty and declared is None:
            continue
        if empty or f'"{name}":'.encode() not in body:
            out.append(
                Ignored("unknown_field", name, f"Unknown field {name!r} in _fields is ignored.")
            )
    return out


class StrictState:
    """The server's level, each organization's, and the warnings seen per client."""

    def __init__(self, server_level: str) -> None:
        self.server_level = level_of(server_level) or "warn"
        self.orgs: dict[str, str] = {}
        # org -> user agent -> "code=name" -> {count, message, example, last_seen}
        self.report: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}

    def level(self, org: str | None, header: str | None) -> str:
        return level_of(header) or (self.orgs.get(org, "") if org else "") or self.server_level

    def record(self, org: str, agent: str, warnings: list[Ignored], example: str, at: str) -> None:
        by_agent = self.report.setdefault(org, {})
        if agent not in by_agent and len(by_agent) >= 200:
            agent = "(other)"  # bounded: a flood of agents folds into one bucket
        seen = by_agent.setdefault(agent, {})
        for w in warnings:
            item = seen.setdefault(
                w.header, {"code": w.code, "name": w.name, "message": w.message, "count": 0}
            )
            item["count"] += 1
            item["example"] = example
            item["last_seen"] = at
