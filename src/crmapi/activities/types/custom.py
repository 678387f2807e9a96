"""Custom activities: https://developer.close.com/api/resources/activities/custom-activities.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import USERS, readonly
from crmapi.domain.fields import Field
from crmapi.query.model import FilterSpec

SPEC = ActivitySpec(
    type="CustomActivity",
    path="custom",
    event_type="custom_activity",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        Field("custom_activity_type_id", "id", required=True, update=False),
        Field("status", "enum", choices=("draft", "published"), default="published"),
        readonly("last_published_at", "datetime"),
        Field("pinned", "bool", default=False, nullable=False),
        readonly("pinned_at", "datetime"),
        readonly("mentions", "str_list", ()),
        readonly("mentions_updated_at", "datetime"),
        readonly("source", default="api"),
        USERS,
    ),
    filters={
        "custom_activity_type_id": FilterSpec(
            "custom_activity_type_id",
            "in",
            "id",
            multi=True,
            requires=("lead_id",),
            requires_reason="custom activities of a type can only be listed for a single lead.",
        ),
        "custom_activity_type_id__in": FilterSpec(
            "custom_activity_type_id",
            "in",
            "id",
            multi=True,
            requires=("lead_id",),
            requires_reason="custom activities of a type can only be listed for a single lead.",
        ),
    },
    docs="https://developer.close.com/api/resources/activities/custom-activities",
)
