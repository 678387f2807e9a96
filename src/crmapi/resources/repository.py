"""The one repository every resource reads through: rows scoped to the caller's organization,
Close's 404 for an id it does not hold, and the rule that a referenced object must exist.

Another organization's row is exactly as absent as one that never existed, everywhere.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, delete, insert, select, update

from crmapi.domain.context import Actor
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest, object_not_found
from crmapi.domain.fields import Field
from crmapi.events.emit import emit_change
from crmapi.resources.spec import ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

# What a ``Field.references`` name points at ("user" is a membership of the organization).
REFERENCE_TABLES: dict[str, Table] = {
    "lead": t.lead,
    "contact": t.contact,
    "pipeline": t.pipeline,
    "custom_activity_type": t.custom_activity_type,
}


def scoped_row(
    conn: Connection,
    table: Table,
    org_id: str,
    row_id: str,
    model: str,
    *where: ColumnElement[bool],
) -> Row[Any]:
    """The organization's ``table`` row with this id, or a 404 naming ``model``."""
    row = conn.execute(
        select(table).where(table.c.organization_id == org_id, table.c.id == row_id, *where)
    ).first()
    if row is None:
        raise object_not_found(model)
    return row


def get_row(conn: Connection, spec: ResourceSpec, org_id: str, row_id: str) -> Row[Any]:
    """One row of a declared resource (within its ``where``), or Close's 404."""
    assert spec.table is not None, spec.name
    return scoped_row(conn, spec.table, org_id, row_id, spec.model, *spec.where)


def render_one(
    conn: Connection, spec: ResourceSpec, org_id: str, row_id: str, tz: float = 0.0
) -> dict[str, Any]:
    """One object of a declared resource as the API renders it, or Close's 404."""
    assert spec.render is not None, spec.name
    return spec.render(conn, org_id, [get_row(conn, spec, org_id, row_id)], tz)[0]


def exists(conn: Connection, table: Table, org_id: str, object_id: str) -> bool:
    found = conn.execute(
        select(table.c.id).where(table.c.organization_id == org_id, table.c.id == object_id)
    ).first()
    return found is not None


def is_member(conn: Connection, org_id: str, user_id: str) -> bool:
    m = t.membership
    found = conn.execute(
        select(m.c.id).where(m.c.organization_id == org_id, m.c.user_id == user_id)
    ).first()
    return found is not None


def _found(conn: Connection, org_id: str, kind: str, object_id: str) -> bool:
    if kind == "user":
        return is_member(conn, org_id, object_id)
    return exists(conn, REFERENCE_TABLES[kind], org_id, object_id)


def missing_references(
    conn: Connection, org_id: str, fields: Iterable[Field], values: Mapping[str, Any]
) -> dict[str, str]:
    """Field errors for every reference field in ``values`` naming nothing the organization
    holds (null and absent values are not references)."""
    errors: dict[str, str] = {}
    for f in fields:
        value = values.get(f.name)
        if f.references and value is not None and not _found(conn, org_id, f.references, value):
            errors[f.key] = DOES_NOT_EXIST
    return errors


def check_references(
    conn: Connection, org_id: str, fields: Iterable[Field], values: Mapping[str, Any]
) -> None:
    """One 400 naming every reference field whose object does not exist in the organization."""
    errors = missing_references(conn, org_id, fields, values)
    if errors:
        raise InvalidRequest(field_errors=errors)


def contact_lead(conn: Connection, org_id: str, contact_id: str) -> str | None:
    """The lead a contact belongs to (None: no such contact in the organization)."""
    c = t.contact
    return conn.execute(
        select(c.c.lead_id).where(c.c.organization_id == org_id, c.c.id == contact_id)
    ).scalar()


def contact_on_lead(
    conn: Connection, org_id: str, contact_id: str | None, lead_id: str
) -> dict[str, str]:
    """A contact named by a lead's child (an opportunity, a task) must be one of that lead's."""
    if contact_id is None:
        return {}
    owner = contact_lead(conn, org_id, contact_id)
    if owner is None:
        return {"contact": DOES_NOT_EXIST}
    if owner != lead_id:
        return {"contact": "The contact belongs to another lead."}
    return {}


def touch_lead(conn: Connection, org_id: str, lead_id: str, user_id: str, now: str) -> None:
    """A change to one of a lead's children counts as a change to the lead."""
    lead = t.lead
    conn.execute(
        update(lead)
        .where(lead.c.organization_id == org_id, lead.c.id == lead_id)
        .values(date_updated=now, updated_by=user_id)
    )


