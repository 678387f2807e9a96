"""The server's own background work: webhook delivery and event retention, in one thread.

Started and stopped by the app's lifespan. It is a thread, not an asyncio task, because
sending and the database calls block; the event loop serving requests never waits on it.
"""

import logging
import threading
import time

from crmapi.events import delivery, retention
from crmapi.settings import Settings
from crmapi.storage.db import Database

log = logging.getLogger("crmapi.worker")


class Worker:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crmapi-worker", daemon=True)
        self._next_cleanup = 0.0

    def start(self) -> "Worker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> int:
        """One round: retention when it is due, then every delivery that is due now."""
        if time.monotonic() >= self._next_cleanup:
            retention.cleanup(self.db, self.settings.event_retention_days)
            self._next_cleanup = time.monotonic() + self.settings.retention_interval_seconds
        sent = 0
        while not self._stop.is_set():
            attempted = delivery.deliver_due(self.db, self.settings)
            sent += attempted
            if attempted == 0:
                break
        return sent

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a database hiccup must not end the worker
                log.exception("background worker round failed")
            self._stop.wait(self.settings.worker_poll_seconds)
