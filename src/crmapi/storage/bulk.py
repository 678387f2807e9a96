"""Bulk loading with the raw driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Only the seed command uses this (a million activities in half a minute): rows arrive as tuples
with their JSON columns already encoded, and each ``load`` is one transaction. A whole seed
runs on one connection (``session``), which is what lets SQLite leave WAL mode for its duration.
"""

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table

from crmapi.storage.db import Database

# SQLite settings while a session loads, by name; each is put back as it was afterwards.
# - synchronous: nothing else is writing while we seed, so skip the fsyncs.
# - cache_size (256 MB): the primary key index takes random inserts, keep it in memory.
# - mmap_size (the most this SQLite allows): index builds scan the whole table; reading it
#   through the memory map saves a copy per page (a third of each build).
# - temp_store: the sorts of the index builds stay in memory.
_SQLITE_LOADING = {
    "synchronous": "OFF",
    "cache_size": "-262144",
    "mmap_size": "2147418112",
    "temp_store": "MEMORY",
}


@contextmanager
def session(db: Database, table: Table) -> Iterator[Connection]:
    """One connection for a bulk load into ``table`` (and whatever else the caller writes).

    ``table``'s secondary indexes are dropped first and built once at the end: several times
    faster than keeping them up to date row by row. On SQLite the load into an empty table runs
    with the rollback journal in memory instead of the WAL, when no other connection has the
    database open: each
    page is written once, instead of to the WAL and then again by every checkpoint (half the
    time of each commit). The file is back in WAL mode when the session ends. As with
    ``synchronous=OFF``, a crash of the machine (or a kill of the process in the middle of a
    commit) can then leave a broken file: this is for seeding, not for data anyone keeps.
    """
    if db.dialect == "sqlite":
        # Idle pooled connections would keep the database in WAL mode (see _leave_wal).
        db.engine.dispose()
    with db.engine.connect().execution_options(crmapi_write=True) as conn:
        restore: dict[str, Any] = {}
        if db.dialect == "sqlite":
            raw = conn.connection.driver_connection
            assert raw is not None
            for name, value in _SQLITE_LOADING.items():
                restore[name] = raw.execute(f"PRAGMA {name}").fetchone()[0]
                raw.execute(f"PRAGMA {name}={value}")
            # Only a database that holds none of this table's rows yet leaves the WAL: a
            # failed load into it loses nothing anyone keeps.
            (empty,) = raw.execute(f'SELECT NOT EXISTS (SELECT 1 FROM "{table.name}")').fetchone()
            if empty:
                _leave_wal(raw)
        try:
            with conn.begin():
                for index in table.indexes:
                    index.drop(conn, checkfirst=True)
            yield conn
        finally:
            # The session's rows stay even when the load failed part way (as each load
            # committed them): the indexes must match them.
            _build_indexes(conn, table)
            if db.dialect == "sqlite":
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA journal_mode=WAL")
                for name, value in restore.items():
                    raw.execute(f"PRAGMA {name}={value}")


def _leave_wal(raw: Any) -> None:
    """Rollback journal in memory for the load, if no other connection holds the WAL open."""
    (timeout,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("PRAGMA journal_mode=MEMORY")
    except sqlite3.OperationalError:
        # Another connection has the database open: load through the WAL as usual.
        pass
    finally:
        raw.execute(f"PRAGMA busy_timeout={timeout}")


def _build_indexes(conn: Connection, table: Table) -> None:
    # One transaction per index: only one index's new pages wait in memory for the commit.
    for index in table.indexes:
        with conn.begin():
            index.create(conn, checkfirst=True)
    with conn.begin():
        conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def load(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` into ``table`` in one transaction; return how many were written.

    ``conn`` (from ``session``) must not be in a transaction: this one is the driver's own."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        return _sqlite(raw, table, columns, rows)
    return _copy(raw, table, columns, rows)


def _quoted(table: str, columns: Sequence[str]) -> tuple[str, str]:
    return f'"{table}"', ", ".join(f'"{c}"' for c in columns)


def _sqlite(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    name, cols = _quoted(table, columns)
    marks = ", ".join("?" for _ in columns)
    batch = rows if isinstance(rows, list) else list(rows)
    # The rows come from the seed's own generator, which only refers to rows it wrote before:
    # the per-row foreign key lookups (a tenth of the insert time) would find nothing.
    (foreign_keys,) = conn.execute("PRAGMA foreign_keys").fetchone()
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(f"INSERT INTO {name} ({cols}) VALUES ({marks})", batch)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"PRAGMA foreign_keys={foreign_keys}")
    return len(batch)


def _copy(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    name, cols = _quoted(table, columns)
    count = 0
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(f"COPY {name} ({cols}) FROM STDIN") as cp,
    ):
        for row in rows:
            cp.write_row(row)
            count += 1
    conn.commit()
    return count
