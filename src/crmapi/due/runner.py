"""Firing due work: in the background for organizations on wall or offset time, and step by
step when a test advances an organization's clock."""

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from crmapi.domain import clock
from crmapi.domain.clock import OrgClock
from crmapi.domain.errors import InvalidRequest
from crmapi.due import registry, retention
from crmapi.settings import Settings
from crmapi.storage.db import Database
from crmapi.util import dates

FAR_FUTURE = "9999-12-31T23:59:59.999999+00:00"
BATCH = 100
MAX_STEPS = 1000


def pending(db: Database, org: str, limit: int = 100) -> list[dict[str, Any]]:
    """What the organization has due, at any time from now on, earliest first."""
    with db.read() as conn:
        items = registry.next_items(conn, org, FAR_FUTURE, limit)
    return [{"kind": i.kind, "id": i.id, "due": i.due} for i in items]


def _fire(db: Database, settings: Settings, item: registry.DueItem, c: OrgClock) -> list[Any]:
    with clock.applied(c, item.org):
        return registry.BY_NAME[item.kind].fire(db, settings, item.org, item.id, item.due, c)


def run_background(db: Database, settings: Settings) -> int:
    """One round: what is due now for every organization whose clock runs by itself."""
    fired = 0
    with db.read() as conn:
        items = registry.next_items(conn, None, dates.now(), BATCH)
        clocks = {i.org: clock.load(conn, i.org) for i in items}
        offsets = conn.execute(
            select(clock.E.c.organization_id, *clock.COLUMNS).where(
                clock.E.c.clock_mode == "offset"
            )
        ).all()
    for item in items:
        fired += len(_fire(db, settings, item, clocks[item.org]))
    for row in offsets:
        org, c = row[0], clock.from_row(*row[1:])
        with db.read() as conn:
            own = registry.next_items(conn, org, clock.now_for(c), BATCH)
        for item in own:
            fired += len(_fire(db, settings, item, c))
    return fired


def advance(
    db: Database,
    settings: Settings,
    org: str,
    *,
    to: str | None = None,
    idle: bool = False,
    max_steps: int = MAX_STEPS,
) -> dict[str, Any]:
    """Move ``org``'s clock to ``to`` (or until nothing is due), firing each due item at its
    own time, in time order; return the new time and what fired."""
    with db.read() as conn:
        current = clock.load(conn, org)
    now = clock.now_for(current)
    if to is not None and to < now:
        raise InvalidRequest(field_errors={"to": "The clock only moves forward; PUT it instead."})
    fired: list[dict[str, Any]] = []
    steps = 0
    while steps < max_steps:
        with db.read() as conn:
            found = registry.next_items(conn, org, to or FAR_FUTURE, 1)
        if not found:
            break
        item = found[0]
        now = max(now, item.due)
        fired += _sweep(db, settings, org, now)
        fired += _fire(db, settings, item, _frozen(current, now))
        steps += 1
    final = now if to is None else to
    fired += _sweep(db, settings, org, final)
    moved = _set_time(db, org, current, final)
    return {"now": final, "mode": moved.mode, "fired": fired, "steps": steps,
            "idle": not _has_due(db, org, final)}  # fmt: skip


def _frozen(current: OrgClock, at: str) -> OrgClock:
    return dataclasses.replace(current, mode="frozen", frozen_at=at)


def _sweep(db: Database, settings: Settings, org: str, now: str) -> list[dict[str, Any]]:
    removed = retention.sweep(db, settings, org, now)
    return [{"kind": "event.retention", "at": now, "removed": removed}] if removed else []


def _has_due(db: Database, org: str, now: str) -> bool:
    with db.read() as conn:
        return bool(registry.next_items(conn, org, now, 1))


def _set_time(db: Database, org: str, current: OrgClock, at: str) -> OrgClock:
    """Store the clock at ``at``: a frozen one stays frozen there; one that ticks (offset, or
    real, which becomes offset) keeps ticking from there."""
    if current.mode == "frozen":
        moved = dataclasses.replace(current, frozen_at=at)
    else:
        wall = dates.to_datetime(clock.now_for(clock.REAL))
        offset = (dates.to_datetime(at) - wall) / timedelta(seconds=1)
        moved = dataclasses.replace(current, mode="offset", offset_seconds=offset)
    save(db, org, moved)
    return moved


def save(db: Database, org: str, c: OrgClock) -> None:
    """Write the organization's clock (its ``emulator_org`` row is created if missing)."""
    E = clock.E
    values = {
        "clock_mode": c.mode,
        "clock_offset_seconds": c.offset_seconds,
        "clock_frozen_at": c.frozen_at,
        "date_updated": clock.now_for(clock.REAL),
    }
    with db.write() as conn:
        changed = conn.execute(
            update(E).where(E.c.organization_id == org).values(**values)
        ).rowcount
        if not changed:
            conn.execute(
                E.insert().values(
                    organization_id=org, id_seed=c.id_seed, seed_pack="empty", **values
                )
            )
