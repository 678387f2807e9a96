"""Scheduled emails and SMS (and ``send_in``-delayed ones) are sent when their time comes.

Sending goes through the same steps as a write from the API: the type's ``prepare`` (status
machine, ``date_sent``, Message-ID), the stored row, ``updated`` and ``sent`` events (and so
webhooks), and the thread's ``after_write``.
"""

import logging
from typing import Any

from sqlalchemy import Connection, select

from crmapi.activities import store, write
from crmapi.activities.context import WriteContext
from crmapi.activities.due import MESSAGE_TYPES
from crmapi.domain.clock import OrgClock
from crmapi.domain.context import Principal
from crmapi.domain.errors import APIError
from crmapi.due import due_rows
from crmapi.settings import Settings
from crmapi.storage.db import Database
from crmapi.util import dates

log = logging.getLogger("crmapi.due")
A = store.A
DUE_STATUSES = ("scheduled", "outbox")


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    return due_rows.pending_on(conn, A, A.c.due_at, org, until, limit)


def send_now(wc: WriteContext, activity_id: str) -> dict[str, Any] | None:
    """Move a scheduled or outbox message to ``sent`` now; None if it is no longer due."""
    row = store.fetch_one(wc.conn, wc.org, activity_id, None)
    if row is None or row.type not in MESSAGE_TYPES:
        return None
    spec = store.spec_of(row.type)
    existing = write.load(wc, spec, activity_id)
    if existing["status"] not in DUE_STATUSES:
        return None
    # The send is the draft-to-outbox step Close's sender takes when the time comes.
    sent = {"status": "outbox", "date_scheduled": existing.get("date_scheduled")}
    full = {**existing, **sent}
    assert spec.prepare is not None
    spec.prepare(wc, full, sent, {**existing, "status": "draft"})
    full["activity_at"] = full.get("activity_at") or full["date_created"]
    full["date_updated"] = wc.now
    store.update_activity(wc.conn, wc.org, full)
    updated = write.load(wc, spec, activity_id)
    wc.emit(spec, "updated", existing, updated)
    if spec.extra_actions is not None:
        for action in spec.extra_actions(sent, existing, updated):
            wc.emit(spec, action, None, updated)
    if spec.after_write is not None:
        spec.after_write(wc, existing, updated)
    return updated


def fire(
    db: Database, settings: Settings, org: str, activity_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    try:
        return _send(db, org, activity_id, due, org_clock)
    except APIError as exc:
        # A message that cannot be sent (its sender was removed...) ends in ``error``, as a
        # failed send does in Close, instead of coming due again forever.
        log.warning("scheduled message %s of %s could not be sent: %s", activity_id, org, exc)
        return _failed(db, org, activity_id, org_clock, str(exc))


def _locked(conn: Connection, org: str, activity_id: str, due: str) -> Any:
    # Lock the row (PostgreSQL) so a background round and an advance never both send it.
    return conn.execute(
        select(A.c.user_id, A.c.type)
        .where(A.c.organization_id == org, A.c.id == activity_id, A.c.due_at == due)
        .with_for_update()
    ).first()


def _context(conn: Connection, org: str, user_id: str, org_clock: OrgClock) -> WriteContext:
    return WriteContext(
        conn=conn,
        principal=Principal(org, user_id, clock=org_clock),
        meta={"request_method": None, "request_path": None},
    )


def _send(
    db: Database, org: str, activity_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    with db.write() as conn:
        row = _locked(conn, org, activity_id, due)
        if row is None:
            return []
        sent = send_now(_context(conn, org, row.user_id, org_clock), activity_id)
    if sent is None:
        return []
    kind = "email" if row.type == "Email" else "sms"
    return [{"kind": f"{kind}.sent", "id": activity_id, "at": sent["date_sent"] or dates.now()}]


def _failed(
    db: Database, org: str, activity_id: str, org_clock: OrgClock, error: str
) -> list[dict[str, Any]]:
    with db.write() as conn:
        row = store.fetch_one(conn, org, activity_id, None)
        if row is None:
            return []
        wc = _context(conn, org, row.user_id, org_clock)
        spec = store.spec_of(row.type)
        before = write.load(wc, spec, activity_id)
        attempt = {"date": wc.now, "error_class": "send_failed", "error_message": error}
        failure = (
            {"send_attempts": [*before.get("send_attempts", []), attempt]}
            if row.type == "Email"
            else {"error_message": error}
        )
        full = {**before, **failure, "status": "error", "date_updated": wc.now}
        store.update_activity(conn, org, full)
        wc.emit(spec, "updated", before, write.load(wc, spec, activity_id))
    return [{"kind": "message.failed", "id": activity_id, "at": wc.now, "error": error}]
