"""Emails: https://developer.close.com/api/resources/activities/emails.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import (
    COMMUNICATION_DIRECTIONS,
    MESSAGE_STATUSES,
    SEQUENCE_FIELDS,
    USERS,
    readonly,
)
from crmapi.domain.fields import Field

# What an Email is reduced to inside threads and in ``thread_emails=true`` feeds (EmailPreview),
# plus the keys a feed reader needs to place it.
PREVIEW_FIELDS = (
    "id", "_type", "organization_id", "lead_id", "contact_id", "thread_id", "activity_at",
    "status", "direction", "subject", "sender", "to", "cc", "bcc", "body_preview", "envelope",
    "has_attachments", "opens_summary", "send_as_id", "user_id", "date_created", "date_updated",
    "date_sent",
)

SPEC = ActivitySpec(
    type="Email",
    path="email",
    event_type="email",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        Field("status", "enum", choices=MESSAGE_STATUSES, required=True, nullable=False),
        readonly("direction", "enum"),
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
        readonly("thread_id"),
        Field("in_reply_to_id", "id"),
        readonly("message_ids", "str_list", ()),
        readonly("references", "str_list", ()),
        readonly("has_reply", "bool", False),
        Field("template_id", "id"),
        readonly("template_name"),
        Field("email_account_id", "id"),
        readonly("send_as_id"),
        readonly("send_attempts", "object_list", ()),
        readonly("need_smtp_credentials", "bool", False),
        readonly("bulk_email_action_id"),
        Field("followup_sequence_id", "id"),
        Field("followup_sequence_delay", "int", minimum=86400),
        Field("followup_sequence_add_cc_bcc", "bool", default=False, nullable=False),
        readonly("agent_action_reason"),
        readonly("agent_config_id"),
        *SEQUENCE_FIELDS,
        USERS,
    ),
    preview_fields=PREVIEW_FIELDS,
    docs="https://developer.close.com/api/resources/activities/emails",
)
