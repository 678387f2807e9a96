"""Meetings: https://developer.close.com/api/resources/activities/meetings.md

Close syncs meetings from calendars and offers no API create. Here they enter through
``add_meeting`` (the ``crmapi meeting add`` command, the demo data and tests); the API then
lists, reads, updates (notes, outcome, status) and deletes them.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select

from crmapi.activities import write
from crmapi.activities.sample import Sampler, ts
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types import _outcome
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.domain.fields import Field
from crmapi.storage import tables as t
from crmapi.util import dates, richtext

MEETING_STATUSES = (
    "upcoming",
    "in-progress",
    "completed",
    "canceled",
    "declined-by-org",
    "declined-by-lead",
)


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    if "user_note" in sent or "user_note_html" in sent:
        richtext.pair(obj, sent, "user_note", "user_note_html")
        obj["user_note_date_updated"] = wc.now
    _outcome.check(wc, sent, "meeting")
    if "outcome_id" in sent:
        obj["outcome_reason"] = "user-selected" if obj.get("outcome_id") else None
    # Close: a meeting happens when it is scheduled to start, whatever a client sends.
    obj["activity_at"] = obj.get("starts_at") or obj.get("activity_at")


def _status_at(starts_at: str, ends_at: str, now: str) -> str:
    if now < starts_at:
        return "upcoming"
    return "in-progress" if now < ends_at else "completed"


def _attendee(
    raw: str, contacts: dict[str, str], members: dict[str, str], organizer: str | None
) -> dict[str, Any]:
    name, address = parseaddr(raw)
    address = (address or raw).strip().lower()
    user_id = members.get(address)
    return {
        "email": address,
        "name": name or None,
        "status": "noreply",
        "is_organizer": user_id is not None and user_id == organizer,
        "contact_id": contacts.get(address),
        "user_id": user_id,
    }


def _lead_contacts(wc: Any, lead_id: str) -> dict[str, str]:
    rows = wc.conn.execute(
        select(t.contact.c.id, t.contact.c.emails).where(
            t.contact.c.organization_id == wc.org, t.contact.c.lead_id == lead_id
        )
    ).all()
    return {
        str(e.get("email", "")).lower(): row.id
        for row in rows
        for e in (row.emails or [])
        if isinstance(e, dict)
    }


def _members(wc: Any) -> dict[str, str]:
    rows = wc.conn.execute(
        select(t.user.c.id, t.user.c.email)
        .join(t.membership, t.membership.c.user_id == t.user.c.id)
        .where(t.membership.c.organization_id == wc.org)
    ).all()
    return {str(row.email).lower(): row.id for row in rows}


def organizer(conn: Any, org_id: str, user_id: str | None) -> str:
    """The member a meeting is added for: ``user_id`` or the organization's first member."""
    query = select(t.membership.c.user_id).where(t.membership.c.organization_id == org_id)
    if user_id is not None:
        query = query.where(t.membership.c.user_id == user_id)
    found = conn.execute(query.order_by(t.membership.c.date_created).limit(1)).scalar()
    if found is None:
        raise LookupError(f"no member {user_id or ''} in organization {org_id}".replace("  ", " "))
    return str(found)


def add_meeting(
    wc: Any,
    *,
    lead_id: str,
    title: str,
    starts_at: str,
    ends_at: str,
    attendees: Sequence[str] = (),
    location: str = "",
    note: str = "",
    source: str = "manual",
) -> dict[str, Any]:
    """Store a meeting as a calendar sync would (the admin path; Close has no API create).

    ``starts_at``/``ends_at`` are client datetimes (parsed here); raises ``ValueError`` for a
    bad datetime, an end before the start, or a lead that is not the organization's.
    """
    start, end = dates.parse(starts_at), dates.parse(ends_at)
    if end < start:
        raise ValueError("ends_at is before starts_at")
    found = wc.conn.execute(
        select(t.lead.c.id).where(t.lead.c.organization_id == wc.org, t.lead.c.id == lead_id)
    ).first()
    if found is None:
        raise ValueError(f"no lead {lead_id} in organization {wc.org}")
    organizer = wc.principal.user_id
    people = [_attendee(a, _lead_contacts(wc, lead_id), _members(wc), organizer) for a in attendees]
    contact_ids = [p["contact_id"] for p in people if p["contact_id"]]
    seconds = int((dates.to_datetime(end) - dates.to_datetime(start)).total_seconds())
    return write.system_create(
        wc,
        SPEC,
        {
            "lead_id": lead_id,
            "contact_id": contact_ids[0] if contact_ids else None,
            "user_id": organizer,
            "created_by": None,  # synced items have no creator in Close
            "title": title,
            "starts_at": start,
            "ends_at": end,
            "duration": seconds,
            "activity_at": start,
            "status": _status_at(start, end, wc.now),
            "source": source,
            "location": location,
            "note": note,
            "attendees": people,
            "users": sorted({p["user_id"] for p in people if p["user_id"]} | {organizer}),
        },
    )


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    ends = when + timedelta(minutes=30)
    return [
        gen.base(
            "Meeting",
            lead_id,
            when,
            {
                "title": gen.rng.choice(["Intro call", "Demo", "Pricing review"]),
                "starts_at": ts(when),
                "ends_at": ts(ends),
                "duration": 1800,
                "status": "completed",
                "source": "calendar",
                "location": "https://meet.example/abc",
                "attendees": [],
            },
        )
    ]


SPEC = ActivitySpec(
    type="Meeting",
    path="meeting",
    event_type="meeting",
    verbs=frozenset({"list", "get", "update", "delete"}),
    # PUT takes only the meeting's own writable fields: activity_at always follows starts_at.
    base_update=(),
    fields=(
        readonly("title", default=""),
        readonly("starts_at", "datetime"),
        readonly("ends_at", "datetime"),
        readonly("duration", "int", 0),
        readonly("actual_duration", "int"),
        Field("status", "enum", choices=MEETING_STATUSES, create=False),
        readonly("source", default="calendar"),
        readonly("location", default=""),
        readonly("note", default=""),
        Field("user_note", "str", max_length=1_048_576, create=False),
        Field("user_note_html", "str", max_length=1_048_576, create=False),
        readonly("user_note_date_updated", "datetime"),
        readonly("user_note_mentions", "str_list", ()),
        readonly("attendees", "object_list", ()),
        readonly("is_recurring", "bool", False),
        readonly("calendar_event_link"),
        readonly("calendar_event_uids", "str_list", ()),
        readonly("provider_calendar_event_id"),
        readonly("provider_calendar_ids", "str_list", ()),
        readonly("provider_calendar_type"),
        readonly("connected_account_id"),
        readonly("conference_links", "object_list", ()),
        readonly("integrations", "object_list", ()),
        readonly("attached_call_ids", "str_list", ()),
        Field("outcome_id", "id", create=False),
        readonly("outcome_reason"),
        readonly("outcome_autofill_confidence"),
        readonly("outcome_autofill_reasoning"),
        readonly("playbook_id"),
        readonly("playbook_reason"),
        readonly("conversation_type_id"),
        readonly("conversation_type_reason"),
        readonly("notetaker_id"),
        readonly("summary", "object"),
        Field("transcripts", "object_list", on_request=True, create=False, update=False),
        readonly("_paused_subscriptions", "object_list", ()),
        COMMENT_SUMMARY,
        USERS,
    ),
    prepare=prepare,
    docs="https://developer.close.com/api/resources/activities/meetings",
    sample=sample,
    sample_weight=5,  # percent of a seeded feed
)
