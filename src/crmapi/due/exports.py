"""Exports run as due work: each step (load the selection, then one batch of objects, the
last one assembling the file) is one item at the job's ``due_at``, so ``advance`` runs an
export to ``done`` step by step in time order and the background worker runs it by itself on
a real clock."""

from typing import Any

from sqlalchemy import Connection

from crmapi.domain.clock import OrgClock
from crmapi.domain.context import Context, Principal
from crmapi.domain.errors import APIError
from crmapi.due import due_rows
from crmapi.resources import exports
from crmapi.settings import Settings
from crmapi.storage.db import Database

E = exports.E


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    return due_rows.pending_on(conn, E, E.c.due_at, org, until, limit)


def fire(
    db: Database, settings: Settings, org: str, export_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    with db.write() as conn:
        row = due_rows.locked(conn, E, org, export_id, due)
        if row is None:
            return []
        ctx = Context(Principal(org, row.created_by, clock=org_clock), tz=_tz(row.data))
        try:
            with conn.begin_nested():
                done = exports.step(conn, ctx, row)
        except APIError:
            done = exports.fail(conn, ctx, row)
    return [{"kind": f"export.{row.kind}", "id": export_id, "at": due, **done}]


def _tz(data: Any) -> float:
    return float((data or {}).get("tz", 0.0))
