"""Emails: https://developer.close.com/api/resources/activities/emails.md

The status machine is shared with SMS (``_messages``); threading lives with the thread type
(``emailthread``). Everything derived (direction, envelope, preview, Message-ID) is computed
here on every write and stored, so reads are plain row rendering.
"""

import re
from datetime import datetime
from email.utils import formataddr, getaddresses, parseaddr
from typing import Any

from sqlalchemy import select

from crmapi.activities import sample as samples
from crmapi.activities import store
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types import _followup, emailthread
from crmapi.activities.types._messages import (
    apply_status,
    check_attachments,
    rfc2822,
    sent_action,
)
from crmapi.activities.types._shared import (
    COMMENT_SUMMARY,
    COMMUNICATION_DIRECTIONS,
    MESSAGE_STATUSES,
    SEQUENCE_FIELDS,
    USERS,
    readonly,
)
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field, FieldError, coerce
from crmapi.resources import sequence_runs, template_render
from crmapi.storage import tables as t
from crmapi.util import richtext

PREVIEW_FIELDS = emailthread.PREVIEW_FIELDS
PREVIEW_LENGTH = 200
SENDER_REQUIRED = frozenset({"inbox", "scheduled", "outbox", "error"})
ATTACHMENT_REQUIRED = ("url", "filename", "size")
ADDRESS_MAX = 1000
_OPENED_AT = Field("opened_at", "datetime", nullable=False)
_SPACES = re.compile(r"\s+")


def _addresses(values: list[str]) -> list[dict[str, str]]:
    return [{"email": addr, "name": name} for name, addr in getaddresses(values) if addr]


def _check_sender(obj: dict[str, Any], sent: dict[str, Any]) -> None:
    sender = obj.get("sender")
    if sender and "@" not in parseaddr(sender)[1]:
        raise InvalidRequest(field_errors={"sender": "Enter a valid email address."})
    status = obj["status"]
    if not sender and status in SENDER_REQUIRED:
        raise InvalidRequest(
            field_errors={"sender": f"This field is required when status is {status}."}
        )


def _user_address(wc: Any, user_id: str | None) -> str | None:
    """Close fills a sent email's missing ``sender`` with its user's address."""
    row = wc.conn.execute(
        select(t.user.c.email, t.user.c.first_name, t.user.c.last_name).where(
            t.user.c.id == (user_id or wc.principal.user_id)
        )
    ).first()
    if row is None:
        return None
    name = " ".join(part for part in (row.first_name, row.last_name) if part)
    return formataddr((name, row.email)) if name else str(row.email)


def _check_recipients(obj: dict[str, Any]) -> None:
    for key in ("to", "cc", "bcc"):
        if any(len(value) > ADDRESS_MAX for value in obj.get(key) or []):
            raise InvalidRequest(
                field_errors={key: f"Each address may be at most {ADDRESS_MAX} characters."}
            )


