"""Keeping webhook sends in flight without letting one receiver hold up another.

Each host keeps up to ``webhook_concurrency`` sends running, at most
``webhook_concurrency_per_destination`` for one subscription and
``webhook_concurrency_per_organization`` for one organization. Rows are claimed only for free
slots, one subscription at a time, and each send records its own outcome when it finishes:
no batch waits for its slowest receiver, and a receiver that times out occupies only its own
slots (its backlog waits; everyone else's keeps flowing).
"""

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select

from crmapi.events import delivery
from crmapi.events.delivery import Claimed
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

log = logging.getLogger("crmapi.webhooks")
D = t.webhook_delivery
# Subscriptions looked at per round, oldest due first.
DESTINATIONS_PER_ROUND = 200


def due_destinations(db: Database, now: str, limit: int) -> list[tuple[str, str]]:
    """``(organization_id, webhook_id)`` pairs with something due, the longest-waiting first."""
    due = delivery.due(now).subquery()
    stmt = (
        select(due.c.organization_id, due.c.webhook_id)
        .group_by(due.c.organization_id, due.c.webhook_id)
        .order_by(func.min(due.c.next_attempt_at))
        .limit(limit)
    )
    with db.read() as conn:
        return [(row.organization_id, row.webhook_id) for row in conn.execute(stmt)]


class Scheduler:
    def __init__(self, db: Database, settings: Settings, host: str = delivery.HOST) -> None:
        self.db = db
        self.settings = settings
        self.host = host
        self.capacity = settings.webhook_concurrency
        self.pool = ThreadPoolExecutor(self.capacity, thread_name_prefix="crmapi-send")
        self.finished = threading.Event()  # set whenever a send ends: slots are free again
        self._lock = threading.Lock()
        self._per_destination: Counter[tuple[str, str]] = Counter()
        self._per_org: Counter[str] = Counter()
        self._total = 0

    def in_flight(self) -> int:
        with self._lock:
            return self._total

    def dispatch(self) -> int:
        """Claim due deliveries for the free slots and start sending them; return how many."""
        if self.in_flight() >= self.capacity:
            return 0
        started = 0
        for org, webhook_id in due_destinations(self.db, dates.now(), DESTINATIONS_PER_ROUND):
            slots = self._free((org, webhook_id))
            if self._ordered():  # webhook faults exist: one send at a time, in planned order
                slots = min(slots, 1 - self.in_flight())
            if slots <= 0:
                continue
            claimed = delivery.claim(
                self.db,
                self.settings,
                dates.now(),
                slots,
                host=self.host,
                webhook=(org, webhook_id),
            )
            # The emulator's hook (crmapi.emulator.deliveries): webhook fault rules may
            # duplicate, delay or reorder what was claimed; absent in production.
            observer = getattr(self.db, "delivery_observer", None)
            if observer is not None:
                claimed = observer.plan(self.db, claimed)
            for item in claimed:
                self._start(item)
            started += len(claimed)
            if self.in_flight() >= self.capacity:
                break
        return started

    def _free(self, destination: tuple[str, str]) -> int:
        s = self.settings
        with self._lock:
            return min(
                s.webhook_concurrency_per_destination - self._per_destination[destination],
                s.webhook_concurrency_per_organization - self._per_org[destination[0]],
                self.capacity - self._total,
            )

    def _start(self, item: Claimed) -> None:
        destination = (item.organization_id, item.webhook_id)
        with self._lock:
            self._per_destination[destination] += 1
            self._per_org[item.organization_id] += 1
            self._total += 1
        self.pool.submit(self._send, item)

    def _ordered(self) -> bool:
        observer = getattr(self.db, "delivery_observer", None)
        return observer is not None and bool(observer.ordered)

    def _send(self, item: Claimed) -> None:
        try:
            seen: dict[str, Any] = {}
            error = delivery.attempt(self.settings, item, seen)
            observer = getattr(self.db, "delivery_observer", None)
            if observer is not None:  # the emulator keeps every attempt for inspection
                with self.db.write() as conn:
                    observer.attempted(conn, item, error, seen, dates.now())
            delivery.record(self.db, self.settings, item, error)
        except Exception:  # the database went away: the lease expires and the row comes back
            log.exception("recording webhook delivery %s failed", item.id)
        finally:
            destination = (item.organization_id, item.webhook_id)
            with self._lock:
                self._per_destination[destination] -= 1
                if self._per_destination[destination] <= 0:
                    del self._per_destination[destination]
                self._per_org[item.organization_id] -= 1
                if self._per_org[item.organization_id] <= 0:
                    del self._per_org[item.organization_id]
                self._total -= 1
            self.finished.set()

    def close(self) -> None:
        """Let the sends in flight finish (each is bounded by the timeout), then stop."""
        self.pool.shutdown(wait=True)
