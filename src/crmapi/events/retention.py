"""Event-log retention: events older than ``event_retention_days`` (Close keeps 30) go away.

The server runs this itself (``events.worker``), at start and then periodically. Finished
webhook deliveries are kept for the same period, for inspection, then removed too.
"""

from datetime import timedelta

from sqlalchemy import delete, select

from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

E = t.event
D = t.webhook_delivery


def cutoff(days: int, now: str | None = None) -> str:
    return dates.canonical(dates.to_datetime(now or dates.now()) - timedelta(days=days))


def cleanup(db: Database, days: int, now: str | None = None) -> int:
    """Delete expired events and finished deliveries; return how many events went.

    One transaction per organization keeps each lock short and uses the
    ``(organization_id, date_updated)`` index.
    """
    before = cutoff(days, now)
    with db.read() as conn:
        orgs = list(conn.execute(select(t.organization.c.id)).scalars())
    removed = 0
    for org in orgs:
        with db.write() as conn:
            removed += conn.execute(
                delete(E).where(E.c.organization_id == org, E.c.date_updated < before)
            ).rowcount
            conn.execute(
                delete(D).where(
                    D.c.organization_id == org, D.c.status != "pending", D.c.date_created < before
                )
            )
    return removed
