"""Engine creation and the two ways to use it: a read snapshot and a write transaction."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections per process; the request threadpool runs up to 40 requests at once.
POSTGRES_POOL_SIZE = int(os.environ.get("CRMAPI_POSTGRES_POOL_SIZE") or 20)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and drive them with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _json_loads(value: str | bytes) -> Any:
    return orjson.loads(value)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, *, autocommit: bool = False) -> Engine:
    """Create an engine with the settings each backend needs to be safe under concurrency."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        # A fixed set of connections: overflow connections were opened and closed under load
        # (a PostgreSQL backend started per request); past the pool, requests queue for one.
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_pre_ping=True,
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # Few idle connections are kept: each holds its own page cache (private memory), and
        # reads run on the event loop one at a time; bursts of writes use the overflow.
        pool_size=5,
        max_overflow=35,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves, so writers can take the lock up front (IMMEDIATE)
        # instead of failing to upgrade a read lock ("database is locked").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # 16 MB of page cache per connection: reads go through the memory map (shared OS page
        # cache), so a large private cache per pooled connection only grew the server's RSS
        # (64 MB x 16 connections = 1.1 GB in the soak; see docs/performance.md).
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("crmapi_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine plus the transaction helpers every repository uses."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own
        # snapshot even inside a transaction, so BEGIN and ROLLBACK (two round trips per
        # request) bought nothing. SQLite reads keep BEGIN: it is what makes their snapshot.
        self.read_engine = (
            self.engine if self.dialect == "sqlite" else make_engine(self.url, autocommit=True)
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work: one snapshot for the few queries of a request."""
        with self.read_engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything a request writes commits together or not at all."""
        with self.engine.connect().execution_options(crmapi_write=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
