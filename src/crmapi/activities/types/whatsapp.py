"""WhatsApp messages: https://developer.close.com/api/resources/activities/whatsapp.md

Sync only, as in Close: partners mirror messages in; nothing is ever sent. The body arrives
as WhatsApp markdown; ``message_html`` and ``text`` are rendered from it here.
"""

import html
import re
from datetime import datetime
from typing import Any

import phonenumbers

from crmapi.activities import store
from crmapi.activities.sample import Sampler
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._messages import check_attachments
from crmapi.activities.types._shared import (
    COMMENT_SUMMARY,
    COMMUNICATION_DIRECTIONS,
    USERS,
    readonly,
)
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field
from crmapi.query.model import FilterSpec
from crmapi.util import phones

MAX_ATTACHMENT_BYTES = 25 * 2**20  # Close: at most 25 MB of attachments per message
ATTACHMENT_REQUIRED = ("url", "filename", "content_type")

# WhatsApp's inline markup: ```mono```, `code`, *bold*, _italic_, ~strike~.
_INLINE = (
    (re.compile(r"```(.+?)```", re.S), "code"),
    (re.compile(r"`([^`\n]+)`"), "code"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), "strong"),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), "em"),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])"), "s"),
)
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\d+\.\s+(.*)$")
_QUOTE = re.compile(r"^>\s?(.*)$")


def _inline_html(line: str) -> str:
    out = html.escape(line, quote=False)
    for pattern, tag in _INLINE:
        out = pattern.sub(rf"<{tag}>\1</{tag}>", out)
    return out


def _inline_text(line: str) -> str:
    for pattern, _tag in _INLINE:
        line = pattern.sub(r"\1", line)
    return line


def _block_kind(line: str) -> tuple[str, str]:
    for kind, pattern in (("ul", _BULLET), ("ol", _NUMBERED), ("blockquote", _QUOTE)):
        match = pattern.match(line)
        if match:
            return kind, match.group(1)
    return ("blank", "") if not line.strip() else ("p", line)


def _blocks(markdown: str) -> list[tuple[str, list[str]]]:
    """Consecutive lines of one kind form a block; a blank line ends a paragraph."""
    blocks: list[tuple[str, list[str]]] = []
    for line in markdown.replace("\r\n", "\n").split("\n"):
        kind, content = _block_kind(line)
        if kind == "blank":
            blocks.append(("blank", []))
        elif blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(content)
        else:
            blocks.append((kind, [content]))
    return [b for b in blocks if b[0] != "blank"]


def to_html(markdown: str) -> str:
    parts = []
    for kind, lines in _blocks(markdown):
        inner = [_inline_html(line) for line in lines]
        if kind in ("ul", "ol"):
            parts.append(f"<{kind}>" + "".join(f"<li>{i}</li>" for i in inner) + f"</{kind}>")
        elif kind == "blockquote":
            parts.append("<blockquote><p>" + "<br>".join(inner) + "</p></blockquote>")
        else:
            parts.append("<p>" + "<br>".join(inner) + "</p>")
    return "".join(parts)


def to_text(markdown: str) -> str:
    """Plain text: the markup characters of inline styles removed, lines kept."""
    return "\n".join(_inline_text(line) for line in markdown.replace("\r\n", "\n").split("\n"))


def _phone(obj: dict[str, Any], side: str) -> None:
    raw = str(obj[f"{side}_phone"]).strip()
    # WhatsApp numbers are ids with their country code; a number without "+" is international.
    international = raw if raw.startswith("+") else "+" + raw
    try:
        parsed = phonenumbers.parse(international, None)
        possible = phonenumbers.is_possible_number(parsed)
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        raise InvalidRequest(
            field_errors={f"{side}_phone": "Enter a valid phone number with its country code."}
        )
    number = phones.normalize(international)
    obj[f"{side}_phone"] = number["phone"]
    obj[f"{side}_phone_formatted"] = number["phone_formatted"]


def _check_response_to(wc: Any, obj: dict[str, Any]) -> None:
    target = obj.get("response_to_id")
    if target is None:
        return
    found = store.fetch_one(wc.conn, wc.org, target, "WhatsAppMessage")
    if found is None or target == obj["id"]:
        raise InvalidRequest(
            field_errors={"response_to_id": "Must be the id of a WhatsApp message activity."}
        )


def prepare(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    for side in ("local", "remote"):
        if f"{side}_phone" in sent:
            _phone(obj, side)
    if "message_markdown" in sent:
        markdown = obj.get("message_markdown") or ""
        obj["message_html"] = to_html(markdown)
        obj["text"] = to_text(markdown)
    if "attachments" in sent:
        obj["attachments"] = check_attachments(
            obj["attachments"], ATTACHMENT_REQUIRED, MAX_ATTACHMENT_BYTES
        )
    if "response_to_id" in sent:
        _check_response_to(wc, obj)
    if existing is None:
        obj["source"] = "api"
        obj["integration_name"] = "API"


def _required(name: str, kind: Any, **kw: Any) -> Field:
    return Field(name, kind, required=True, nullable=False, **kw)


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    text = gen.rng.choice(["Hi there!", "See you tomorrow", "Got it, thanks"])
    return [
        gen.base(
            "WhatsAppMessage",
            lead_id,
            when,
            {
                "external_whatsapp_message_id": gen.new_id("wa")[3:20],
                "direction": "incoming",
                "message_markdown": text,
                "message_html": f"<p>{text}</p>",
                "text": text,
                "local_phone": "+14155550100",
                "remote_phone": "+14155550123",
                "source": "api",
            },
            contact=True,
        )
    ]


SPEC = ActivitySpec(
    type="WhatsAppMessage",
    path="whatsapp_message",
    event_type="whatsapp_message",
    verbs=frozenset({"list", "get", "create", "update", "delete"}),
    base_update=("contact_id", "activity_at", "user_id"),
    fields=(
        # Close requires all of these on create (lead_id too, even when contact_id names it).
        _required("lead_id", "id", error_key="lead", update=False),
        _required("contact_id", "id", error_key="contact"),
        _required("activity_at", "datetime"),
        _required("external_whatsapp_message_id", "str", max_length=500, update=False),
        _required("direction", "enum", choices=COMMUNICATION_DIRECTIONS),
        _required("message_markdown", "str", max_length=1_048_576, default=""),
        readonly("message_html", default=""),
        readonly("text", default=""),
        _required("local_phone", "str", max_length=100),
        readonly("local_phone_formatted"),
        _required("remote_phone", "str", max_length=100),
        readonly("remote_phone_formatted"),
        Field("attachments", "object_list", default=(), max_items=100, nullable=False),
        Field("integration_link", "str", max_length=2000),
        readonly("integration_name"),
        Field("response_to_id", "id"),
        readonly("source", default="api"),
        USERS,
        COMMENT_SUMMARY,
    ),
    prepare=prepare,
    filters={
        "external_whatsapp_message_id": FilterSpec(
            "data.external_whatsapp_message_id", "in", "str", multi=True
        ),
    },
    docs="https://developer.close.com/api/resources/activities/whatsapp",
    sample=sample,
    sample_weight=3,  # percent of a seeded feed
)
