"""Task completions: https://developer.close.com/api/resources/activities/task-completions.md"""

from datetime import datetime
from typing import Any

from crmapi.activities.sample import Sampler
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, SEQUENCE_FIELDS, USERS, readonly


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    return [
        gen.base(
            "TaskCompleted",
            lead_id,
            when,
            {
                "task_id": gen.new_id("task"),
                "task_text": gen.rng.choice(["Send proposal", "Call back"]),
            },
        )
    ]


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
    sample=sample,
    sample_weight=4,  # percent of a seeded feed
)
