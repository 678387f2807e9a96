"""Deep ``_skip`` pages in constant time: remember where each page ended, seek from there.

Every sync client walks a listing with ``_skip += _limit``. Counting ``_skip`` rows costs a
scan of all of them, so a full sync is quadratic. After each page the last row's sort key
and id are remembered under the listing (organization, normalised filters, order) and the
offset just past it. The next request for that offset reads from that row on with the
index (``WHERE (sort, id) < (key, id) ... LIMIT n``), which costs what the first page does.

A remembered end is exact only while no row of the listing's table moved: each is stored
with the organization's listing version (``listing_version``, bumped by triggers on every
write) read in the same statement as its page, and a seek is used only when its own
statement reads the same version. Anything else (a miss, another process, a write since)
falls back to the counting query, whose answer is by definition the right one.
"""

import threading
from collections.abc import Hashable
from typing import Any, NamedTuple

from crmapi.query.model import ListQuery

# Page ends kept per process (~200 bytes each); a miss only costs the counting query.
MAX_ENDS = 20_000


class PageEnd(NamedTuple):
    """The last row before an offset: its sort key and id, and the version it was read at."""

    key: Any
    id: str
    version: int


class PageEnds:
    """A small bounded LRU of page ends, safe to share between threads."""

    def __init__(self, size: int = MAX_ENDS) -> None:
        self._size = size
        self._ends: dict[Hashable, PageEnd] = {}
        self._lock = threading.Lock()
        self.hits = 0  # pages answered by a seek (tests and the bench read it)

    def get(self, listing: Hashable, offset: int) -> PageEnd | None:
        with self._lock:
            return self._ends.get((listing, offset))

    def put(self, listing: Hashable, offset: int, end: PageEnd) -> None:
        with self._lock:
            ends = self._ends
            ends.pop((listing, offset), None)
            ends[(listing, offset)] = end
            if len(ends) > self._size:
                del ends[next(iter(ends))]  # the oldest entry (dicts keep insertion order)

    def clear(self) -> None:
        with self._lock:
            self._ends.clear()


ENDS = PageEnds()


def listing_key(scope: Hashable, query: ListQuery) -> tuple[Any, ...]:
    """What decides a listing's rows and their order (not ``_limit``, ``_skip``, ``_fields``).

    Filters are sorted by parameter, so the same filters in another order share ends."""
    conditions = tuple(sorted((c.param, c.values) for c in query.conditions))
    return (scope, query.order_column, query.descending, conditions)


def seekable(query: ListQuery) -> bool:
    """Only real columns can be sought on (a JSON field's order differs between backends)."""
    return query.skip > 0 and not query.order_column.startswith("data.")
