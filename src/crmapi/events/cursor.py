"""Opaque event-log cursors: a keyset position ``(date_updated, id)`` and a direction.

A keyset position (not an offset) is what keeps paging exact while events are written:
"older than this event" names the same set of rows however many newer events arrive.
"""

import base64
from dataclasses import dataclass
from typing import Literal

import orjson

Direction = Literal["next", "previous"]


@dataclass(frozen=True)
class Cursor:
    date_updated: str
    id: str
    direction: Direction  # next = older than the position, previous = newer


def encode(cursor: Cursor) -> str:
    raw = orjson.dumps([cursor.direction[0], cursor.date_updated, cursor.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    """Parse a cursor we issued; ``ValueError`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, date_updated, event_id = orjson.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(text) from exc
    if kind not in ("n", "p") or not isinstance(date_updated, str) or not isinstance(event_id, str):
        raise ValueError(text)
    return Cursor(date_updated, event_id, "next" if kind == "n" else "previous")
