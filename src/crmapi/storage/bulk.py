"""Bulk loading with the raw driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Only the seed command uses this (a million activities in a minute): rows arrive as tuples
with their JSON columns already encoded, and each call is one transaction.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Table

from crmapi.storage.db import Database


@contextmanager
def indexes_dropped(db: Database, table: Table) -> Iterator[None]:
    """Drop ``table``'s secondary indexes for a bulk load and build them again afterwards."""
    with db.engine.begin() as conn:
        for index in table.indexes:
            index.drop(conn, checkfirst=True)
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
            if db.dialect == "sqlite":
                conn.exec_driver_sql(f'ANALYZE "{table.name}"')
            else:
                conn.exec_driver_sql(f'ANALYZE "{table.name}"')


def load(db: Database, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` into ``table`` in one transaction; return how many were written."""
    raw = db.engine.raw_connection()
    try:
        if db.dialect == "sqlite":
            return _sqlite(raw.driver_connection, table, columns, rows)
        return _copy(raw.driver_connection, table, columns, rows)
    finally:
        raw.close()


def _quoted(table: str, columns: Sequence[str]) -> tuple[str, str]:
    return f'"{table}"', ", ".join(f'"{c}"' for c in columns)


def _sqlite(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    name, cols = _quoted(table, columns)
    marks = ", ".join("?" for _ in columns)
    batch = rows if isinstance(rows, list) else list(rows)
    # Nothing else is writing while we seed: skip the fsyncs; WAL keeps the file consistent.
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(f"INSERT INTO {name} ({cols}) VALUES ({marks})", batch)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA synchronous=NORMAL")
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
