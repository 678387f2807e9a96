"""Event-log retention: events older than ``event_retention_days`` (Close keeps 30) go away.

The server runs this itself (``events.worker``), at start and then periodically, one
organization at a time under a ``background_job`` lease (``events.jobs``), so with several
hosts each organization is cleaned by one of them. Finished webhook deliveries are kept for
the same period, for inspection, then removed too.
"""

from datetime import timedelta

from sqlalchemy import delete, select

from crmapi.domain import clock
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

E = t.event
D = t.webhook_delivery
JOB = "retention"


def cutoff(days: int, now: str | None = None) -> str:
    return dates.canonical(dates.to_datetime(now or dates.now()) - timedelta(days=days))


def cleanup_organization(db: Database, org: str, before: str) -> int:
    """One organization's expired events and finished deliveries, in one short transaction
    that uses the ``(organization_id, date_updated)`` index; return how many events went."""
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


def cleanup(db: Database, days: int, now: str | None = None) -> int:
    """Every organization at once (tests and one-off runs); return how many events went."""
    with db.read() as conn:
        orgs = list(conn.execute(select(t.organization.c.id)).scalars())
    return sum(cleanup_organization(db, org, org_cutoff(db, org, days, now)) for org in orgs)


def org_cutoff(db: Database, org: str, days: int, now: str | None = None) -> str:
    """The cutoff on the organization's own test clock (crmapi.domain.clock)."""
    if now is None:
        with db.read() as conn:
            now = clock.org_now(conn, org)
    return cutoff(days, now)
