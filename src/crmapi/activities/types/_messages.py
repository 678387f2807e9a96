"""What Email, SMS and WhatsApp share: the message status machine and attachment checks.

Statuses (Email, SMS): inbox, draft, scheduled, outbox, sent, error. Nothing is really sent:
``outbox`` means "send now", so the message moves straight to ``sent`` with ``date_sent`` set,
unless ``send_in`` delays it: then it stays ``outbox`` until then. ``scheduled`` and delayed
messages are sent by the clock's due work when their time comes (emulator/due_messages.py).
"""

import mimetypes
from collections.abc import Iterable
from typing import Any

from crmapi.activities import due
from crmapi.domain.errors import InvalidRequest
from crmapi.util import dates

EDITABLE = "draft"
FROM_DRAFT = frozenset({"draft", "scheduled", "outbox"})
CANCELLABLE = frozenset({"scheduled", "outbox"})
RECEIVED_OR_SENT = frozenset({"sent", "inbox"})
SEND_IN_MAX = 59  # Close: ``send_in`` is an undo window of less than a minute


def _check_transition(existing: dict[str, Any], obj: dict[str, Any], sent: dict[str, Any]) -> None:
    old, new = existing["status"], obj["status"]
    if old == EDITABLE:
        if new not in FROM_DRAFT:
            raise InvalidRequest(
                field_errors={
                    "status": f"A draft can only move to draft, scheduled or outbox, not {new}."
                }
            )
        return
    if old in CANCELLABLE and new == "draft":
        return
    changed = [k for k in sent if k != "status" and sent[k] != existing.get(k)]
    if new != old or changed:
        raise InvalidRequest(
            [
                f"Only drafts can be modified; this message is {old}. "
                "A scheduled message can be cancelled by setting its status back to draft."
            ]
        )


def _send_in(sent: dict[str, Any], obj: dict[str, Any]) -> int:
    """``send_in`` (seconds) delays the send to allow undo; checked, then dropped."""
    obj.pop("send_in", None)
    value = sent.get("send_in")
    if value is not None and not 0 <= value <= SEND_IN_MAX:
        raise InvalidRequest(
            field_errors={"send_in": f"Must be between 0 and {SEND_IN_MAX} seconds."}
        )
    return int(value or 0)


def apply_status(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    """Check the transition, then fill date_sent/date_scheduled and activity_at."""
    if existing is not None:
        _check_transition(existing, obj, sent)
    delay = _send_in(sent, obj)
    status = obj["status"]
    old = existing["status"] if existing is not None else None
    if status == "scheduled" and not obj.get("date_scheduled"):
        raise InvalidRequest(
            field_errors={"date_scheduled": "This field is required when status is scheduled."}
        )
    if old in CANCELLABLE and status == "draft":
        obj["date_scheduled"] = None  # cancelling drops the schedule
    elif status not in ("scheduled", "draft", "sent") and "date_scheduled" not in sent:
        obj["date_scheduled"] = None
    if status == "outbox" and delay:
        obj[due.SEND_AT] = dates.shift(wc.now, seconds=delay)
    elif status == "outbox":
        obj["status"] = "sent"
        obj["date_sent"] = wc.now
    elif status in RECEIVED_OR_SENT and not obj.get("date_sent"):
        obj["date_sent"] = sent.get("activity_at") or obj["date_created"]
    elif status not in RECEIVED_OR_SENT:
        obj["date_sent"] = None
    timing = ("status", "date_scheduled")
    if "activity_at" not in sent and (existing is None or any(k in sent for k in timing)):
        obj["activity_at"] = _activity_at(obj)


def _activity_at(obj: dict[str, Any]) -> str:
    # Close: activity_at is when the message was actually sent or received.
    if obj["status"] in RECEIVED_OR_SENT and obj.get("date_sent"):
        return str(obj["date_sent"])
    if obj["status"] == "scheduled" and obj.get("date_scheduled"):
        return str(obj["date_scheduled"])
    return str(obj["date_created"])


def _attachment(item: dict[str, Any], required: Iterable[str]) -> tuple[dict[str, Any], str | None]:
    missing = [k for k in required if item.get(k) in (None, "")]
    if missing:
        return {}, f"{', '.join(missing)} required"
    url, filename = item.get("url"), item.get("filename")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
        return {}, "url must be an http(s) URL"
    if not isinstance(filename, str) or len(filename) > 1000:
        return {}, "filename must be a string"
    size = item.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        return {}, "size must be a non-negative integer"
    content_type = item.get("content_type")
    if content_type is not None and not isinstance(content_type, str):
        return {}, "content_type must be a string"
    out: dict[str, Any] = {
        "url": url,
        "filename": filename,
        "size": size,
        "content_type": content_type
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream",
    }
    for extra in ("content_id", "inline_only", "thumbnail_url"):
        if item.get(extra) is not None:
            out[extra] = item[extra]
    return out, None


def check_attachments(
    items: list[dict[str, Any]], required: Iterable[str], max_total_bytes: int | None = None
) -> list[dict[str, Any]]:
    """Validate ``[{url, filename, size, content_type}]``; one field error names the bad item."""
    keys = tuple(required)
    out = []
    for index, item in enumerate(items):
        clean, problem = _attachment(item, keys)
        if problem is not None:
            raise InvalidRequest(field_errors={"attachments": f"Attachment {index}: {problem}."})
        out.append(clean)
    total = sum(a["size"] or 0 for a in out)
    if max_total_bytes is not None and total > max_total_bytes:
        raise InvalidRequest(
            field_errors={
                "attachments": f"Attachments may total at most {max_total_bytes // 2**20} MB."
            }
        )
    return out


def rfc2822(value: str | None) -> str | None:
    return dates.rfc2822(value) if value else None


def sent_action(
    sent: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any]
) -> tuple[str, ...]:
    """Close's ``sent`` event: the message was sent from the outbox by this write."""
    was_sent = before is not None and before.get("status") == "sent"
    if sent.get("status") == "outbox" and after.get("status") == "sent" and not was_sent:
        return ("sent",)
    return ()
