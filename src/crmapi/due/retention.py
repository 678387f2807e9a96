"""Event retention on an organization's clock: run at every step of an advance."""

from sqlalchemy import delete

from crmapi.events.retention import D, E, cutoff
from crmapi.settings import Settings
from crmapi.storage.db import Database


def sweep(db: Database, settings: Settings, org: str, now: str) -> int:
    """Delete ``org``'s events (and finished deliveries) older than the retention period."""
    before = cutoff(settings.event_retention_days, now)
    with db.write() as conn:
        removed = conn.execute(
            delete(E).where(E.c.organization_id == org, E.c.date_updated < before)
        ).rowcount
        conn.execute(
            delete(D).where(
                D.c.organization_id == org, D.c.status != "pending", D.c.date_created < before
            )
        )
    return int(removed)
