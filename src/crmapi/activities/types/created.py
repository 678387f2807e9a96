"""Creations (written when a lead is created): https://developer.close.com/api/resources/activities/creations"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, CREATION_SOURCES, USERS
from crmapi.domain.fields import Field

SPEC = ActivitySpec(
    type="Created",
    path="created",
    event_type="created",
    verbs=frozenset({"list", "get"}),
    fields=(
        Field("source", "enum", choices=CREATION_SOURCES, default="api"),
        Field("import_id", "id"),
        USERS,
        COMMENT_SUMMARY,
    ),
    docs="https://developer.close.com/api/resources/activities/creations",
)
