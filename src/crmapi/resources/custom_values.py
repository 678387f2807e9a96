"""``custom.cf_...`` values on leads, contacts and opportunities.

Values are stored as one JSON document per object keyed by field id and rendered as top-level
``custom.<id>`` keys; unset fields are omitted. Typing and validation against the
organization's custom field definitions is the job of the custom-fields resource.
"""

from typing import Any

from sqlalchemy import Connection

PREFIX = "custom."


def render(stored: dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {}
    return {f"{PREFIX}{key}": value for key, value in stored.items() if value is not None}


def validate(
    conn: Connection, org_id: str, object_type: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Pick ``custom.<id>`` keys out of a body (``None`` means clear the value)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(key, str) and key.startswith(PREFIX) and len(key) > len(PREFIX):
            out[key[len(PREFIX) :]] = value
    return out


def merge(stored: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(stored or {})
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
