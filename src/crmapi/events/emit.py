"""Every change to an object writes one event, in the same transaction as the change.

This is the only way writes announce themselves: the event log (``GET /event/``) and webhook
deliveries are both read from what ``emit`` stores. The webhook outbox rows are written here
too, so an event and its deliveries commit (or roll back) together.
"""

import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert

from crmapi.domain.context import Actor, Principal
from crmapi.events import caused, outbox
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

# Keys whose change alone does not make an update worth reporting (they still appear in
# ``changed_fields`` next to a real change, as in Close's opportunity-won example).
_INCIDENTAL = frozenset({"date_updated", "updated_by", "updated_by_name"})

# The order Close's event example lists the keys in; also the columns of ``event``.
EVENT_KEYS = (
    "id",
    "date_created",
    "date_updated",
    "organization_id",
    "object_type",
    "object_id",
    "lead_id",
    "action",
    "user_id",
    "request_id",
    "api_key_id",
    "oauth_client_id",
    "changed_fields",
    "previous_data",
    "data",
    "meta",
)


class _Clock:
    """Strictly increasing timestamps per organization within this process.

    Events are listed newest first by ``date_updated``; two events of one request (a lead and
    its ``Created`` activity) must not share a timestamp or their order would depend on ids.
    Time is the organization's (its test clock may be frozen or elsewhere): a tie moves a
    microsecond on, while a clock set back by more than a second is taken as it is.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}

    def now(self, org: str = "") -> str:
        current = dates.to_datetime(dates.now())
        with self._lock:
            last = self._last.get(org)
            if last is not None and last - _REWIND < current <= last:
                current = last + timedelta(microseconds=1)
            if len(self._last) > 100_000:
                self._last.clear()
            self._last[org] = current
        return dates.canonical(current)


_REWIND = timedelta(seconds=1)
_clock = _Clock()


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))


def _diff(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[list[str], dict[str, Any] | None] | None:
    """``(changed_fields, previous_data)`` for the action; None for an update that changed
    nothing a client could see."""
    if action == "updated":
        old, new = before or {}, after or {}
        fields = changed_fields(old, new)
        if not set(fields) - _INCIDENTAL:
            return None
        return fields, {k: old.get(k) for k in fields}
    if action == "deleted":
        return [], before
    return [], {}


def emit(
    conn: Connection,
    principal: Principal,
    *,
    object_type: str,
    action: str,
    object_id: str,
    lead_id: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    request_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> str | None:
    """Store the event for one change; return its id (None for an update that changed nothing).

    ``before``/``after`` are the object as the API renders it; ``previous_data`` holds the old
    values of the changed fields on update, the whole object on delete, ``{}`` on create.
    """
    diff = _diff(action, before, after)
    if diff is None:
        return None
    fields, previous = diff
    now = _clock.now(principal.organization_id)
    event: dict[str, Any] = {
        "id": new_id("ev"),
        "date_created": now,
        "date_updated": now,
        "organization_id": principal.organization_id,
        "object_type": object_type,
        "object_id": object_id,
        "lead_id": lead_id,
        "action": action,
        "user_id": principal.user_id,
        "request_id": request_id,
        "api_key_id": principal.api_key_id,
        "oauth_client_id": principal.oauth_client_id,
        "changed_fields": fields,
        "previous_data": previous,
        "data": None if action == "deleted" else after,
        "meta": meta or {},
    }
    conn.execute(insert(t.event).values(**event))
    outbox.enqueue(conn, event)
    caused.note(event["id"])
    return str(event["id"])


# The request path of what ``crmapi import`` writes (a file or another server): its events
# carry ``meta["crmapi.import"]`` so a consumer can tell a copied change from a live one.
IMPORT_PATH = "crmapi import"


def change_meta(ctx: Actor) -> dict[str, Any]:
    """An event's ``meta``: the request that caused the change, and the bulk action that
    made it when one did (core.md §12.2: ``meta.bulk_action_id``). Only a bulk action's own
    context carries that id, so it is read by name instead of widening ``Actor``."""
    meta: dict[str, Any] = {"request_method": ctx.method, "request_path": ctx.path}
    bulk_action_id = getattr(ctx, "bulk_action_id", None)
    if bulk_action_id:
        meta["bulk_action_id"] = bulk_action_id
    if ctx.path == IMPORT_PATH:
        meta["crmapi.import"] = True
    return meta


def emit_change(
    conn: Connection,
    ctx: Actor,
    object_type: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    lead_key: str = "lead_id",
) -> str | None:
    """``emit`` for a change an HTTP request made (its principal, request id and meta).

    ``lead_key`` names the key of the rendered object holding its lead (``id`` for a lead).
    """
    obj = after or before or {}
    return emit(
        conn,
        ctx.principal,
        object_type=object_type,
        action=action,
        object_id=obj["id"],
        lead_id=obj.get(lead_key),
        before=before,
        after=after,
        request_id=ctx.request_id,
        meta=change_meta(ctx),
    )
