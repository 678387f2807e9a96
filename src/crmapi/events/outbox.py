"""The webhook outbox: an event queues one delivery per subscription that selects it.

Rows are written in the transaction that writes the event, so a delivery exists exactly when
its event does, and survives restarts; the delivery worker (``events.delivery``) sends them.
"""

from typing import Any

from sqlalchemy import Connection, insert, select

from crmapi.events import filters
from crmapi.storage import tables as t
from crmapi.util.ids import new_id
from crmapi.util.jsonutil import dumps

W = t.webhook


def subscribed(events: list[dict[str, Any]], event: dict[str, Any]) -> bool:
    """Does a subscription's ``events`` list select this event?"""
    for spec in events:
        if spec["object_type"] != event["object_type"] or spec["action"] != event["action"]:
            continue
        extra = spec.get("extra_filter")
        if extra is None or filters.matches(extra, event):
            return True
    return False


def enqueue(conn: Connection, event: dict[str, Any]) -> int:
    """Queue the event for every active subscription that selects it (same transaction)."""
    org = event["organization_id"]
    rows = conn.execute(
        select(W.c.id, W.c.events).where(W.c.organization_id == org, W.c.status == "active")
    ).all()
    queued = 0
    for row in rows:
        if not subscribed(row.events, event):
            continue
        payload = dumps({"event": event, "subscription_id": row.id}).decode()
        conn.execute(
            insert(t.webhook_delivery).values(
                id=new_id("whdel"),
                organization_id=org,
                webhook_id=row.id,
                event_id=event["id"],
                payload=payload,
                attempts=0,
                next_attempt_at=event["date_created"],
                status="pending",
                date_created=event["date_created"],
            )
        )
        queued += 1
    return queued
