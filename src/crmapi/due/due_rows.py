"""The queries most due kinds share: rows of one table whose due column has come, and the
one row a step is about to run."""

from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Row, Table, select

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


def locked(conn: Connection, table: Table, org: str, row_id: str, due: str) -> Row[Any] | None:
    """The row whose step is due at ``due``, locked (PostgreSQL) and matched on ``due_at``:
    a background round and an advance never both run the same step (None: it already ran)."""
    return conn.execute(
        select(table)
        .where(table.c.organization_id == org, table.c.id == row_id, table.c.due_at == due)
        .with_for_update()
    ).first()
