"""What turning words into a tree needs from the organization: statuses, users, custom fields.

Each lookup runs once per search and only when a keyword asks for it.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select

from crmapi.resources import custom_values, statuses
from crmapi.resources.users import full_name
from crmapi.storage import tables as t


def _norm(label: str) -> str:
    """Labels match case-insensitively, ``_`` as a space (``status:new_lead``)."""
    return " ".join(label.replace("_", " ").lower().split())


@dataclass
class Env:
    conn: Connection
    org_id: str
    user_id: str
    tz: float = 0.0
    _custom: dict[str, dict[str, custom_values.Definition]] = field(default_factory=dict)
    # Smart views being expanded (``in:``), innermost last: a view met again is a cycle.
    expanding: list[str] = field(default_factory=list)
    # The search said "me": its result depends on who runs it (``is_user_dependent``).
    used_me: bool = False

    @cached_property
    def lead_statuses(self) -> list[tuple[str, str]]:
        return [(s["id"], s["label"]) for s in statuses.lead_statuses(self.conn, self.org_id)]

    @cached_property
    def opportunity_statuses(self) -> list[tuple[str, str]]:
        found = statuses.opportunity_statuses(self.conn, self.org_id)
        return [(s["id"], s["label"]) for s in found]

    @cached_property
    def users(self) -> list[tuple[str, tuple[str, ...]]]:
        """Members with the names a query may use for them (id, email, first, last, full)."""
        u, m = t.user, t.membership
        rows = self.conn.execute(
            select(u.c.id, u.c.email, u.c.first_name, u.c.last_name)
            .join(m, m.c.user_id == u.c.id)
            .where(m.c.organization_id == self.org_id)
        )
        out = []
        for r in rows:
            names = (
                r.email,
                r.first_name or "",
                r.last_name or "",
                full_name(r.first_name, r.last_name),
            )
            out.append((r.id, tuple(_norm(n) for n in names if n)))
        return out

    def status_ids(self, kind: str, value: str) -> tuple[str, ...]:
        """Statuses of ``kind`` (lead, opportunity) whose id or label is ``value``."""
        found = self.lead_statuses if kind == "lead" else self.opportunity_statuses
        wanted = _norm(value)
        return tuple(sid for sid, label in found if sid == value or _norm(label) == wanted)

    def user_ids(self, value: str) -> tuple[str, ...]:
        if value.lower() == "me":
            self.used_me = True
            return (self.user_id,)
        wanted = _norm(value)
        return tuple(uid for uid, names in self.users if uid == value or wanted in names)

    def custom_field(self, object_type: str, ref: str) -> custom_values.Definition | None:
        """A custom field of ``object_type`` by id or by name (case-insensitive)."""
        if object_type not in self._custom:
            self._custom[object_type] = custom_values.definitions(
                self.conn, self.org_id, object_type
            )
        defs = self._custom[object_type]
        if ref in defs:
            return defs[ref]
        wanted = ref.strip().lower()
        return next((d for d in defs.values() if d.name.strip().lower() == wanted), None)

    def saved_search(self, ref: str) -> Row[Any] | None:
        """The organization's smart view with this id, else the one with this name
        (case-insensitive; the oldest when several share it)."""
        s = t.saved_search
        return self.conn.execute(
            select(s)
            .where(
                s.c.organization_id == self.org_id,
                or_(s.c.id == ref, func.lower(s.c.name) == ref.strip().lower()),
            )
            .order_by((s.c.id == ref).desc(), s.c.date_created, s.c.id)
            .limit(1)
        ).first()
