"""An organization's test clock and id seed, and the one place that applies them.

``real`` is wall time, ``offset`` wall time moved by a fixed number of seconds (still
ticking), ``frozen`` one instant until the clock is set or advanced. The state lives in
``emulator_org`` (so every process agrees) and reaches requests with the principal (one
query: ``accounts.principal_for_key`` joins it). Everything that asks ``dates.now()`` or
``ids.new_id()`` inside ``applied`` gets the organization's time and ids.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, select

from crmapi.storage import tables as t
from crmapi.util import dates, ids

MODES = ("real", "offset", "frozen")


@dataclass(frozen=True, slots=True)
class OrgClock:
    mode: str = "real"
    offset_seconds: float = 0.0
    frozen_at: str | None = None
    id_seed: int | None = None

    @property
    def is_default(self) -> bool:
        """Wall time and random ids: nothing to apply."""
        return self.mode == "real" and self.id_seed is None


REAL = OrgClock()
E = t.emulator_org
COLUMNS = (E.c.clock_mode, E.c.clock_offset_seconds, E.c.clock_frozen_at, E.c.id_seed)


def from_row(
    mode: str | None, offset: float | None, frozen: str | None, seed: int | None
) -> OrgClock:
    if mode is None:
        return REAL
    return OrgClock(mode, float(offset or 0.0), frozen, seed)


def load(conn: Connection, org: str) -> OrgClock:
    row = conn.execute(select(*COLUMNS).where(E.c.organization_id == org)).first()
    return REAL if row is None else from_row(*row)


@contextmanager
def applied(clock: OrgClock | None, org: str = "") -> Iterator[None]:
    """Run the block on ``org``'s clock and id stream (nothing to do for the default)."""
    if clock is None or clock.is_default:
        yield
        return
    frozen_at = clock.frozen_at if clock.mode == "frozen" else None
    offset = clock.offset_seconds if clock.mode == "offset" else 0.0
    rng = ids.stream(org, clock.id_seed) if clock.id_seed is not None else None
    with dates.clock(frozen_at, offset), ids.seeded(rng):
        yield


def now_for(clock: OrgClock | None) -> str:
    """``dates.now()`` on this clock."""
    with applied(clock):
        return dates.now()


def org_now(conn: Connection, org: str) -> str:
    return now_for(load(conn, org))
