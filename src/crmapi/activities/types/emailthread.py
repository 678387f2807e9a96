"""Email threads: https://developer.close.com/api/resources/activities/email-threads.md

A thread's counts, participants and latest emails are computed from its emails when a page
is rendered (one query per page), so they can never drift from the emails themselves.
"""

from typing import Any

from sqlalchemy import Connection

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.activities.types.email import PREVIEW_FIELDS

LATEST_EMAILS = 3
EXPANDED = frozenset(
    {"n_emails", "latest_emails", "participants", "latest_normalized_subject", "users"}
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


def expand(conn: Connection, org_id: str, threads: list[dict[str, Any]]) -> None:
    from crmapi.activities import store

    ids = [th["id"] for th in threads]
    rows = store.fetch_by(conn, org_id, store.A.c.thread_id.in_(ids), store.A.c.type == "Email")
    emails = store.render_rows(conn, rows)
    by_thread: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for email in emails:
        by_thread.setdefault(email["thread_id"], []).append(email)
    for thread in threads:
        mine = sorted(
            by_thread[thread["id"]], key=lambda e: (e["activity_at"], e["id"]), reverse=True
        )
        thread["n_emails"] = len(mine)
        thread["participants"] = _participants(mine)
        thread["latest_emails"] = [
            {k: e.get(k) for k in PREVIEW_FIELDS if k not in ("_type", "organization_id")}
            for e in mine[:LATEST_EMAILS]
        ]
        thread["users"] = sorted({e["user_id"] for e in mine if e.get("user_id")})
        if mine:
            thread["latest_normalized_subject"] = normalize_subject(mine[0].get("subject") or "")


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
    """Deleting a thread deletes every email in it (Close's rule)."""
    from crmapi.activities import store

    store.delete_activities(
        wc.conn, wc.org, store.A.c.thread_id == thread["id"], store.A.c.type == "Email"
    )


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
    on_delete=on_delete,
    in_default_feed=False,
    docs="https://developer.close.com/api/resources/activities/email-threads",
)
