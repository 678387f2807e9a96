"""Bulk actions run as due work: each step (load the selection, then one batch of leads) is
one item at the job's ``due_at``, so ``advance`` runs a job to ``done`` step by step in time
order and the background worker runs it by itself on a real clock."""

from typing import Any

from sqlalchemy import Connection

from crmapi.domain.clock import OrgClock
from crmapi.domain.context import Principal
from crmapi.due import due_rows
from crmapi.resources import bulk_actions
from crmapi.settings import Settings
from crmapi.storage.db import Database

B = bulk_actions.B


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    return due_rows.pending_on(conn, B, B.c.due_at, org, until, limit)


def fire(
    db: Database, settings: Settings, org: str, job_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    with db.write() as conn:
        row = due_rows.locked(conn, B, org, job_id, due)
        if row is None:
            return []
        ctx = bulk_actions.BulkContext(
            Principal(org, row.created_by, clock=org_clock), bulk_action_id=job_id
        )
        done = bulk_actions.step(conn, ctx, row)
    return [{"kind": f"bulk_action.{row.kind}", "id": job_id, "at": due, **done}]
