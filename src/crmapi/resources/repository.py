"""The one repository every resource reads through: rows scoped to the caller's organization,
Close's 404 for an id it does not hold, and the rule that a referenced object must exist.

Another organization's row is exactly as absent as one that never existed, everywhere.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, select, update

from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest, object_not_found
from crmapi.domain.fields import Field
from crmapi.resources.spec import ResourceSpec
from crmapi.storage import tables as t

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
