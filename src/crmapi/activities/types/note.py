"""Notes: https://developer.close.com/api/resources/activities/notes.md"""

from datetime import datetime
from typing import Any

from crmapi.activities.sample import NOTES, Sampler, html
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import ATTACHMENTS, COMMENT_SUMMARY, USERS, readonly
from crmapi.domain.fields import Field
from crmapi.util import richtext


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    richtext.pair(obj, sent, "note", "note_html")
    obj["note_mentions"] = richtext.mentions(str(obj.get("note_html") or ""))
    if existing is None:
        obj["source"] = "api"
    if "pinned" in sent:
        was_pinned = bool(existing and existing.get("pinned"))
        if obj["pinned"] and not was_pinned:
            obj["pinned_at"] = wc.now
        elif not obj["pinned"]:
            obj["pinned_at"] = None


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    text = gen.rng.choice(NOTES)
    return [
        gen.base(
            "Note",
            lead_id,
            when,
            {
                "note": text,
                "note_html": html(text),
                "note_mentions": [],
                "title": None,
                "pinned": False,
                "pinned_at": None,
                "attachments": [],
                "source": "api",
            },
            contact=True,
        )
    ]


SPEC = ActivitySpec(
    type="Note",
    path="note",
    event_type="note",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    fields=(
        Field("note", "str", default="", max_length=1_048_576),
        Field("note_html", "str", default="<body><p></p></body>", max_length=1_048_576),
        readonly("note_mentions", "str_list", ()),
        Field("title", "str", max_length=1000),
        Field("pinned", "bool", default=False, nullable=False),
        readonly("pinned_at", "datetime"),
        ATTACHMENTS,
        readonly("source"),
        USERS,
        COMMENT_SUMMARY,
    ),
    prepare=prepare,
    docs="https://developer.close.com/api/resources/activities/notes",
    sample=sample,
    sample_weight=12,  # percent of a seeded feed
)
