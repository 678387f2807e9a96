"""The organization's clock, as Emulator II reads it (fault windows, journal entries).

The journal asks on every request, so the clock is remembered for a second per organization
in this process: one query per organization and second at most. A clock set or advanced in
this process is seen at once (``forget``); one changed by another process within a second.
"""

import threading
import time
from datetime import datetime

from crmapi.domain import clock
from crmapi.domain.clock import OrgClock
from crmapi.storage.db import Database
from crmapi.util import dates

_TTL = 1.0
_known: dict[tuple[int, str], tuple[float, OrgClock]] = {}
_lock = threading.Lock()


def org_now(db: Database, org_id: str) -> datetime:
    """Now on ``org_id``'s test clock."""
    return dates.to_datetime(clock.now_for(_clock(db, org_id)))


def _clock(db: Database, org_id: str) -> OrgClock:
    key = (id(db), org_id)
    hit = _known.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    with db.read() as conn:
        found = clock.load(conn, org_id)
    with _lock:
        if len(_known) > 10_000:
            _known.clear()
        _known[key] = (now + _TTL, found)
    return found


def forget(org_id: str | None = None) -> None:
    """Drop what is remembered (an organization's clock changed in this process)."""
    with _lock:
        for key in [k for k in _known if org_id is None or k[1] == org_id]:
            _known.pop(key, None)