# --- writes of a declared resource ---
# One create, update and delete for every resource whose object is one row of its table:
# the organization's row only, the audit columns stamped, and the declared event written
# with the rendered object before and after (no event when the resource declares none).


def _emit(
    conn: Connection,
    spec: ResourceSpec,
    ctx: Actor,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    if spec.event_type:
        emit_change(conn, ctx, spec.object_type(after or before or {}), action, before, after)


def _scope(spec: ResourceSpec, org_id: str, row_id: str) -> tuple[ColumnElement[bool], ...]:
    assert spec.table is not None, spec.name
    return (spec.table.c.organization_id == org_id, spec.table.c.id == row_id, *spec.where)


def insert_row(
    conn: Connection, spec: ResourceSpec, ctx: Actor, values: Mapping[str, Any]
) -> dict[str, Any]:
    """Create one object from its column ``values``; the object as the API renders it."""
    assert spec.table is not None, spec.name
    row_id = new_id(spec.id_prefix)
    now = dates.now()
    audit = {
        "created_by": ctx.user_id,
        "updated_by": ctx.user_id,
        "date_created": now,
        "date_updated": now,
    }
    # ``values`` may set an audit column itself (one instant for another date it stamps).
    conn.execute(
        insert(spec.table).values(id=row_id, organization_id=ctx.org, **{**audit, **values})
    )
    created = render_one(conn, spec, ctx.org, row_id)
    _emit(conn, spec, ctx, "created", None, created)
    return created


def update_row(
    conn: Connection,
    spec: ResourceSpec,
    ctx: Actor,
    before: dict[str, Any],
    values: Mapping[str, Any],
) -> dict[str, Any]:
    """Apply column ``values`` to the object ``before`` (rendered by ``render_one``, which
    answered the 404 for an id the organization does not hold); the object after.
    ``values`` may set ``date_updated`` itself (one instant for another date it stamps)."""
    assert spec.table is not None, spec.name
    conn.execute(
        update(spec.table)
        .where(*_scope(spec, ctx.org, before["id"]))
        .values(**{"updated_by": ctx.user_id, "date_updated": dates.now(), **values})
    )
    after = render_one(conn, spec, ctx.org, before["id"])
    _emit(conn, spec, ctx, "updated", before, after)
    return after


def delete_row(conn: Connection, spec: ResourceSpec, ctx: Actor, row_id: str) -> None:
    """Delete one object (or stamp its ``soft_delete`` column), or Close's 404."""
    assert spec.table is not None, spec.name
    before = render_one(conn, spec, ctx.org, row_id)
    scope = _scope(spec, ctx.org, row_id)
    if spec.soft_delete:
        now = dates.now()
        stamp = {spec.soft_delete: now, "updated_by": ctx.user_id, "date_updated": now}
        conn.execute(update(spec.table).where(*scope).values(**stamp))
    else:
        conn.execute(delete(spec.table).where(*scope))
    _emit(conn, spec, ctx, "deleted", before, None)


def save_step(
    conn: Connection,
    spec: ResourceSpec,
    ctx: Actor,
    before: dict[str, Any],
    changes: Mapping[str, Any],
    finished: bool,
) -> dict[str, Any]:
    """Store one step of a background job (a bulk action, an export): its changes, when its
    next step is due (never, once finished), its ``updated`` event and at the end its
    ``completed`` one; the job after."""
    assert spec.table is not None, spec.name
    now = dates.now()
    conn.execute(
        update(spec.table)
        .where(*_scope(spec, ctx.org, before["id"]))
        .values(**{"due_at": None if finished else now, "date_updated": now, **changes})
    )
    after = render_one(conn, spec, ctx.org, before["id"])
    _emit(conn, spec, ctx, "updated", before, after)
    if finished:
        _emit(conn, spec, ctx, "completed", None, after)
    return after


def names(conn: Connection, table: Table, org_id: str, ids: set[str | None]) -> dict[str, Any]:
    """``name`` of each of the organization's ``table`` rows named in ``ids`` (None skipped)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = conn.execute(
        select(table.c.id, table.c.name).where(
            table.c.organization_id == org_id, table.c.id.in_(wanted)
        )
    )
    return {r.id: r.name for r in rows}
