"""A sequence subscription's state as stored and rendered, and the changes of state everything
else causes (more.md §5.2-5.3): a pause, a resume, the end of a run.

Kept apart from the subscription resource (``sequence_subscriptions.py``) and from the step
runner (``sequence_steps.py``) so the email type can pause subscriptions on a reply without
importing the code that writes emails (which imports the email type back).
"""

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection, Row, select, update

from crmapi.domain.context import Principal
from crmapi.events.emit import emit
from crmapi.storage import tables as t
from crmapi.util import dates

S = t.sequence_subscription
STATUSES = ("active", "paused", "finished", "goal", "error")  # Close's WorkflowRunStatus
# Close's StatusReason enum, whole (only some of these happen here).
STATUS_REASONS = (
    "manual",
    "pending-call-timed-out",
    "bulk-action",
    "rate-limited",
    "sequence-deleted",
    "workflow-paused",
    "filter-not-matched",
    "reply-received",
    "call-answered",
    "meeting-booked",
    "lead-status-changed",
    "outcome-met",
    "account-invalid",
    "account-failures",
    "sending-throttled-too-long",
    "membership-inactive",
    "send-as-error",
    "email-bounced",
    "call-failed",
    "sms-failed",
    "no-user-phone",
    "billing-error",
    "assignment-field-invalid",
    "lead-status-field-invalid",
    "assignees-missing",
    "run-as-disabled",
    "lead-not-visible",
    "internal-error",
    "field-mapping-error",
    "filter-config-invalid",
    "email-ai-generation-failed",
)
# What a subscription shows of its ``data`` column, in Close's key order.
DATA_KEYS = (
    "contact_email",
    "sender_account_id",
    "sender_name",
    "sender_email",
    "calls_assigned_to",
    "start_date",
)


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        data = r.data or {}
        out.append(
            {
                "id": r.id,
                "organization_id": r.organization_id,
                "sequence_id": r.sequence_id,
                "contact_id": r.contact_id,
                "lead_id": r.lead_id,
                **{key: data.get(key) for key in DATA_KEYS},
                "calls_assigned_to": list(data.get("calls_assigned_to") or []),
                "status": r.status,
                "status_reason": r.status_reason,
                "created_by_id": r.created_by,
                "updated_by_id": r.updated_by,
                "date_created": r.date_created,
                "date_updated": r.date_updated,
            }
        )
    return out


def row(conn: Connection, org: str, sub_id: str) -> Row[Any] | None:
    return conn.execute(select(S).where(S.c.organization_id == org, S.c.id == sub_id)).first()


def rendered(conn: Connection, org: str, sub_id: str) -> dict[str, Any]:
    found = row(conn, org, sub_id)
    assert found is not None, sub_id
    return render_rows(conn, org, [found])[0]


def change(
    conn: Connection,
    principal: Principal,
    sub_id: str,
    values: dict[str, Any],
    meta: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Apply ``values`` to one subscription's row; its ``updated`` event; the new object."""
    org = principal.organization_id
    before = rendered(conn, org, sub_id)
    conn.execute(
        update(S)
        .where(S.c.organization_id == org, S.c.id == sub_id)
        .values(**values, updated_by=principal.user_id, date_updated=dates.now())
    )
    after = rendered(conn, org, sub_id)
    emit(
        conn,
        principal,
        object_type="sequence_subscription",
        action="updated",
        object_id=sub_id,
        lead_id=after["lead_id"],
        before=before,
        after=after,
        request_id=request_id,
        meta=meta,
    )
    return after


def _replied_to(sub: Row[Any], email: dict[str, Any], sender: str) -> bool:
    data = sub.data or {}
    return (
        sub.contact_id == email.get("contact_id")
        or str(data.get("contact_email") or "").lower() == sender
        or (data.get("thread_id") is not None and data.get("thread_id") == email.get("thread_id"))
    )


def pause_on_reply(
    conn: Connection, principal: Principal, email: dict[str, Any], meta: dict[str, Any]
) -> list[str]:
    """An incoming email on a lead pauses its active subscriptions it answers: from their
    contact (by contact or address) or in the thread a step wrote (``reply-received``)."""
    if email.get("direction") != "incoming" or not email.get("lead_id"):
        return []
    sender = parseaddr(str(email.get("sender") or ""))[1].lower()
    subs = conn.execute(
        select(S).where(
            S.c.organization_id == principal.organization_id,
            S.c.lead_id == email["lead_id"],
            S.c.status == "active",
        )
    ).all()
    paused = [sub.id for sub in subs if _replied_to(sub, email, sender)]
    for sub_id in paused:
        change(
            conn, principal, sub_id, {"status": "paused", "status_reason": "reply-received"}, meta
        )
    return paused


def _phones(conn: Connection, org: str, contact_id: str) -> set[str]:
    C = t.contact
    phones = conn.execute(
        select(C.c.phones).where(C.c.organization_id == org, C.c.id == contact_id)
    ).scalar()
    return {str(p.get("phone")) for p in phones or [] if isinstance(p, dict) and p.get("phone")}


def pause_on_text(
    conn: Connection, principal: Principal, sms: dict[str, Any], meta: dict[str, Any]
) -> list[str]:
    """An SMS received on a lead pauses its active subscriptions whose contact sent it (by
    contact, or by one of the contact's phone numbers) (``reply-received``)."""
    if sms.get("direction") != "inbound" or sms.get("status") != "inbox" or not sms.get("lead_id"):
        return []
    org = principal.organization_id
    subs = conn.execute(
        select(S).where(
            S.c.organization_id == org, S.c.lead_id == sms["lead_id"], S.c.status == "active"
        )
    ).all()
    paused = [
        sub.id
        for sub in subs
        if sub.contact_id == sms.get("contact_id")
        or sms.get("remote_phone") in _phones(conn, org, sub.contact_id)
    ]
    for sub_id in paused:
        change(
            conn, principal, sub_id, {"status": "paused", "status_reason": "reply-received"}, meta
        )
    return paused