def _check_opens(opens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(opens):
        try:
            opened_at = coerce(_OPENED_AT, item.get("opened_at"))
        except FieldError as exc:
            raise InvalidRequest(field_errors={"opens": f"Open {index}: opened_at: {exc}"}) from exc
        out.append(
            {
                "opened_at": opened_at,
                "opened_by": item.get("opened_by"),
                "ip_address": item.get("ip_address"),
                "user_agent": item.get("user_agent"),
            }
        )
    return out


def _parent(wc: Any, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The email ``in_reply_to_id`` names: it must be an email of the organization."""
    parent_id = obj.get("in_reply_to_id")
    if not parent_id:
        return None
    row = store.fetch_one(wc.conn, wc.org, parent_id, "Email")
    if row is None:
        raise InvalidRequest(field_errors={"in_reply_to_id": DOES_NOT_EXIST})
    return {**row.data, "lead_id": row.lead_id}


def _reply_headers(obj: dict[str, Any], parent: dict[str, Any] | None) -> str | None:
    """The In-Reply-To header: the parent's Message-ID, else the last reference (RFC 5322)."""
    if parent is not None and parent.get("message_ids"):
        parent_id = str(parent["message_ids"][0])
        if parent_id not in obj["references"]:
            obj["references"] = [*obj["references"], parent_id]
        return parent_id
    kept = (obj.get("envelope") or {}).get("in_reply_to")
    if kept:
        return str(kept)
    return str(obj["references"][-1]) if obj["references"] else None


def _message_id(obj: dict[str, Any]) -> str:
    domain = parseaddr(obj.get("sender") or "")[1].rpartition("@")[2] or "crmapi.invalid"
    return f"<{obj['id']}@{domain}>"


def body_preview(obj: dict[str, Any]) -> str:
    """About 200 characters of plain text, without quoted lines."""
    text = obj.get("body_text") or ""
    if not text.strip() and obj.get("body_html"):
        text = richtext.to_text(str(obj["body_html"]))
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    flat = _SPACES.sub(" ", " ".join(lines)).strip()
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1].rstrip() + "…"


def envelope(obj: dict[str, Any], in_reply_to: str | None) -> dict[str, Any]:
    sender = _addresses([obj["sender"]]) if obj.get("sender") else []
    message_ids = obj.get("message_ids") or []
    return {
        "from": sender,
        "sender": sender,
        "to": _addresses(obj.get("to") or []),
        "cc": _addresses(obj.get("cc") or []),
        "bcc": _addresses(obj.get("bcc") or []),
        "reply_to": [],
        "subject": obj.get("subject") or "",
        "date": rfc2822(obj.get("date_sent")),
        "message_id": message_ids[0] if message_ids else None,
        "in_reply_to": in_reply_to,
        "is_autoreply": False,
    }


def _derive(obj: dict[str, Any], in_reply_to: str | None) -> None:
    if obj["status"] in ("sent", "inbox") and not obj.get("message_ids"):
        obj["message_ids"] = [_message_id(obj)]
    obj["body_preview"] = body_preview(obj)
    obj["has_attachments"] = bool(obj.get("attachments"))
    opens = obj.get("opens") or []
    obj["opens_summary"] = (
        f"Opened {len(opens)} time{'s' if len(opens) != 1 else ''}" if opens else None
    )
    obj["envelope"] = envelope(obj, in_reply_to)


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    if existing is None and not obj.get("direction"):
        obj["direction"] = "incoming" if obj["status"] == "inbox" else "outgoing"
    # A template_id without a body: Close renders the template for the lead and contact.
    template_render.fill_email(wc.conn, wc.org, obj["user_id"], obj, sent)
    if obj["status"] == "sent" and not obj.get("sender"):
        obj["sender"] = _user_address(wc, obj.get("user_id"))
    _check_sender(obj, sent)
    _check_recipients(obj)
    if "attachments" in sent:
        obj["attachments"] = check_attachments(obj["attachments"], ATTACHMENT_REQUIRED)
    if "opens" in sent:
        obj["opens"] = _check_opens(obj["opens"])
    apply_status(wc, obj, sent, existing)
    _followup.plan(wc, obj, sent)
    parent = _parent(wc, obj) if "in_reply_to_id" in sent else None
    obj["references"] = list(obj.get("references") or [])
    in_reply_to = _reply_headers(obj, parent)
    _derive(obj, in_reply_to)
    if existing is None:
        # The thread stays fixed once chosen: editing a draft never moves it.
        found = emailthread.find_thread(wc, obj, parent)
        obj["thread_id"] = found or emailthread.start_thread(wc, obj)


def after_write(wc: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """The thread follows its latest email; it goes when its last email is deleted. A new
    incoming email is a reply that pauses the sequences its sender is running through."""
    obj = after or before or {}
    emailthread.touch(wc, obj.get("thread_id"))
    if before is None and after is not None:
        sequence_runs.pause_on_reply(wc.conn, wc.principal, after, wc.meta)


def sample(gen: samples.Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    out = []
    thread = gen.threads.get(lead_id)
    reply = thread is not None and gen.rng.random() < 0.6
    if thread is None or not reply:
        subject = gen.rng.choice(samples.SUBJECTS)
        created = gen.base(
            "EmailThread",
            lead_id,
            when,
            {"latest_normalized_subject": subject, "n_emails": 0, "participants": []},
        )
        # A reply's subject normalizes to its thread's: the thread's never changes.
        thread = gen.threads[lead_id] = (created[0] if gen.as_rows else created["id"], subject)
        out.append(created)
    thread_id, thread_subject = thread
    subject = ("Re: " if reply else "") + thread_subject
    incoming = gen.rng.random() < 0.45
    us, them = "sales@demo.example", f"contact{gen.rng.randint(1, 99)}@client.example"
    sender, to = (them, us) if incoming else (us, them)
    body = gen.rng.choice(samples.NOTES)
    stamp = samples.ts(when)
    message_id = f"<{gen.new_id('msg')[4:20]}@demo.example>"
    email = gen.base(
        "Email",
        lead_id,
        when,
        {
            "status": "inbox" if incoming else "sent",
            "direction": "incoming" if incoming else "outgoing",
            "subject": subject,
            "sender": sender,
            "to": [to],
            "cc": [],
            "bcc": [],
            "body_text": body,
            "body_html": f"<p>{body}</p>",
            "body_preview": body[:200],
            "envelope": {
                "from": [{"email": sender, "name": ""}],
                "sender": [{"email": sender, "name": ""}],
                "to": [{"email": to, "name": ""}],
                "cc": [],
                "bcc": [],
                "reply_to": [],
                "subject": subject,
                "date": samples.rfc2822(when),
                "message_id": message_id,
                "in_reply_to": None,
                "is_autoreply": False,
            },
            "attachments": [],
            "opens": [],
            "date_sent": stamp,
            "thread_id": thread_id,
            "message_ids": [message_id],
            "references": [],
        },
        contact=True,
    )
    out.append(email)
    return out


SPEC = ActivitySpec(
    type="Email",
    path="email",
    event_type="email",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    base_update=("contact_id", "activity_at", "user_id"),
    fields=(
        Field("status", "enum", choices=MESSAGE_STATUSES, required=True, nullable=False),
        Field("direction", "enum", choices=COMMUNICATION_DIRECTIONS, update=False),
        Field("subject", "str", default="", max_length=1000),
        Field("sender", "str", max_length=1000),
        Field("to", "str_list", default=(), max_items=500, nullable=False),
        Field("cc", "str_list", default=(), max_items=500, nullable=False),
        Field("bcc", "str_list", default=(), max_items=500, nullable=False),
        Field("body_text", "str", default="", max_length=1_048_576),
        Field("body_html", "str", default="", max_length=1_048_576),
        readonly("body_preview", default=""),
        readonly("body_text_quoted", "object_list", ()),
        readonly("body_html_quoted", "object_list", ()),
        readonly("envelope", "object"),
        Field("attachments", "object_list", default=(), max_items=1000, nullable=False),
        readonly("has_attachments", "bool", False),
        Field("opens", "object_list", default=(), nullable=False),
        readonly("opens_summary"),
        readonly("date_sent", "datetime"),
        Field("date_scheduled", "datetime"),
        # Accepted on writes, checked and never stored (see _messages); on_request keeps it
        # out of rendered objects.
        Field("send_in", "int", on_request=True),
        readonly("thread_id"),
        Field("in_reply_to_id", "id"),
        # Import helpers: a synced message keeps its real Message-ID and References, which
        # is how replies find their thread.
        Field("message_ids", "str_list", default=(), max_items=100, update=False, nullable=False),
        Field("references", "str_list", default=(), max_items=500, update=False, nullable=False),
        readonly("has_reply", "bool", False),
        Field("template_id", "id"),
        readonly("template_name"),
        Field("email_account_id", "id"),
        readonly("send_as_id"),
        readonly("send_attempts", "object_list", ()),
        readonly("need_smtp_credentials", "bool", False),
        readonly("bulk_email_action_id"),
        # Write-only (see _followup): Close's Email object does not show it back.
        Field("followup_date", "datetime", on_request=True),
        Field("followup_sequence_id", "id"),
        Field("followup_sequence_delay", "int", minimum=86400),
        Field("followup_sequence_add_cc_bcc", "bool", default=False, nullable=False),
        readonly("agent_action_reason"),
        readonly("agent_config_id"),
        *SEQUENCE_FIELDS,
        USERS,
        COMMENT_SUMMARY,
    ),
    extra_actions=sent_action,
    prepare=prepare,
    after_write=after_write,
    preview_fields=PREVIEW_FIELDS,
    docs="https://developer.close.com/api/resources/activities/emails",
    sample=sample,
    sample_weight=34,  # percent of a seeded feed
)
