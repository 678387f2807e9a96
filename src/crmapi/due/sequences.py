"""Sequence steps run as due work: an active subscription's next step is one item at its
``due_at``, so ``advance`` runs a subscription's steps one at a time in time order and the
background worker runs them by itself on a real clock. A paused (or ended) subscription is
not pending: its ``due_at`` is kept for a resume, and a step that came due meanwhile runs
at the first round after it."""

import logging
from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.clock import OrgClock
from crmapi.domain.context import Context, Principal
from crmapi.domain.errors import APIError
from crmapi.due import due_rows
from crmapi.resources import sequence_runs, sequence_steps
from crmapi.settings import Settings
from crmapi.storage.db import Database

log = logging.getLogger("crmapi.due")
S = sequence_runs.S
KIND = "sequence.step"


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    return due_rows.pending_on(conn, S, S.c.due_at, org, until, limit, S.c.status == "active")


def fire(
    db: Database, settings: Settings, org: str, sub_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    row: Any = None
    try:
        with db.write() as conn:
            # Locked (PostgreSQL) and matched on due_at and status: a background round and an
            # advance never both run the same step.
            row = conn.execute(
                select(S)
                .where(
                    S.c.organization_id == org,
                    S.c.id == sub_id,
                    S.c.due_at == due,
                    S.c.status == "active",
                )
                .with_for_update()
            ).first()
            if row is None:
                return []
            ctx = Context(Principal(org, row.created_by, clock=org_clock))
            done = sequence_steps.run(conn, ctx, row)
    except APIError as exc:
        # A step that cannot be written (its template was deleted...) ends the run in
        # ``error`` instead of coming due again forever.
        log.warning("sequence step of %s in %s failed: %s", sub_id, org, exc)
        with db.write() as conn:
            principal = Principal(org, row.created_by if row else "", clock=org_clock)
            failed = {"status": "error", "status_reason": "internal-error"}
            sequence_runs.change(conn, principal, sub_id, failed, {"request_method": None})
        return [{"kind": KIND, "id": sub_id, "at": due, "status": "error", "error": str(exc)}]
    return [{"kind": KIND, "id": sub_id, "at": due, **done}]
