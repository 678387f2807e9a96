"""Running one step of a subscription when its time comes (more.md §5.3).

An email step writes an outgoing email rendered from its template for the contact (``outbox``:
"sent" at once, into the emulator's outbox; nothing leaves the machine), an SMS step an SMS
from its template, a call step an ``outgoing_call`` task for the first of ``calls_assigned_to``
(else the subscriber). Each carries ``sequence_id``, ``sequence_name`` and
``sequence_subscription_id``. ``threading: old_thread`` replies into the previous step's email.

Before a step runs, the run is checked against what changed since it was planned: a sequence
no longer active pauses it (``workflow-paused``); a contact deleted, or without the sequenced
address any more, pauses it (``filter-not-matched``); an SMS step for a contact without a
phone ends it in ``error`` (``sms-failed``). After the last step it is ``finished``.
"""

from dataclasses import replace
from email.utils import formataddr
from typing import Any

from sqlalchemy import Connection, Row, select

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Context
from crmapi.resources import sequence_runs, sequence_subscriptions, tasks
from crmapi.storage import tables as t
from crmapi.util import dates

Outcome = tuple[dict[str, Any], dict[str, Any]]  # (what the step wrote, subscription changes)


def _sequence(conn: Connection, org: str, sequence_id: str) -> Row[Any] | None:
    Q = t.sequence
    return conn.execute(select(Q).where(Q.c.organization_id == org, Q.c.id == sequence_id)).first()


def _contact(conn: Connection, org: str, contact_id: str) -> Row[Any] | None:
    C = t.contact
    return conn.execute(select(C).where(C.c.organization_id == org, C.c.id == contact_id)).first()


def _tags(sequence: Row[Any], sub: Row[Any]) -> dict[str, Any]:
    return {
        "sequence_id": sequence.id,
        "sequence_name": sequence.name,
        "sequence_subscription_id": sub.id,
    }


def _email(ctx: Context, conn: Connection, sequence: Row[Any], sub: Row[Any], step: Any) -> Outcome:
    data = sub.data or {}
    contact = _contact(conn, ctx.org, sub.contact_id)
    body: dict[str, Any] = {
        "lead_id": sub.lead_id,
        "contact_id": sub.contact_id,
        "status": "outbox",
        "sender": formataddr((data.get("sender_name") or "", data["sender_email"])),
        "to": [formataddr((contact.name or "" if contact else "", data["contact_email"]))],
        "template_id": step["email_template_id"],
        "email_account_id": data.get("sender_account_id"),
    }
    previous = data.get("last_email_id")
    if step.get("threading") == "old_thread" and previous:
        body["in_reply_to_id"] = previous
        subject = str(data.get("last_subject") or "")
        body["subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    wc = write.write_context(ctx, conn)
    email = write.create(wc, BY_TYPE["Email"], body, _tags(sequence, sub))
    kept = {
        "last_email_id": email["id"],
        "last_subject": email["subject"],
        "thread_id": email["thread_id"],
    }
    return {"email_id": email["id"]}, {"data": {**data, **kept}}


def _local_phone(conn: Connection, org: str, user_id: str) -> str | None:
    P = t.phone_number
    return conn.execute(
        select(P.c.number).where(P.c.organization_id == org, P.c.user_id == user_id).limit(1)
    ).scalar()


def _sms(ctx: Context, conn: Connection, sequence: Row[Any], sub: Row[Any], step: Any) -> Outcome:
    contact = _contact(conn, ctx.org, sub.contact_id)
    numbers = [p.get("phone") for p in (contact.phones if contact else []) or [] if p.get("phone")]
    if not numbers:
        return {"skipped": "no_phone"}, {"status": "error", "status_reason": "sms-failed"}
    body = {
        "lead_id": sub.lead_id,
        "contact_id": sub.contact_id,
        "status": "outbox",
        "remote_phone": numbers[0],
        "local_phone": _local_phone(conn, ctx.org, ctx.user_id),
        "template_id": step["sms_template_id"],
    }
    wc = write.write_context(ctx, conn)
    sms = write.create(wc, BY_TYPE["SMS"], body, _tags(sequence, sub))
    return {"sms_id": sms["id"]}, {}


def _call(ctx: Context, conn: Connection, sequence: Row[Any], sub: Row[Any], step: Any) -> Outcome:
    assignees = list((sub.data or {}).get("calls_assigned_to") or [])
    caller = Context(replace(ctx.principal, user_id=assignees[0] if assignees else ctx.user_id))
    task = tasks.create_system(
        conn,
        caller,
        "outgoing_call",
        sub.lead_id,
        sub.contact_id,
        dates.now(),
        _tags(sequence, sub),
    )
    return {"task_id": task["id"]}, {}


STEP_TYPES = {"email": _email, "sms": _sms, "call": _call}


def _blocked(conn: Connection, ctx: Context, sequence: Row[Any] | None, sub: Row[Any]) -> Any:
    """Why the run cannot go on now (the subscription's new status and reason), or None."""
    if sequence is None:
        return {"status": "finished", "status_reason": "sequence-deleted", "due_at": None}
    if sequence.status != "active":
        return {"status": "paused", "status_reason": "workflow-paused"}
    email = str((sub.data or {}).get("contact_email") or "")
    if not sequence_subscriptions.matches(conn, ctx.org, sub.contact_id, email):
        return {"status": "paused", "status_reason": "filter-not-matched"}
    return None


def run(conn: Connection, ctx: Context, sub: Row[Any]) -> dict[str, Any]:
    """Run the subscription's next step (or stop it); what happened, for ``advance``."""
    sequence = _sequence(conn, ctx.org, sub.sequence_id)
    meta = {"request_method": None, "request_path": None}
    blocked = _blocked(conn, ctx, sequence, sub)
    if blocked is not None:
        after = sequence_runs.change(conn, ctx.principal, sub.id, blocked, meta)
        return {"status": after["status"], "status_reason": after["status_reason"]}
    assert sequence is not None
    steps = list(sequence.steps or [])
    if sub.step_index >= len(steps):  # steps removed by a PUT since it was planned
        done = {"status": "finished", "status_reason": None, "due_at": None}
        after = sequence_runs.change(conn, ctx.principal, sub.id, done, meta)
        return {"status": after["status"]}
    step = steps[sub.step_index]
    wrote, changes = STEP_TYPES[step["step_type"]](ctx, conn, sequence, sub, step)
    now = dates.now()
    data = dict(changes.pop("data", sub.data or {}))
    data["start_date"] = data.get("start_date") or now
    following = sub.step_index + 1
    due = sequence_subscriptions.first_due(sequence, now, following)
    changes = {"step_index": following, "due_at": due, "data": data, **changes}
    if changes.get("status") == "error":
        changes["due_at"] = None
    elif due is None:
        changes.update(status="finished", status_reason=None)
    after = sequence_runs.change(conn, ctx.principal, sub.id, changes, meta)
    return {
        "step_id": step["id"],
        "step_type": step["step_type"],
        **wrote,
        "status": after["status"],
    }
