"""Email follow-ups: when an email's ``followup_date`` comes and no reply has arrived, Close
creates an ``email_followup`` task for the email's user (activities.md, create rules).

A reply is the email's ``has_reply`` (set by an inbound email that answers it) or any incoming
email in its thread since it was sent. An email that has not gone out by then (still
scheduled, cancelled, failed) gets no task: there is nothing to follow up yet. Either way the
follow-up is consumed, so it fires once.
"""

from typing import Any

from sqlalchemy import Connection, delete

from crmapi.activities import store
from crmapi.domain.clock import OrgClock
from crmapi.domain.context import Context, Principal
from crmapi.due import due_rows
from crmapi.resources import tasks
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database

F = t.email_followup
A = store.A
KIND = "email_followup"


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    return due_rows.pending_on(conn, F, F.c.due_at, org, until, limit)


def _claim(conn: Connection, org: str, email_id: str, due: str) -> bool:
    # Deleting the row is the claim: a background round and an advance never both fire it.
    result = conn.execute(
        delete(F).where(F.c.organization_id == org, F.c.id == email_id, F.c.due_at == due)
    )
    return bool(result.rowcount)


def _replied(conn: Connection, org: str, email: dict[str, Any]) -> bool:
    if email.get("has_reply"):
        return True
    since = email.get("date_sent") or email["date_created"]
    rows = store.fetch_by(
        conn,
        org,
        A.c.type == "Email",
        A.c.thread_id == email["thread_id"],
        A.c.id != email["id"],
        A.c.activity_at > since,
    )
    return any(other["direction"] == "incoming" for other in store.render_rows(conn, list(rows)))


def _skip_reason(conn: Connection, org: str, email: dict[str, Any] | None) -> str | None:
    if email is None:
        return "deleted"
    if email["status"] != "sent":
        return "not_sent"
    if _replied(conn, org, email):
        return "replied"
    return None


def fire(
    db: Database, settings: Settings, org: str, email_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    with db.write() as conn:
        if not _claim(conn, org, email_id, due):
            return []
        row = store.fetch_one(conn, org, email_id, "Email")
        email = store.render_rows(conn, [row])[0] if row is not None else None
        reason = _skip_reason(conn, org, email)
        if reason is not None or email is None:
            return [{"kind": "email.followup", "id": email_id, "at": due, "skipped": reason}]
        ctx = Context(Principal(org, email["user_id"], clock=org_clock))
        task = tasks.create_system(
            conn,
            ctx,
            KIND,
            email["lead_id"],
            email.get("contact_id"),
            due,
            {
                "email_id": email_id,
                "thread_id": email["thread_id"],
                "body_preview": email.get("body_preview") or "",
            },
        )
    return [{"kind": "email.followup", "id": email_id, "at": due, "task_id": task["id"]}]
