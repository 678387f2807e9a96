"""``/_crmapi/orgs/{org}/test_helpers/...``: the outside world happening, recorded as Close
records it. Each helper goes through the same write path as the API (validation, threading,
events, webhooks): an inbound email threads onto the email it answers and sets its
``has_reply``; an open is appended to ``opens``; a bounce turns the email to ``error``."""

from typing import Any

from sqlalchemy import select

from crmapi.activities import store, write
from crmapi.activities.context import WriteContext
from crmapi.activities.registry import BY_TYPE
from crmapi.domain import clock
from crmapi.domain.context import Principal
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.emulator import _body
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.storage import tables as t
from crmapi.util import dates


def _context(ctx: PlaneCtx, conn: Any) -> WriteContext:
    """Inbound traffic is nobody's API call: the organization's owner, no key, no request."""
    owner = conn.execute(
        select(t.organization.c.created_by).where(t.organization.c.id == ctx.org)
    ).scalar()
    user = ctx.principal.user_id if ctx.principal else owner
    return WriteContext(
        conn=conn,
        principal=Principal(ctx.org, user),
        meta={"request_method": None, "request_path": None, "source": "crmapi_test_helper"},
    )


def _run(ctx: PlaneCtx, action: Any) -> dict[str, Any]:
    with ctx.db.read() as conn:
        org_clock = clock.load(conn, ctx.org)
    with clock.applied(org_clock, ctx.org), ctx.db.write() as conn:
        result: dict[str, Any] = action(_context(ctx, conn), _body.obj(ctx.body))
        return result


def _only(body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: body[k] for k in keys if k in body}


def _email_in(wc: WriteContext, body: dict[str, Any]) -> dict[str, Any]:
    sender = body.get("from") or body.get("sender")
    values = {
        **_only(
            body,
            (
                "lead_id",
                "contact_id",
                "to",
                "cc",
                "subject",
                "body_text",
                "body_html",
                "in_reply_to_id",
                "attachments",
                "message_ids",
                "references",
            ),
        ),  # fmt: skip
        "status": "inbox",
        "direction": "incoming",
        "sender": sender,
    }
    parent = body.get("in_reply_to_id")
    if parent and "lead_id" not in values:
        row = store.fetch_one(wc.conn, wc.org, str(parent), "Email")
        values["lead_id"] = row.lead_id if row is not None else None
    if parent and "subject" not in values:
        values["subject"] = "Re: " + str(_load(wc, str(parent)).get("subject") or "")
    created = write.create(wc, BY_TYPE["Email"], values)
    if parent:
        _touch(wc, str(parent), {"has_reply": True})
    return created


def _load(wc: WriteContext, activity_id: str) -> dict[str, Any]:
    return write.load(wc, BY_TYPE["Email"], activity_id)


def _touch(wc: WriteContext, activity_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change fields of an email that no client may write (has_reply, opens, send status),
    with its ``updated`` event, as Close's own mail pipeline does."""
    spec = BY_TYPE["Email"]
    before = _load(wc, activity_id)
    full = {**before, **changes, "date_updated": wc.now}
    store.update_activity(wc.conn, wc.org, full)
    after = _load(wc, activity_id)
    wc.emit(spec, "updated", before, after)
    if spec.after_write is not None:
        spec.after_write(wc, before, after)
    return after


def _sms_in(wc: WriteContext, body: dict[str, Any]) -> dict[str, Any]:
    values = {
        **_only(
            body, ("lead_id", "contact_id", "remote_phone", "local_phone", "text", "attachments")
        ),  # fmt: skip
        "status": "inbox",
        "direction": "inbound",
    }
    return write.create(wc, BY_TYPE["SMS"], values)


def _call_in(wc: WriteContext, body: dict[str, Any]) -> dict[str, Any]:
    values = {
        **_only(
            body,
            (
                "lead_id",
                "contact_id",
                "remote_phone",
                "local_phone",
                "duration",
                "disposition",
                "note",
                "recording_url",
                "voicemail_url",
                "voicemail_duration",
            ),
        ),  # fmt: skip
        "direction": "inbound",
        "status": "completed",
    }
    values.setdefault("disposition", "answered")
    return write.create(wc, BY_TYPE["Call"], values)


def _email_id(wc: WriteContext, body: dict[str, Any]) -> str:
    activity_id = body.get("activity_id")
    if (
        not isinstance(activity_id, str)
        or store.fetch_one(wc.conn, wc.org, activity_id, "Email") is None
    ):
        raise object_not_found("Email")
    return activity_id


def _opened(wc: WriteContext, body: dict[str, Any]) -> dict[str, Any]:
    activity_id = _email_id(wc, body)
    email = _load(wc, activity_id)
    at = _body.instant(body, "at") or dates.now()
    opens = [*email.get("opens", []), {
        "opened_at": at,
        "opened_by": body.get("opened_by") or (email.get("to") or [None])[0],
        "ip_address": body.get("ip_address"),
        "user_agent": body.get("user_agent"),
    }]  # fmt: skip
    summary = f"Opened {len(opens)} time{'s' if len(opens) != 1 else ''}"
    return _touch(wc, activity_id, {"opens": opens, "opens_summary": summary})


def _bounced(wc: WriteContext, body: dict[str, Any]) -> dict[str, Any]:
    activity_id = _email_id(wc, body)
    email = _load(wc, activity_id)
    if email.get("status") != "sent":
        raise InvalidRequest(["Only a sent email can bounce."])
    attempt = {
        "date": dates.now(),
        "error_class": "bounce",
        "error_message": str(body.get("error_message") or "550 Mailbox unavailable"),
    }
    return _touch(wc, activity_id, {
        "status": "error", "send_attempts": [*email.get("send_attempts", []), attempt],
    })  # fmt: skip


def _op(path: str, action: Any, summary: str, props: dict[str, Any]) -> PlaneOp:
    return PlaneOp(
        "POST",
        "/orgs/{org}/test_helpers/" + path,
        lambda ctx: _run(ctx, action),
        "org",
        summary,
        body_schema={"type": "object", "properties": props},
    )


_S = {"type": "string"}
OPS = [
    _op("inbound_email", _email_in, "An email arrives (threads onto in_reply_to_id)",
        {"lead_id": _S, "from": _S, "to": {"type": "array"}, "subject": _S, "body_text": _S,
         "in_reply_to_id": _S}),
    _op("inbound_sms", _sms_in, "An SMS arrives",
        {"lead_id": _S, "remote_phone": _S, "local_phone": _S, "text": _S}),
    _op("inbound_call", _call_in, "A call comes in",
        {"lead_id": _S, "remote_phone": _S, "duration": {"type": "integer"}, "disposition": _S}),
    _op("email_opened", _opened, "A recipient opens a sent email",
        {"activity_id": _S, "at": _S, "opened_by": _S}),
    _op("email_bounced", _bounced, "A sent email bounces",
        {"activity_id": _S, "error_message": _S}),
]  # fmt: skip
