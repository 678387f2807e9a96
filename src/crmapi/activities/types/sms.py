"""SMS: https://developer.close.com/api/resources/activities/sms"""

from datetime import datetime
from typing import Any

from crmapi.activities.sample import Sampler, ts
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._messages import apply_status, sent_action
from crmapi.activities.types._shared import (
    COMMENT_SUMMARY,
    MESSAGE_STATUSES,
    PHONE_DIRECTIONS,
    PHONE_SOURCES,
    SEQUENCE_FIELDS,
    USERS,
    readonly,
)
from crmapi.domain.fields import Field
from crmapi.resources import sequence_runs, template_render
from crmapi.util import phones


def _phone(obj: dict[str, Any], side: str) -> None:
    raw = obj.get(f"{side}_phone")
    number = (
        phones.normalize(raw) if raw else {"phone": raw, "phone_formatted": None, "country": None}
    )
    obj[f"{side}_phone"] = number["phone"]
    obj[f"{side}_phone_formatted"] = number["phone_formatted"]
    obj[f"{side}_country_iso"] = number["country"]


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    if existing is None and "direction" not in sent:
        obj["direction"] = "inbound" if obj["status"] == "inbox" else "outbound"
    # A template_id without text: Close renders the template for the lead and contact.
    template_render.fill_sms(wc.conn, wc.org, obj["user_id"], obj, sent)
    for side in ("local", "remote"):
        if f"{side}_phone" in sent:
            _phone(obj, side)
    apply_status(wc, obj, sent, existing)


def after_write(wc: Any, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """A new received SMS is a reply that pauses the sequences its sender runs through."""
    if before is None and after is not None:
        sequence_runs.pause_on_text(wc.conn, wc.principal, after, wc.meta)


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    inbound = gen.rng.random() < 0.4
    return [
        gen.base(
            "SMS",
            lead_id,
            when,
            {
                "status": "inbox" if inbound else "sent",
                "direction": "inbound" if inbound else "outbound",
                "source": "External",
                "text": gen.rng.choice(["Sounds good!", "Can we talk at 3?", "Thanks"]),
                "local_phone": "+14155550100",
                "remote_phone": "+14155550199",
                "date_sent": ts(when),
                "attachments": [],
            },
            contact=True,
        )
    ]


SPEC = ActivitySpec(
    type="SMS",
    path="sms",
    event_type="sms",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    base_update=("contact_id", "activity_at", "lead_id", "user_id"),
    fields=(
        Field("status", "enum", choices=MESSAGE_STATUSES, required=True, nullable=False),
        Field("direction", "enum", choices=PHONE_DIRECTIONS, default="outbound", nullable=False),
        Field("source", "enum", choices=PHONE_SOURCES, default="External", update=False),
        Field("text", "str", default="", max_length=10_000),
        Field("local_phone", "str", max_length=100),
        readonly("local_phone_formatted"),
        readonly("local_country_iso"),
        Field("remote_phone", "str", max_length=100),
        readonly("remote_phone_formatted"),
        readonly("remote_country_iso"),
        readonly("date_sent", "datetime"),
        Field("date_scheduled", "datetime"),
        readonly("error_message"),
        readonly("cost"),
        Field("template_id", "id"),
        Field("attachments", "object_list", default=(), max_items=10, nullable=False),
        readonly("agent_action_reason"),
        readonly("agent_config_id"),
        *SEQUENCE_FIELDS,
        USERS,
        COMMENT_SUMMARY,
    ),
    extra_actions=sent_action,
    prepare=prepare,
    after_write=after_write,
    docs="https://developer.close.com/api/resources/activities/sms",
    sample=sample,
    sample_weight=8,  # percent of a seeded feed
)
