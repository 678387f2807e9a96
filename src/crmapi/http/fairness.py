"""Fair shares of one process for every organization.

Two pieces, used by ``http/endpoint``:

- ``Costs`` remembers which (organization, request shape) pairs were expensive lately:
  requests that ran past the event loop's budget. Such requests are the ones a tenant can
  use to starve others (a deep ``_skip``, a wide filter); cheap ones are never held back.
- ``OrgGate`` lets at most ``limit`` expensive requests of one organization run at once per
  process; the others wait here, on the event loop, holding no thread and no connection,
  until one of its own finishes (or their deadline passes: 503). Another organization's
  requests never wait behind them.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from crmapi.domain.errors import RequestTimeout

_REMEMBERED = 10_000


class Costs:
    """(organization, shape) pairs that ran past the budget twice within ``seconds``.

    Twice, because a first request of any shape may be slow for reasons of its own (a cold
    cache, statements compiled for the first time); a second one is a pattern.
    """

    strikes = 2
    # A request that ran in a thread is expensive only well above what cheap requests take
    # now: when the whole machine is busy every request is slower, and none is singled out.
    relative = 8.0
    quantile = 0.25  # "cheap": the lower quartile of thread times (heavy ones do not move it)

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._seen: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()
        self.typical = 0.0  # streaming estimate of the lower quartile of thread times
        self._orgs: OrderedDict[str, float] = OrderedDict()  # organization -> last request

    def costly(self, seconds: float, floor: float) -> bool:
        """Whether ``seconds`` in a thread make a request expensive (and learn from it)."""
        if seconds != float("inf"):
            if self.typical == 0:
                self.typical = seconds
            elif seconds < self.typical:  # a quantile estimator: steps of 2% at most
                self.typical *= 1 - 0.02 * (1 - self.quantile)
            else:
                self.typical *= 1 + 0.02 * self.quantile
        return seconds > max(floor, self.typical * self.relative)

    def seen(self, org: str) -> None:
        self._orgs[org] = time.monotonic()
        self._orgs.move_to_end(org)
        if len(self._orgs) > _REMEMBERED:
            self._orgs.popitem(last=False)

    def others_active(self, org: str, within: float = 2.0) -> bool:
        """Whether another organization sent a request lately: only then is there anyone
        to be fair to (a server used by one organization is never held back)."""
        since = time.monotonic() - within
        for other, last in reversed(self._orgs.items()):
            if last < since:
                return False
            if other != org:
                return True
        return False

    def expensive(self, org: str, shape: str) -> bool:
        seen = self._seen.get((org, shape))
        return seen is not None and seen[1] >= self.strikes and seen[0] > time.monotonic()

    def mark(self, org: str, shape: str) -> None:
        now = time.monotonic()
        until, count = self._seen.get((org, shape), (0.0, 0))
        self._seen[(org, shape)] = (now + self.seconds, count + 1 if until > now else 1)
        self._seen.move_to_end((org, shape))
        if len(self._seen) > _REMEMBERED:
            self._seen.popitem(last=False)


class OrgGate:
    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        # organization -> (its semaphore, requests holding or awaiting it)
        self._slots: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    def waiting(self, org: str) -> int:
        entry = self._slots.get(org)
        return entry[1][0] if entry else 0

    @asynccontextmanager
    async def turn(self, org: str, timeout: float | None) -> AsyncIterator[None]:
        entry = self._slots.get(org)
        if entry is None:
            entry = self._slots[org] = (asyncio.Semaphore(self.limit), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            try:
                await asyncio.wait_for(semaphore.acquire(), timeout)
            except TimeoutError:
                raise RequestTimeout(timeout or 0) from None
            try:
                yield
            finally:
                semaphore.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[org]
