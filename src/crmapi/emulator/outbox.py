"""``/_crmapi/orgs/{org}/outbox``: what crmapi "sent" for the organization (nothing leaves
the machine): each email or SMS sent from the outbox (now, after ``send_in``, or when its
schedule came), as its recipients saw it, oldest first. Messages logged as already sent
(imports, seed history) were never sent by crmapi and are not listed. ``DELETE`` clears the
list (the activities stay; they are the organization's data).

The list is read from Close's ``sent`` events, so it follows their 30-day retention.
"""

from typing import Any

from sqlalchemy import Connection, insert, select

from crmapi.activities import store
from crmapi.domain.errors import InvalidRequest
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.storage import tables as t

KINDS = {"email": "Email", "sms": "SMS"}
OUTGOING = frozenset({"outgoing", "outbound"})
C = t.emulator_outbox_cleared
E = t.event
EVENT_TYPES = {"Email": "activity.email", "SMS": "activity.sms"}


def _email(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "sender": obj.get("sender"),
        "to": obj.get("to") or [],
        "cc": obj.get("cc") or [],
        "bcc": obj.get("bcc") or [],
        "subject": obj.get("subject"),
        "body_text": obj.get("body_text"),
        "body_html": obj.get("body_html"),
        "attachments": obj.get("attachments") or [],
        "message_id": (obj.get("envelope") or {}).get("message_id"),
        "in_reply_to": (obj.get("envelope") or {}).get("in_reply_to"),
        "template_id": obj.get("template_id"),
    }


def _sms(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "local_phone": obj.get("local_phone"),
        "to": [obj["remote_phone"]] if obj.get("remote_phone") else [],
        "remote_phone": obj.get("remote_phone"),
        "text": obj.get("text"),
        "attachments": obj.get("attachments") or [],
        "template_id": obj.get("template_id"),
    }


_RENDER = {"Email": _email, "SMS": _sms}


def sent_messages(conn: Connection, org: str, types: list[str]) -> list[dict[str, Any]]:
    cleared = select(C.c.activity_id).where(C.c.organization_id == org)
    sent = select(E.c.object_id, E.c.date_created, E.c.id).where(
        E.c.organization_id == org,
        E.c.action == "sent",
        E.c.object_type.in_([EVENT_TYPES[name] for name in types]),
        E.c.object_id.not_in(cleared),
    )
    # In the order they were sent (event times are strictly increasing per organization).
    order = {r[0]: (r[1], r[2]) for r in conn.execute(sent).all()}
    rows = store.fetch_by(conn, org, store.A.c.id.in_(list(order)))
    out = []
    for obj in store.render_rows(conn, rows):
        if obj.get("direction") not in OUTGOING:
            continue
        out.append(
            {
                "kind": "email" if obj["_type"] == "Email" else "sms",
                "id": obj["id"],
                "lead_id": obj["lead_id"],
                "contact_id": obj["contact_id"],
                "user_id": obj["user_id"],
                "date_sent": obj.get("date_sent"),
                **_RENDER[obj["_type"]](obj),
            }
        )
    return sorted(out, key=lambda m: order[m["id"]])


def _types(ctx: PlaneCtx) -> list[str]:
    kind = ctx.params.get("kind")
    if not kind:
        return list(KINDS.values())
    if kind not in KINDS:
        raise InvalidRequest(field_errors={"kind": "Must be email or sms."})
    return [KINDS[kind]]


def get_outbox(ctx: PlaneCtx) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return {"data": sent_messages(conn, ctx.org, _types(ctx))}


def clear_outbox(ctx: PlaneCtx) -> None:
    with ctx.db.write() as conn:
        ids = [m["id"] for m in sent_messages(conn, ctx.org, _types(ctx))]
        if ids:
            conn.execute(insert(C), [{"organization_id": ctx.org, "activity_id": i} for i in ids])


_KIND = {"name": "kind", "in": "query", "schema": {"enum": list(KINDS)}}
OPS = [
    PlaneOp("GET", "/orgs/{org}/outbox", get_outbox, "org",
            "Emails and SMS sent (?kind=email|sms), oldest first"),
    PlaneOp("DELETE", "/orgs/{org}/outbox", clear_outbox, "org", "Clear the outbox list",
            status=204),
]  # fmt: skip
