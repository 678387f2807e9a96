"""Custom activities: https://developer.close.com/api/resources/activities/custom-activities.md

Values are the flat ``custom.cf_...`` keys, typed by the activity custom fields of the
instance's own type. They are stored flattened in the activity ``data`` exactly as rendered,
so the feed's hot path renders them with no extra work.
"""

from datetime import datetime
from typing import Any

from crmapi.activities.sample import Sampler, ts
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field
from crmapi.query.model import FilterSpec
from crmapi.resources import custom_values
from crmapi.resources.custom_values import PREFIX
from crmapi.storage import tables as t

TYPE_KEY = "custom_activity_type_id"


def _check_type(wc: Any, type_id: str) -> None:
    cat = t.custom_activity_type
    row = wc.conn.execute(
        cat.select().where(cat.c.organization_id == wc.org, cat.c.id == type_id)
    ).first()
    if row is None:
        raise InvalidRequest(field_errors={TYPE_KEY: DOES_NOT_EXIST})
    if row.is_archived:
        raise InvalidRequest(field_errors={TYPE_KEY: "This custom activity type is archived."})


def _pin(wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: Any) -> None:
    if "pinned" in sent:
        was_pinned = bool(existing and existing.get("pinned"))
        if obj["pinned"] and not was_pinned:
            obj["pinned_at"] = wc.now
        elif not obj["pinned"]:
            obj["pinned_at"] = None


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    type_id = obj[TYPE_KEY]
    if existing is None:
        _check_type(wc, type_id)
        obj["source"] = "api"
    _pin(wc, obj, sent, existing)
    defs = custom_values.definitions(wc.conn, wc.org, "activity", type_id)
    changes = custom_values.validate(
        wc.conn, wc.org, "activity", wc.body, activity_type_id=type_id, tz=wc.tz
    )
    stored = {k[len(PREFIX) :]: v for k, v in obj.items() if k.startswith(PREFIX)}
    merged = custom_values.merge(stored, changes)
    for key in [k for k in obj if k.startswith(PREFIX)]:
        del obj[key]
    # Values keep the type's field order, as Close shows them.
    obj.update({f"{PREFIX}{k}": merged[k] for k in defs if k in merged})
    if obj["status"] == "published":
        publishing = existing is None or existing.get("status") != "published"
        if publishing or changes:
            missing = custom_values.missing_required(defs, merged)
            if missing:
                raise InvalidRequest(field_errors=missing)
        if publishing:
            obj["last_published_at"] = wc.now


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    return [
        gen.base(
            "CustomActivity",
            lead_id,
            when,
            {
                "custom_activity_type_id": None,
                "status": "published",
                "last_published_at": ts(when),
                "pinned": False,
                "source": "api",
            },
        )
    ]


SPEC = ActivitySpec(
    type="CustomActivity",
    path="custom",
    event_type="custom_activity",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    fields=(
        Field(TYPE_KEY, "id", required=True, update=False),
        Field(
            "status", "enum", choices=("draft", "published"), default="published", nullable=False
        ),
        readonly("last_published_at", "datetime"),
        Field("pinned", "bool", default=False, nullable=False),
        readonly("pinned_at", "datetime"),
        readonly("mentions", "str_list", ()),
        readonly("mentions_updated_at", "datetime"),
        readonly("source", default="api"),
        COMMENT_SUMMARY,
        USERS,
    ),
    prepare=prepare,
    filters={
        TYPE_KEY: FilterSpec(
            TYPE_KEY,
            "in",
            "id",
            multi=True,
            requires=("lead_id",),
            requires_reason="custom activities of a type can only be listed for a single lead.",
        ),
        f"{TYPE_KEY}__in": FilterSpec(
            TYPE_KEY,
            "in",
            "id",
            multi=True,
            requires=("lead_id",),
            requires_reason="custom activities of a type can only be listed for a single lead.",
        ),
    },
    docs="https://developer.close.com/api/resources/activities/custom-activities",
    sample=sample,
    sample_weight=1,  # percent of a seeded feed
)
