"""Calls: https://developer.close.com/api/resources/activities/calls.md"""

from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select

from crmapi.activities.sample import NOTES, Sampler, html
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types import _outcome
from crmapi.activities.types._shared import (
    COMMENT_SUMMARY,
    PHONE_DIRECTIONS,
    PHONE_SOURCES,
    SEQUENCE_FIELDS,
    USERS,
    readonly,
)
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import REQUIRED, Field
from crmapi.storage import tables as t
from crmapi.util import phones, richtext

CALL_STATUSES = (
    "created",
    "in-progress",
    "completed",
    "cancel",
    "no-answer",
    "busy",
    "failed",
    "timeout",
)
DISPOSITIONS = (
    "answered",
    "no-answer",
    "vm-answer",
    "vm-left",
    "busy",
    "blocked",
    "error",
    "abandoned",
)
CALL_METHODS = ("regular", "power", "predictive", "external")


def _lead_by_phone(wc: Any, phone: str) -> tuple[str, str] | None:
    """Close attaches a call logged without lead_id to the contact owning its number."""
    row = wc.conn.execute(
        select(t.contact.c.lead_id, t.contact.c.id)
        .where(
            t.contact.c.organization_id == wc.org,
            cast(t.contact.c.phones, Text).contains(f'"{phone}"'),
        )
        .limit(1)
    ).first()
    return (row.lead_id, row.id) if row is not None else None


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    richtext.pair(obj, sent, "note", "note_html")
    _outcome.check(wc, sent, "call")
    if "phone" in sent and obj.get("phone"):
        number = phones.normalize(obj["phone"])
        obj["phone"] = number["phone"]
        obj["remote_phone"] = number["phone"]
        obj["remote_phone_formatted"] = number["phone_formatted"]
        obj["remote_country_iso"] = number["country"]
    if existing is None and obj.get("lead_id") is None:
        found = _lead_by_phone(wc, obj["phone"]) if obj.get("phone") else None
        if found is None:
            raise InvalidRequest(field_errors={"lead": REQUIRED})
        obj["lead_id"], obj["contact_id"] = found[0], obj.get("contact_id") or found[1]
    if existing is None and "disposition" not in sent and obj["status"] == "completed":
        # Close fills a disposition for finished calls; a logged completed call was answered.
        obj["disposition"] = "answered" if obj.get("duration") else "no-answer"
    obj["has_recording"] = bool(obj.get("recording_url"))


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    duration = gen.rng.choice([0, 0, 35, 120, 300, 900])
    number = f"+1415555{gen.rng.randint(0, 9999):04d}"
    text = gen.rng.choice(NOTES) if duration else ""
    return [
        gen.base(
            "Call",
            lead_id,
            when,
            {
                "direction": gen.rng.choice(["inbound", "outbound", "outbound"]),
                "status": "completed",
                "disposition": "answered" if duration else "no-answer",
                "call_method": "external",
                "source": "External",
                "duration": duration,
                "phone": number,
                "remote_phone": number,
                "remote_phone_formatted": f"+1 415-555-{number[-4:]}",
                "remote_country_iso": "US",
                "note": text,
                "note_html": html(text),
                "voicemail_duration": 0,
                "has_recording": False,
                "quality_info": "",
            },
            contact=True,
        )
    ]


SPEC = ActivitySpec(
    type="Call",
    path="call",
    event_type="call",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    lead_required=False,
    base_update=("contact_id", "activity_at", "lead_id", "user_id"),
    fields=(
        Field("direction", "enum", choices=PHONE_DIRECTIONS, default="outbound", nullable=False),
        Field("status", "enum", choices=CALL_STATUSES, default="completed", nullable=False),
        Field("disposition", "enum", choices=DISPOSITIONS),
        Field("call_method", "enum", choices=CALL_METHODS, default="external", update=False),
        Field("source", "enum", choices=PHONE_SOURCES, default="External", update=False),
        Field("duration", "int", default=0, minimum=0, maximum=604_800, nullable=False),
        Field("phone", "str", max_length=100),
        readonly("remote_phone"),
        readonly("remote_phone_formatted"),
        readonly("remote_country_iso"),
        Field("local_phone", "str", max_length=100),
        readonly("local_phone_formatted"),
        readonly("local_country_iso"),
        Field("note", "str", default="", max_length=1_048_576),
        Field("note_html", "str", default="<body><p></p></body>", max_length=1_048_576),
        Field("recording_url", "str", max_length=2000),
        Field("voicemail_url", "str", max_length=2000),
        Field("voicemail_duration", "int", default=0, minimum=0, nullable=False),
        readonly("has_recording", "bool", False),
        readonly("recording_expires_at", "datetime"),
        Field("cost", "str", max_length=32),
        Field("outcome_id", "id"),
        readonly("date_answered", "datetime"),
        readonly("dialer_id"),
        readonly("dialer_saved_search_id"),
        readonly("transferred_from"),
        readonly("transferred_to"),
        readonly("transferred_from_user_id"),
        readonly("transferred_to_user_id"),
        readonly("forwarded_to"),
        readonly("is_forwarded", "bool", False),
        readonly("is_joinable", "bool", False),
        readonly("is_to_group_number", "bool", False),
        readonly("coach_legs", "object_list", ()),
        Field("quality_info", "str", default="", max_length=1000),
        Field("conversation_type_id", "id"),
        Field("playbook_id", "id"),
        Field("recording_transcript", "object", on_request=True, create=False, update=False),
        Field("voicemail_transcript", "object", on_request=True, create=False, update=False),
        *SEQUENCE_FIELDS,
        USERS,
        COMMENT_SUMMARY,
    ),
    prepare=prepare,
    docs="https://developer.close.com/api/resources/activities/calls",
    sample=sample,
    sample_weight=24,  # percent of a seeded feed
)
