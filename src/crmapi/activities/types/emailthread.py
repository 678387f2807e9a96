"""Email threads: https://developer.close.com/api/resources/activities/email-threads.md

Every email belongs to one thread of its lead. A thread stores only its base columns; its
counts, participants and latest emails are computed from its emails when a page is rendered
(one query per page), so they can never drift from the emails themselves. Its ``activity_at``
follows its latest email, so a thread with a fresh reply sorts as fresh.
"""

from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, or_, select

from crmapi.activities import store, write
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.resources import comment_threads
from crmapi.util.jsonutil import loads

LATEST_EMAILS = 3
MAX_HEADER_IDS = 100  # Message-IDs considered when matching a thread (bounds the query)
EXPANDED = frozenset(
    {"n_emails", "latest_emails", "participants", "latest_normalized_subject", "users"}
)
# Close's ``EmailPreview``: what ``latest_emails`` holds.
EMAIL_PREVIEW = (
    "id",
    "status",
    "direction",
    "subject",
    "sender",
    "to",
    "cc",
    "bcc",
    "body_preview",
    "envelope",
    "has_attachments",
    "opens_summary",
    "send_as_id",
    "user_id",
    "date_created",
    "date_updated",
    "date_sent",
)
# A stripped-down Email in ``thread_emails=true`` feeds: the preview plus what a feed reader
# needs to place it (type, lead, thread, activity_at).
PREVIEW_FIELDS = (
    "id",
    "_type",
    "organization_id",
    "lead_id",
    "contact_id",
    "thread_id",
    "activity_at",
    *EMAIL_PREVIEW[1:],
)


