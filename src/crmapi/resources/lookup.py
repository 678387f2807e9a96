"""Reading one of the caller's rows by id: the organization scope and Close's 404 in one place."""

from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, select

from crmapi.domain.errors import object_not_found


def scoped_row(
    conn: Connection,
    table: Table,
    org_id: str,
    row_id: str,
    name: str,
    *where: ColumnElement[bool],
) -> Row[Any]:
    """The organization's ``table`` row with this id, or a 404 naming ``name``: another
    organization's row is as absent as one that never existed."""
    row = conn.execute(
        select(table).where(table.c.organization_id == org_id, table.c.id == row_id, *where)
    ).first()
    if row is None:
        raise object_not_found(name)
    return row
