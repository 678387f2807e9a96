"""Meetings (synced from calendars; no API create): https://developer.close.com/api/resources/activities/meetings.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.domain.fields import Field

MEETING_STATUSES = (
    "upcoming",
    "in-progress",
    "completed",
    "canceled",
    "declined-by-org",
    "declined-by-lead",
)

SPEC = ActivitySpec(
    type="Meeting",
    path="meeting",
    event_type="meeting",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("title", default=""),
        readonly("starts_at", "datetime"),
        readonly("ends_at", "datetime"),
        readonly("duration", "int", 0),
        readonly("actual_duration", "int"),
        Field("status", "enum", choices=MEETING_STATUSES),
        readonly("source", default="calendar"),
        readonly("location", default=""),
        readonly("note", default=""),
        Field("user_note", "str"),
        Field("user_note_html", "str"),
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
        Field("outcome_id", "id"),
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
    docs="https://developer.close.com/api/resources/activities/meetings",
)