def _participants(emails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for email in emails:
        envelope = email.get("envelope") or {}
        for key in ("from", "to", "cc"):
            for who in envelope.get(key) or []:
                address = (who.get("email") or "").lower()
                if address and address not in seen:
                    seen[address] = {"email": address, "name": who.get("name") or ""}
    return list(seen.values())


def _newest_first(emails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(emails, key=lambda e: (e["activity_at"], e["id"]), reverse=True)


def _emails_of(conn: Connection, org_id: str, thread_ids: list[str]) -> list[dict[str, Any]]:
    rows = store.fetch_by(
        conn, org_id, store.A.c.thread_id.in_(thread_ids), store.A.c.type == "Email"
    )
    return store.render_rows(conn, rows)


def _emails_select(binds: list[Any]) -> Any:

    a = store.A
    return select(a.c.id, a.c.thread_id, a.c.activity_at, a.c.user_id, a.c.date_created,
                  a.c.date_updated, a.c.data).where(
        a.c.organization_id == bindparam("org"), a.c.type == "Email", a.c.thread_id.in_(binds)
    )  # fmt: skip


def _previews_of(conn: Connection, org_id: str, thread_ids: list[str]) -> list[dict[str, Any]]:
    """What ``expand`` reads of each email: its columns and stored fields, without rendering
    it (no user names, no hidden fields): a thread page reads a few hundred emails."""
    defaults = store.stored_shape("Email")[1]
    out = []
    for row in store.rows_in(conn, "thread_emails", _emails_select, thread_ids, {"org": org_id}):
        data = row[6]
        email = dict(defaults)
        email.update(loads(data) if isinstance(data, str | bytes) else data)
        email["id"], email["thread_id"], email["activity_at"] = row[0], row[1], row[2]
        email["user_id"], email["date_created"], email["date_updated"] = row[3], row[4], row[5]
        out.append(email)
    return out


def expand(conn: Connection, org_id: str, threads: list[dict[str, Any]]) -> None:
    ids = [th["id"] for th in threads]
    by_thread: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for email in _previews_of(conn, org_id, ids):
        by_thread.setdefault(email["thread_id"], []).append(email)
    for thread in threads:
        mine = _newest_first(by_thread[thread["id"]])
        thread["n_emails"] = len(mine)
        thread["participants"] = _participants(mine)
        thread["latest_emails"] = [
            {k: e.get(k) for k in EMAIL_PREVIEW} for e in mine[:LATEST_EMAILS]
        ]
        thread["users"] = sorted({e["user_id"] for e in mine if e.get("user_id")})
        subjects = [e["subject"] for e in mine if e.get("subject")]
        if mine:
            # The newest email that has a subject names the thread.
            thread["latest_normalized_subject"] = normalize_subject(subjects[0] if subjects else "")


def detail(conn: Connection, org_id: str, thread: dict[str, Any]) -> None:
    """GET one thread also carries its full emails (newest first), as in Close's examples."""
    thread["emails"] = _newest_first(_emails_of(conn, org_id, [thread["id"]]))


def normalize_subject(subject: str) -> str:
    """The subject without reply/forward prefixes."""
    text = subject.strip()
    while True:
        lowered = text.lower()
        for prefix in ("re:", "fwd:", "fw:", "aw:", "wg:"):
            if lowered.startswith(prefix):
                text = text[len(prefix) :].strip()
                break
        else:
            return text


def on_delete(wc: Any, thread: dict[str, Any]) -> None:
    """Deleting a thread deletes every email in it (Close's rule), each with its event."""
    emails = _emails_of(wc.conn, wc.org, [thread["id"]])
    comment_threads.remove_for(wc.conn, wc.org, [e["id"] for e in emails], wc.emit_object)
    store.delete_activities(
        wc.conn, wc.org, store.A.c.thread_id == thread["id"], store.A.c.type == "Email"
    )
    for email in emails:
        wc.emit_as("email", "deleted", email, None)  # Email's event type (activity.email)


# --- threading: which thread a new email joins ------------------------------------------------


def _header_matches(candidate: dict[str, Any], refs: set[str], own: set[str]) -> bool:
    """A reply names an earlier Message-ID, or an earlier-stored reply names this one."""
    return bool(
        set(candidate.get("message_ids") or []) & (refs | own)
        or set(candidate.get("references") or []) & own
    )


def find_thread(wc: Any, email: dict[str, Any], parent: dict[str, Any] | None) -> str | None:
    """The thread of the same lead this email continues, by in_reply_to_id or headers."""
    lead_id = email["lead_id"]
    if parent is not None and parent["lead_id"] == lead_id and parent.get("thread_id"):
        return str(parent["thread_id"])
    refs = set(email.get("references") or [])
    in_reply_to = (email.get("envelope") or {}).get("in_reply_to")
    if in_reply_to:
        refs.add(in_reply_to)
    own = set(email.get("message_ids") or [])
    wanted = sorted(refs | own)[:MAX_HEADER_IDS]
    if not wanted:
        return None
    # A text match on the JSON narrows to a few rows; _header_matches then checks exactly.
    data_text = cast(store.A.c.data, Text)
    rows = store.fetch_by(
        wc.conn,
        wc.org,
        store.A.c.lead_id == lead_id,
        store.A.c.type == "Email",
        store.A.c.thread_id.is_not(None),
        or_(*(data_text.contains(f'"{mid}"', autoescape=True) for mid in wanted)),
    )
    matches = [r for r in rows if _header_matches(r.data, refs, own)]
    if not matches:
        return None
    latest = max(matches, key=lambda r: (r.activity_at, r.id))
    return str(latest.data["thread_id"])


def start_thread(wc: Any, email: dict[str, Any]) -> str:
    """A new EmailThread for an email that continues none."""
    thread = write.system_create(
        wc,
        SPEC,
        {
            "lead_id": email["lead_id"],
            "contact_id": email.get("contact_id"),
            "user_id": email.get("user_id"),
            "created_by": email.get("created_by"),
            "date_created": email["date_created"],
            "activity_at": email.get("activity_at") or email["date_created"],
        },
    )
    return str(thread["id"])


def touch(wc: Any, thread_id: str | None) -> None:
    """After one of its emails changed: follow the latest email, or go when the last one did."""
    if thread_id is None or store.fetch_one(wc.conn, wc.org, thread_id, SPEC.type) is None:
        return
    rows = store.fetch_by(
        wc.conn, wc.org, store.A.c.thread_id == thread_id, store.A.c.type == "Email"
    )
    if not rows:
        write.delete(wc, SPEC, thread_id)  # a thread without emails is no conversation
        return
    before = write.load(wc, SPEC, thread_id)
    stored = {k: v for k, v in before.items() if k not in EXPANDED}
    stored["activity_at"] = max(r.activity_at for r in rows)
    stored["date_updated"] = wc.now
    store.update_activity(wc.conn, wc.org, stored)
    wc.emit(SPEC, "updated", before, write.load(wc, SPEC, thread_id))


SPEC = ActivitySpec(
    type="EmailThread",
    path="emailthread",
    event_type="email_thread",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("latest_normalized_subject"),
        readonly("n_emails", "int", 0),
        readonly("participants", "object_list", ()),
        readonly("latest_emails", "object_list", ()),
        readonly("importance", "object"),
        readonly("summary", "object"),
        COMMENT_SUMMARY,
        USERS,
    ),
    expand=expand,
    expanded_fields=EXPANDED,
    detail=detail,
    on_delete=on_delete,
    in_default_feed=False,
    docs="https://developer.close.com/api/resources/activities/email-threads",
)
