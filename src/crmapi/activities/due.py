"""When an activity has work due: a scheduled message's send time, or the end of the short
``send_in`` delay of a message sent from the outbox. Stored in ``activity.due_at`` on every
write (``store.row_values``), so the clock finds due messages through one partial index.
"""

from typing import Any

# Key a write puts on an outbox message delayed by ``send_in`` (never stored in ``data``).
SEND_AT = "_send_at"
MESSAGE_TYPES = frozenset({"Email", "SMS"})


def due_at(values: dict[str, Any]) -> str | None:
    if values.get("_type") not in MESSAGE_TYPES:
        return None
    status = values.get("status")
    if status == "scheduled":
        return values.get("date_scheduled")
    if status == "outbox":
        return values.get(SEND_AT)
    return None
