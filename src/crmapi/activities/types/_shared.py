"""Field groups and enums several activity types share (activities digest §5)."""

from crmapi.domain.fields import Field

PHONE_DIRECTIONS = ("inbound", "outbound")
COMMUNICATION_DIRECTIONS = ("incoming", "outgoing")
MESSAGE_STATUSES = ("inbox", "draft", "scheduled", "outbox", "sent", "error")
CREATION_SOURCES = (
    "ui",
    "api",
    "import",
    "clipper",
    "email",
    "suggestion",
    "segment-integration",
    "customerio-integration",
    "calendly-integration",
    "ai",
    "whatsapp",
    "webform",
)
PHONE_SOURCES = ("Close.io", "External")


def readonly(name: str, kind: str = "str", default: object = None) -> Field:
    """A field that is shown on read and never taken from a request body."""
    return Field(name, kind, default=default, create=False, update=False)  # type: ignore[arg-type]


SEQUENCE_FIELDS = (
    readonly("sequence_id"),
    readonly("sequence_name"),
    readonly("sequence_subscription_id"),
)
USERS = readonly("users", "str_list", ())
COMMENT_SUMMARY = readonly("comment_summary", "object")
ATTACHMENTS = Field("attachments", "object_list", default=(), max_items=1000, nullable=False)
