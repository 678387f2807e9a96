"""WhatsApp messages: https://developer.close.com/api/resources/activities/whatsapp.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import ATTACHMENTS, COMMUNICATION_DIRECTIONS, USERS, readonly
from crmapi.domain.fields import Field
from crmapi.query.model import FilterSpec

SPEC = ActivitySpec(
    type="WhatsAppMessage",
    path="whatsapp_message",
    event_type="whatsapp_message",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        Field("external_whatsapp_message_id", "str", max_length=500),
        Field("direction", "enum", choices=COMMUNICATION_DIRECTIONS),
        Field("message_markdown", "str", default="", max_length=1_048_576),
        readonly("message_html", default=""),
        readonly("text", default=""),
        Field("local_phone", "str", max_length=100),
        readonly("local_phone_formatted"),
        Field("remote_phone", "str", max_length=100),
        readonly("remote_phone_formatted"),
        ATTACHMENTS,
        Field("integration_link", "str", max_length=2000),
        readonly("integration_name"),
        Field("response_to_id", "id"),
        readonly("source", default="api"),
        USERS,
    ),
    filters={
        "external_whatsapp_message_id": FilterSpec(
            "data.external_whatsapp_message_id", "in", "str", multi=True
        ),
    },
    docs="https://developer.close.com/api/resources/activities/whatsapp",
)
