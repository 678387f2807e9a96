"""Which custom fields an object type holds, in their display order (more.md §7).

A *target* is one object type whose records carry ``custom.cf_...`` values: ``lead``,
``contact``, ``opportunity`` or one custom activity type. Its fields are its regular fields
(``custom_field`` rows of that object type) plus the shared fields associated with it
(``custom_field_association``). Both carry a ``position`` on one scale per target, so one
ordering covers both kinds; a custom activity type's own ``field_order`` (its PUT) ranks first.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select, update

from crmapi.storage import tables as t

CF = t.custom_field
ASSOC = t.custom_field_association
CAT = t.custom_activity_type
SHARED = "shared"  # the ``custom_field.object_type`` of shared fields


@dataclass(frozen=True)
class Target:
    """An object type holding custom values (one custom activity type for activities)."""

    object_type: str  # lead | contact | opportunity | activity
    activity_type_id: str | None = None

    @property
    def association(self) -> str:
        """Its name in Close's association URLs and in ``custom_field_association.target``."""
        if self.object_type == "activity":
            return f"custom_activity_type/{self.activity_type_id}"
        return self.object_type

    def regular(self) -> tuple[ColumnElement[bool], ...]:
        """Which ``custom_field`` rows are its regular fields."""
        if self.object_type == "activity":
            return (
                CF.c.object_type == self.object_type,
                CF.c.custom_activity_type_id == self.activity_type_id,
            )
        return (CF.c.object_type == self.object_type,)


@dataclass(frozen=True)
class Member:
    """One field of a target's schema: its definition and, for a shared field, the
    association that attaches it here."""

    field: Row[Any]
    association: Row[Any] | None

    @property
    def position(self) -> int:
        return int((self.association or self.field).position)

    @property
    def required(self) -> bool:
        return bool((self.association or self.field).required)


def target_of(row: Row[Any]) -> Target:
    """The target of a regular field or of an association row."""
    return Target(row.object_type, row.custom_activity_type_id)


def members(conn: Connection, org_id: str, target: Target) -> list[Member]:
    """The target's fields in display order."""
    regular = conn.execute(select(CF).where(CF.c.organization_id == org_id, *target.regular()))
    assocs = {
        a.custom_field_id: a
        for a in conn.execute(
            select(ASSOC).where(
                ASSOC.c.organization_id == org_id, ASSOC.c.target == target.association
            )
        )
    }
    shared = conn.execute(
        select(CF).where(CF.c.organization_id == org_id, CF.c.id.in_(list(assocs)))
    )
    found = [Member(r, None) for r in regular] + [Member(r, assocs[r.id]) for r in shared]
    rank = _type_order(conn, org_id, target)
    return sorted(
        found,
        key=lambda m: (rank.get(m.field.id, len(rank)), m.position, m.field.date_created),
    )


def _type_order(conn: Connection, org_id: str, target: Target) -> dict[str, int]:
    if target.object_type != "activity":
        return {}
    order = conn.execute(
        select(CAT.c.field_order).where(
            CAT.c.organization_id == org_id, CAT.c.id == target.activity_type_id
        )
    ).scalar()
    return {field_id: i for i, field_id in enumerate(order or [])}


def next_position(conn: Connection, org_id: str, target: Target) -> int:
    """A position after every field the target's schema holds (new fields go last)."""
    regular = conn.execute(
        select(func.max(CF.c.position)).where(CF.c.organization_id == org_id, *target.regular())
    ).scalar()
    shared = conn.execute(
        select(func.max(ASSOC.c.position)).where(
            ASSOC.c.organization_id == org_id, ASSOC.c.target == target.association
        )
    ).scalar()
    return max((p for p in (regular, shared) if p is not None), default=-1) + 1


def place(conn: Connection, org_id: str, target: Target, ordered: list[Member]) -> None:
    """Store ``ordered`` as the target's display order."""
    for position, member in enumerate(ordered):
        if member.association is None:
            conn.execute(
                update(CF)
                .where(CF.c.organization_id == org_id, CF.c.id == member.field.id)
                .values(position=position)
            )
        else:
            conn.execute(
                update(ASSOC)
                .where(
                    ASSOC.c.organization_id == org_id,
                    ASSOC.c.custom_field_id == member.field.id,
                    ASSOC.c.target == target.association,
                )
                .values(position=position)
            )
    if target.object_type == "activity":
        # The type's own ``fields`` order (custom_activity_types.py) follows the schema's.
        conn.execute(
            update(CAT)
            .where(CAT.c.organization_id == org_id, CAT.c.id == target.activity_type_id)
            .values(field_order=[m.field.id for m in ordered])
        )
