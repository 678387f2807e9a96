"""Engine creation and the two ways to use it: a read snapshot and a write transaction."""

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url

# How long a SQLite writer waits for the lock before the request is a 503 (retried).
SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("CRMAPI_SQLITE_BUSY_TIMEOUT_MS") or 30_000)
# Connections per process; the request threadpool runs up to 40 requests at once.
POSTGRES_POOL_SIZE = int(os.environ.get("CRMAPI_POSTGRES_POOL_SIZE") or 20)
# The SQLite progress handler runs every this many virtual-machine steps (~0.1-1 ms of work):
# often enough to stop a statement on time, rarely enough to cost nothing measurable.
PROGRESS_STEPS = 10_000
SYNCHRONOUS = ("NORMAL", "FULL")

# The deadline (time.monotonic()) of the unit of work running in this context; a SQLite
# statement still running past it is interrupted inside the database ("interrupted").
_deadline: ContextVar[float | None] = ContextVar("crmapi_deadline", default=None)
# The read connection a GET request holds for its whole run (authentication and handler).
_pinned: ContextVar[tuple["Database", Connection] | None] = ContextVar(
    "crmapi_pinned_read", default=None
)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt SQLite statements of this context that run past ``seconds`` (0 = none)."""
    token = _deadline.set(time.monotonic() + seconds if seconds > 0 else None)
    try:
        yield
    finally:
        _deadline.reset(token)


def _past_deadline() -> bool:
    limit = _deadline.get()
    return limit is not None and time.monotonic() > limit


def _driver_errors() -> tuple[type[Exception], ...]:
    return (exc.DBAPIError, sqlite3.Error, psycopg.Error)


# What a statement can raise: SQLAlchemy's wrapper, or the driver's own error where a hot
# path runs cached statements on the raw driver cursor.
DRIVER_ERRORS = _driver_errors()


def interrupted(error: BaseException) -> bool:
    """A statement stopped by its deadline: SQLite's interrupt or PostgreSQL's timeout."""
    orig = getattr(error, "orig", error)
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig) == "interrupted"
    return type(orig).__name__ == "QueryCanceled"


def unavailable(error: BaseException) -> bool:
    """The database cannot answer now (down, restarting, locked too long): retry later.

    PostgreSQL: every connection-level failure (operational, interface). SQLite raises
    OperationalError for schema mistakes too, so only the states that pass are matched.
    """
    if interrupted(error):
        return False
    orig = getattr(error, "orig", error)
    if isinstance(orig, sqlite3.Error):
        text = str(orig).lower()
        return any(s in text for s in ("locked", "busy", "unable to open", "disk i/o"))
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return type(orig).__name__ in ("OperationalError", "InterfaceError") or isinstance(
        error, exc.OperationalError | exc.InterfaceError
    )


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


def make_engine(
    url: str,
    *,
    autocommit: bool = False,
    statement_timeout: float = 0,
    synchronous: str = "NORMAL",
) -> Engine:
    """Create an engine with the settings each backend needs to be safe under concurrency.

    ``statement_timeout`` (seconds, PostgreSQL) makes the server cancel a statement running
    longer; SQLite statements stop at the context's ``deadline()`` instead.
    """
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, synchronous)
    timeout = {"options": f"-c statement_timeout={int(statement_timeout * 1000)}"}
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        # A fixed set of connections: overflow connections were opened and closed under load
        # (a PostgreSQL backend started per request); past the pool, requests queue for one.
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_pre_ping=True,
        # Connections time out at once when the server is down (503, retried by clients)
        # instead of the driver's default of waiting for the OS.
        connect_args={"connect_timeout": 5, **(timeout if statement_timeout > 0 else {})},
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"CRMAPI_SQLITE_SYNCHRONOUS must be one of {', '.join(SYNCHRONOUS)}")
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
        # NORMAL (WAL): a commit survives a crash of the process; FULL also a power loss.
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # 16 MB of page cache per connection: reads go through the memory map (shared OS page
        # cache), so a large private cache per pooled connection only grew the server's RSS
        # (64 MB x 16 connections = 1.1 GB in the soak; see docs/performance.md).
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()
        dbapi_connection.set_progress_handler(_past_deadline, PROGRESS_STEPS)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("crmapi_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


class Database:
    """The engine plus the transaction helpers every repository uses."""

    def __init__(self, url: str, *, read_timeout: float = 0, synchronous: str = "NORMAL") -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, synchronous=synchronous)
        self.dialect = self.engine.dialect.name
        # PostgreSQL reads run in autocommit: at READ COMMITTED every statement takes its own
        # snapshot even inside a transaction, so BEGIN and ROLLBACK (two round trips per
        # request) bought nothing. SQLite reads keep BEGIN: it is what makes their snapshot.
        # Their statements are cancelled by the server past the request deadline.
        self.read_engine = (
            self.engine
            if self.dialect == "sqlite"
            else make_engine(self.url, autocommit=True, statement_timeout=read_timeout)
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work: one snapshot for the few queries of a request."""
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self:
            yield pinned[1]
            return
        with self.read_engine.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()

    @contextmanager
    def pinned_read(self) -> Iterator[Connection]:
        """Every ``read()`` inside shares one connection (and on SQLite one snapshot): a GET
        checks out one pooled connection for its credential lookup and its handler, not
        one each. Only for requests that do not write: a write would not be seen by it."""
        with self.read() as conn:
            token = _pinned.set((self, conn))
            try:
                yield conn
            finally:
                _pinned.reset(token)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything a request writes commits together or not at all."""
        with self.engine.connect().execution_options(crmapi_write=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
