"""Outages: the database goes away under load and comes back.

PostgreSQL: a throwaway cluster of this test's own (never the session's shared one) is
stopped and started again while writers and readers keep going against a real
``crmapi serve``. SQLite: another process holds the write lock for longer than the server's
busy timeout (a backup, a migration, an operator's shell). Asserted on both: no answer is a
500; while the database cannot answer, requests get 503 with ``Retry-After`` and Close's
error body; every write answered 200 is in the database afterwards; the server recovers by
itself, without a restart.
"""

import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from crmapi.storage import tables as t
from crmapi.storage.db import Database
from tests.pg import PostgresServer, find_bindir
from tests.reliability.conftest import backend_of, record
from tests.reliability.server import Server, create_org, new_postgres_database

WRITERS, READERS = 6, 3
BEFORE, OUTAGE, AFTER = 1.5, 3.0, 3.0


@dataclass
class Traffic:
    statuses: Counter[int] = field(default_factory=Counter)
    acked: list[str] = field(default_factory=list)
    bad_503: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_ok_after: dict[str, float] = field(default_factory=dict)
    lock = threading.Lock()

    def seen(self, response: requests.Response, token: str | None) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 200 and token:
                self.acked.append(token)
            if response.status_code == 503:
                body = response.json()
                if "retry-after" not in response.headers or "message" not in body["error"]:
                    self.bad_503.append(response.text[:200])
            if response.status_code >= 500 and response.status_code != 503:
                self.errors.append(f"{response.status_code} {response.text[:200]}")


def drive(base: str, key: str, lead_id: str, stop: threading.Event, out: Traffic) -> None:
    def writer(n: int) -> None:
        session = requests.Session()
        session.auth = (key, "")
        i = 0
        while not stop.is_set():
            token = f"w{n}-{i}"
            i += 1
            try:
                response = session.post(
                    f"{base}/api/v1/activity/note/",
                    json={"lead_id": lead_id, "note": token},
                    timeout=30,
                )
            except requests.RequestException as exc:
                out.errors.append(f"connection: {exc}")
                continue
            out.seen(response, token)
            if response.status_code == 503:
                time.sleep(0.05)

    def reader() -> None:
        session = requests.Session()
        session.auth = (key, "")
        while not stop.is_set():
            try:
                response = session.get(
                    f"{base}/api/v1/activity/?lead_id={lead_id}&_limit=5", timeout=30
                )
            except requests.RequestException as exc:
                out.errors.append(f"connection: {exc}")
                continue
            out.seen(response, None)
            if response.status_code == 503:
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    threads += [threading.Thread(target=reader) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(60)


def recovery_seconds(base: str, key: str, since: float) -> float:
    while time.monotonic() - since < 30:
        try:
            if requests.get(f"{base}/api/v1/me/", auth=(key, ""), timeout=5).status_code == 200:
                return round(time.monotonic() - since, 2)
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise AssertionError("the server did not recover within 30 s")


def stored_notes(url: str) -> set[str]:
    db = Database(url)
    with db.read() as conn:
        rows = conn.execute(select(t.activity.c.data).where(t.activity.c.type == "Note")).all()
    db.dispose()
    return {(r.data or {}).get("note") for r in rows}


def run_outage(url: str, begin: Any, end: Any, **env: str) -> dict[str, object]:
    org = create_org(url, "Outage", "outage@example.com")
    key = org["api_key"]
    out = Traffic()
    with Server(url, **env) as server:
        lead_id = requests.post(
            f"{server.base}/api/v1/lead/", json={"name": "anchor"}, auth=(key, ""), timeout=10
        ).json()["id"]
        stop = threading.Event()
        load = threading.Thread(target=drive, args=(server.base, key, lead_id, stop, out))
        load.start()
        time.sleep(BEFORE)
        during_before = sum(out.statuses.values())
        begin()
        time.sleep(OUTAGE)
        end()
        recovered = recovery_seconds(server.base, key, time.monotonic())
        time.sleep(AFTER)
        stop.set()
        load.join(120)
        assert server.proc is not None
        assert server.proc.poll() is None  # never restarted
    lost = sorted(set(out.acked) - stored_notes(url))
    figures: dict[str, object] = {
        "backend": backend_of(url),
        "outage_seconds": OUTAGE,
        "requests": sum(out.statuses.values()),
        "requests_before_outage": during_before,
        "statuses": {str(k): v for k, v in sorted(out.statuses.items())},
        "acknowledged_writes": len(out.acked),
        "acknowledged_lost": len(lost),
        "server_errors": len(out.errors),
        "malformed_503": len(out.bad_503),
        "recovery_seconds": recovered,
    }
    record("outage", url, figures)
    assert out.errors == []
    assert out.bad_503 == []
    assert out.statuses[503] > 0, figures  # the outage was seen, and answered 503
    assert lost == []
    return figures


@pytest.mark.timeout(300)
def test_a_postgresql_outage_is_answered_503_and_loses_nothing() -> None:
    if find_bindir() is None:
        pytest.skip("PostgreSQL binaries not installed")
    cluster = PostgresServer()  # this test's own: stopping it disturbs no other test
    try:
        url = new_postgres_database(cluster.start())
        run_outage(url, cluster.halt, cluster.resume, CRMAPI_BACKGROUND_WORKERS="0")
    finally:
        cluster.stop()


@pytest.mark.timeout(300)
def test_a_sqlite_database_held_locked_is_answered_503_and_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    holder: dict[str, sqlite3.Connection] = {}

    def lock() -> None:
        conn = sqlite3.connect(tmp_path / "outage.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        holder["conn"] = conn

    def unlock() -> None:
        holder["conn"].rollback()
        holder["conn"].close()

    run_outage(
        url, lock, unlock, CRMAPI_SQLITE_BUSY_TIMEOUT_MS="300", CRMAPI_BACKGROUND_WORKERS="0"
    )
