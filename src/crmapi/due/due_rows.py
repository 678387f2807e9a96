"""The pending query most due kinds share: rows of one table whose due column has come."""

from sqlalchemy import Column, ColumnElement, Connection, Table, select

from crmapi.events.delivery import own_clocks


def pending_on(
    conn: Connection,
    table: Table,
    due: Column[str],
    org: str | None,
    until: str,
    limit: int,
    *where: ColumnElement[bool],
) -> list[tuple[str, str, str]]:
    """``(org, id, due)`` of ``table``'s rows due by ``until`` (and matching ``where``),
    earliest first: one organization's, or (``org`` None) those of every organization on
    wall time."""
    stmt = select(table.c.organization_id, table.c.id, due).where(
        due.is_not(None), due <= until, *where
    )
    if org is not None:
        stmt = stmt.where(table.c.organization_id == org)
    else:
        stmt = stmt.where(table.c.organization_id.not_in(own_clocks()))
    rows = conn.execute(stmt.order_by(due, table.c.id).limit(limit)).all()
    return [(r[0], r[1], r[2]) for r in rows]
