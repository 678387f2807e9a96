"""Webhook deliveries due on an organization's own clock: tries, backoff, drop, auto-pause.

The sending itself is ``events.delivery``'s, run with "now" at the delivery's due time.
"""

from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.clock import OrgClock
from crmapi.events import delivery
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database

D = t.webhook_delivery
W = t.webhook


def pending(
    conn: Connection, org: str | None, until: str, limit: int
) -> list[tuple[str, str, str]]:
    if org is None:
        return []  # organizations on wall time: the worker's own delivery loop sends them
    rows = conn.execute(
        select(D.c.organization_id, D.c.id, D.c.next_attempt_at)
        .join(W, (W.c.organization_id == D.c.organization_id) & (W.c.id == D.c.webhook_id))
        .where(
            D.c.organization_id == org,
            D.c.status == "pending",
            D.c.next_attempt_at <= until,
            W.c.status == "active",
        )
        .order_by(D.c.next_attempt_at, D.c.id)
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def fire(
    db: Database, settings: Settings, org: str, delivery_id: str, due: str, org_clock: OrgClock
) -> list[dict[str, Any]]:
    """Try every delivery of ``org`` due now (the clock is already at ``due``)."""
    before, paused_before = _states(db, org), _paused(db, org)
    delivery.deliver_due(db, settings, org=org)
    after = _states(db, org, list(before))
    fired: list[dict[str, Any]] = []
    for row_id, (status, attempts, error) in after.items():
        old = before.get(row_id)
        if old is None or old[1] == attempts:
            continue
        outcome = OUTCOMES.get(status, "retrying")
        fired.append(
            {"kind": f"webhook.{outcome}", "id": row_id, "at": due, "attempts": attempts,
             "error": error}
        )  # fmt: skip
    for webhook_id, reason in _paused(db, org).items():
        if webhook_id not in paused_before:
            fired.append({"kind": "webhook.paused", "id": webhook_id, "at": due, "reason": reason})
    return fired


OUTCOMES = {"delivered": "delivered", "failed": "dropped"}


def _states(
    db: Database, org: str, ids: list[str] | None = None
) -> dict[str, tuple[str, int, str | None]]:
    """Pending deliveries of ``org`` (or the ones named, whatever their status now)."""
    which = D.c.status == "pending" if ids is None else D.c.id.in_(ids)
    with db.read() as conn:
        rows = conn.execute(
            select(D.c.id, D.c.status, D.c.attempts, D.c.last_error).where(
                D.c.organization_id == org, which
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _paused(db: Database, org: str) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute(
            select(W.c.id, W.c.pause_reason).where(
                W.c.organization_id == org, W.c.status == "paused"
            )
        ).all()
    return {r[0]: r[1] for r in rows}
