"""Periodic per-organization work claimed by one host at a time (``background_job`` leases).

Each (organization, job) row says when the job is next due. A host locks due rows
``FOR UPDATE SKIP LOCKED``, leases them (``lease_until``, ``leased_by``), runs the job and
moves ``next_run_at`` on. With N hosts each organization's job runs once per interval; a host
that dies mid-job leaves a lease that expires, and another host takes the job over.
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, exists, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

J = t.background_job
O = t.organization  # noqa: E741
NEVER_RUN = ""  # sorts before every timestamp: a new organization's job is due at once


def _later(now: str, seconds: float) -> str:
    return dates.canonical(dates.to_datetime(now) + timedelta(seconds=seconds))


def _insert(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(J)


def _add_missing(conn: Connection, name: str) -> None:
    """A row for every organization that has none yet (two hosts may race: no conflict)."""
    missing = select(O.c.id, literal(name), literal(NEVER_RUN)).where(
        ~exists().where(J.c.organization_id == O.c.id, J.c.name == name)
    )
    stmt = _insert(conn).from_select(["organization_id", "name", "next_run_at"], missing)
    conn.execute(stmt.on_conflict_do_nothing())


def claim(
    db: Database, name: str, host: str, now: str, lease_seconds: float, batch: int = 20
) -> list[str]:
    """Lease up to ``batch`` organizations whose ``name`` job is due; return their ids.

    Candidates are read without locks, then each is locked and leased in its own short
    transaction that names its organization (a single-shard statement on a sharded database);
    a row another host holds or has just finished is skipped.
    """
    with db.write() as conn:
        _add_missing(conn, name)
    with db.read() as conn:
        candidates = list(
            conn.execute(
                select(J.c.organization_id)
                .where(_due(name, now))
                .order_by(J.c.next_run_at)
                .limit(batch)
            ).scalars()
        )
    won = []
    for org in candidates:
        with db.write() as conn:
            locked = conn.execute(
                select(J.c.organization_id)
                .where(J.c.organization_id == org, _due(name, now))
                .with_for_update(skip_locked=True)
            ).first()
            if locked is None:
                continue
            conn.execute(
                update(J)
                .where(J.c.organization_id == org, J.c.name == name)
                .values(lease_until=_later(now, lease_seconds), leased_by=host)
            )
        won.append(org)
    return won


def _due(name: str, now: str) -> Any:
    return (
        (J.c.name == name)
        & (J.c.next_run_at <= now)
        & or_(J.c.lease_until.is_(None), J.c.lease_until <= now)
    )


def finish(db: Database, name: str, org: str, host: str, interval_seconds: float) -> bool:
    """Release the lease and schedule the next run; False if another host took it over."""
    with db.write() as conn:
        done = conn.execute(
            update(J)
            .where(J.c.organization_id == org, J.c.name == name, J.c.leased_by == host)
            .values(
                next_run_at=_later(dates.now(), interval_seconds), lease_until=None, leased_by=None
            )
        ).rowcount
    return bool(done == 1)
