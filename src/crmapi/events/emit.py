"""Every change to an object writes one event, in the same transaction as the change.

This is the only way writes announce themselves: the event log (``GET /event/``) and webhook
deliveries are both read from what ``emit`` stores.
"""

from typing import Any

from sqlalchemy import Connection, insert

from crmapi.domain.context import Principal
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

# Keys whose change alone does not make an update worth reporting.
_IGNORED = frozenset({"date_updated", "updated_by", "updated_by_name"})


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if k not in _IGNORED and before.get(k) != after.get(k))


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
    values of the changed fields on update and the whole object on delete.
    """
    if action == "updated":
        fields = changed_fields(before or {}, after or {})
        if not fields:
            return None
        previous: dict[str, Any] | None = {k: (before or {}).get(k) for k in fields}
    elif action == "deleted":
        fields, previous = [], before
    else:
        fields, previous = [], {}
    now = dates.now()
    event_id = new_id("ev")
    conn.execute(
        insert(t.event).values(
            id=event_id,
            organization_id=principal.organization_id,
            date_created=now,
            date_updated=now,
            object_type=object_type,
            object_id=object_id,
            action=action,
            lead_id=lead_id,
            user_id=principal.user_id,
            request_id=request_id,
            api_key_id=principal.api_key_id,
            oauth_client_id=principal.oauth_client_id,
            changed_fields=fields,
            previous_data=previous,
            data=None if action == "deleted" else after,
            meta=meta or {},
        )
    )
    return event_id
