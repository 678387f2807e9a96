"""The server's own background work: webhook delivery and event retention, in one thread.

Started and stopped by the app's lifespan. It is a thread, not an asyncio task, because
sending and the database calls block; the event loop serving requests never waits on it.
Every host runs one; the work is shared through leases in the database (``events.delivery``
for deliveries, ``events.jobs`` for retention), so each item is done by exactly one host.
"""

import logging
import threading
import time

from crmapi import due
from crmapi.events import delivery, jobs, retention
from crmapi.events.scheduler import Scheduler
from crmapi.settings import Settings
from crmapi.storage.db import Database
from crmapi.util import dates

log = logging.getLogger("crmapi.worker")
# How often a host looks for organizations whose retention is due (the job's own interval is
# ``retention_interval_seconds``); a lease outlives any one organization's cleanup.
JOB_CHECK_SECONDS = 30.0
JOB_LEASE_SECONDS = 600.0


class Worker:
    def __init__(self, db: Database, settings: Settings, host: str = delivery.HOST) -> None:
        self.db = db
        self.settings = settings
        self.host = host
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crmapi-worker", daemon=True)
        self._next_jobs = 0.0
        self.scheduler: Scheduler | None = None

    def start(self) -> "Worker":
        self.scheduler = Scheduler(self.db, self.settings, self.host)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.finished.set()
        self._thread.join(timeout)
        if self.scheduler is not None:
            self.scheduler.close()

    def run_jobs(self) -> int:
        """Retention for every organization whose turn it is; return how many events went."""
        days = self.settings.event_retention_days
        removed = 0
        while not self._stop.is_set():
            orgs = jobs.claim(self.db, retention.JOB, self.host, dates.now(), JOB_LEASE_SECONDS)
            if not orgs:
                break
            for org in orgs:
                before = retention.org_cutoff(self.db, org, days)
                removed += retention.cleanup_organization(self.db, org, before)
                jobs.finish(
                    self.db, retention.JOB, org, self.host, self.settings.retention_interval_seconds
                )
        return removed

    def run_once(self) -> int:
        """One synchronous round (tests, one-off runs): due jobs, the due work of organizations
        on wall (or offset) time (scheduled sends), then every due delivery."""
        self.run_jobs()
        sent = due.run_background(self.db, self.settings)
        while not self._stop.is_set():
            attempted = delivery.deliver_due(self.db, self.settings)
            sent += attempted
            if attempted == 0:
                break
        return sent

    def _round(self, scheduler: Scheduler) -> None:
        if time.monotonic() >= self._next_jobs:
            self._next_jobs = time.monotonic() + JOB_CHECK_SECONDS
            self.run_jobs()
        # Scheduled sends and other due work of the organizations on wall (or offset) time.
        due.run_background(self.db, self.settings)
        scheduler.dispatch()

    def _run(self) -> None:
        assert self.scheduler is not None
        scheduler = self.scheduler
        while not self._stop.is_set():
            try:
                self._round(scheduler)
            except Exception:  # a database hiccup must not end the worker
                log.exception("background worker round failed")
            # Wake when a send finishes (its slot is free) or at the next poll.
            scheduler.finished.wait(self.settings.worker_poll_seconds)
            scheduler.finished.clear()
