"""Read deadlines are enforced inside the database: SQLite's progress handler interrupts a
statement past the context's deadline, PostgreSQL cancels it (``statement_timeout``); the
client gets Close's 503 with ``Retry-After``. Both backends."""

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi import seed
from crmapi.app import create_app
from crmapi.settings import Settings
from crmapi.storage import db as storage
from crmapi.storage.db import Database

# Counts to a billion: far longer than any deadline below, on either backend.
SLOW_SQL = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 1000000000) SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(5)",
}


def test_a_statement_past_its_deadline_is_stopped_by_the_database(database_url: str) -> None:
    database = Database(database_url, read_timeout=0.2)
    started = time.monotonic()
    with (
        pytest.raises(storage.DRIVER_ERRORS) as raised,
        storage.deadline(0.2),
        database.read() as conn,
    ):
        conn.exec_driver_sql(SLOW_SQL[database.dialect]).scalar()
    elapsed = time.monotonic() - started
    database.dispose()
    assert storage.interrupted(raised.value)
    assert not storage.unavailable(raised.value)
    assert elapsed < 2.0


def test_a_deadline_ends_with_its_context(database_url: str) -> None:
    database = Database(database_url)
    with storage.deadline(0.05):
        pass
    time.sleep(0.1)
    with database.read() as conn:  # no deadline left behind: a normal read still runs
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    database.dispose()


@pytest.fixture
def seeded(database_url: str) -> seed.Seeded:
    database = Database(database_url)
    org = seed.populate(database, 500, 40_000, 1, 3)[0]
    database.dispose()
    return org


def test_a_read_past_its_deadline_is_a_503_close_clients_retry(
    database_url: str, seeded: seed.Seeded
) -> None:
    settings = Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        background_workers=False,
        request_timeout_seconds=0.03,
    )
    app: Any = create_app(settings, migrate_schema=False)
    with TestClient(app) as client:
        auth = (seeded.api_key, "")
        deep = client.get(f"/api/v1/activity/?_skip={seeded.activities - 100}", auth=auth)
        assert deep.status_code == 503, deep.text[:200]
        assert deep.headers["retry-after"] == "2"
        assert "longer than" in deep.json()["error"]["message"]
    # The pooled connections it used are healthy afterwards (cancelled, not broken).
    for _ in range(5):
        with app.state.db.read() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    app.state.db.dispose()
