"""An email's ``followup_date``: Close creates an email follow-up task when no reply has
arrived by then. Accepted on create and update for emails that go out (``scheduled``,
``outbox``, ``sent``) and kept in ``email_followup``, never in the email (Close's Email object
has no such field). The clock's due work (``due/followups.py``) makes the task.
"""

from typing import Any

from sqlalchemy import Connection, delete, insert

from crmapi.storage import tables as t

FOLLOWUP = t.email_followup
FIELD = "followup_date"
# Close: "For scheduled, outbox, or sent emails, a followup_date may be posted".
FOLLOWED = frozenset({"scheduled", "outbox", "sent"})
_UNSENT = object()


def plan(wc: Any, obj: dict[str, Any], sent: dict[str, Any]) -> None:
    """Record, move or drop the follow-up of ``obj`` as this write leaves it."""
    when = obj.pop(FIELD, None) if FIELD in sent else _UNSENT
    if obj["status"] not in FOLLOWED:
        # A draft (a cancelled schedule included), a received or failed email: nothing to
        # follow up. Close documents the field only for emails that go out.
        drop(wc.conn, wc.org, obj["id"])
        return
    if when is _UNSENT:
        return
    drop(wc.conn, wc.org, obj["id"])
    if when is not None:
        wc.conn.execute(
            insert(FOLLOWUP).values(
                id=obj["id"], organization_id=wc.org, due_at=when, date_created=wc.now
            )
        )


def drop(conn: Connection, org: str, email_id: str) -> None:
    conn.execute(
        delete(FOLLOWUP).where(FOLLOWUP.c.organization_id == org, FOLLOWUP.c.id == email_id)
    )
