"""Task completions: https://developer.close.com/api/resources/activities/task-completions.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, SEQUENCE_FIELDS, USERS, readonly

SPEC = ActivitySpec(
    type="TaskCompleted",
    path="task_completed",
    event_type="task_completed",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("task_id"),
        readonly("task_text"),
        readonly("task_assigned_to"),
        readonly("task_assigned_to_name"),
        *SEQUENCE_FIELDS,
        COMMENT_SUMMARY,
        USERS,
    ),
    docs="https://developer.close.com/api/resources/activities/task-completions",
)
