"""The status machine Email and SMS share (inbox, draft, scheduled, outbox, sent, error).

Nothing is really sent: ``outbox`` means "send now", so the message moves straight to
``sent`` with ``date_sent`` set.
"""

from typing import Any

from crmapi.domain.errors import InvalidRequest

EDITABLE = "draft"
FROM_DRAFT = frozenset({"draft", "scheduled", "outbox"})
CANCELLABLE = frozenset({"scheduled", "outbox"})


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


def apply_status(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    """Check the transition, then fill date_sent/date_scheduled and activity_at."""
    if existing is not None:
        _check_transition(existing, obj, sent)
    status = obj["status"]
    if status == "scheduled" and not obj.get("date_scheduled"):
        raise InvalidRequest(
            field_errors={"date_scheduled": "This field is required when status is scheduled."}
        )
    if status != "scheduled" and "date_scheduled" not in sent and status != "draft":
        obj["date_scheduled"] = obj.get("date_scheduled") if status == "sent" else None
    if status == "outbox":
        obj["status"] = "sent"
        obj["date_sent"] = wc.now
    elif status in ("sent", "inbox") and not obj.get("date_sent"):
        obj["date_sent"] = sent.get("activity_at") or obj["date_created"]
    elif status == "draft":
        obj["date_sent"] = None
    if "activity_at" not in sent:
        obj["activity_at"] = _activity_at(obj)


def _activity_at(obj: dict[str, Any]) -> str:
    # Close: activity_at is when the message was actually sent or received.
    if obj["status"] in ("sent", "inbox") and obj.get("date_sent"):
        return str(obj["date_sent"])
    if obj["status"] == "scheduled" and obj.get("date_scheduled"):
        return str(obj["date_scheduled"])
    return str(obj.get("activity_at") or obj["date_created"])
