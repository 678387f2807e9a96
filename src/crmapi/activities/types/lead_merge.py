"""Lead merges: https://developer.close.com/api/resources/activities/lead-merges.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly

SPEC = ActivitySpec(
    type="LeadMerge",
    path="lead_merge",
    event_type="lead_merge",
    verbs=frozenset({"list", "get"}),
    fields=(
        readonly("source_lead_id"),
        readonly("source_display_name"),
        readonly("destination_lead_id"),
        readonly("destination_display_name"),
        readonly("merge_status", default="completed"),
        readonly("error_message"),
        USERS,
        COMMENT_SUMMARY,
    ),
    docs="https://developer.close.com/api/resources/activities/lead-merges",
)
