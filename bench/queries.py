"""The benchmarked feed queries, their exact SQL, the in-process floor and Datasette URLs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import and_, create_engine, select

from bench.infra import Dataset
from crmapi.activities import feed, store
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.storage.db import normalize_url
from crmapi.util.jsonutil import dumps, loads

WINDOW = ("2024-07-01", "2024-08-01")  # a month of the seeded years (seed.SEED_END - 1 year)


@dataclass(frozen=True)
class Query:
    name: str
    label: str
    params: dict[str, str]
    datasette: bool = False  # also run against Datasette (lead and org pages)

    def path(self) -> str:
        return "/api/v1/activity/?" + urlencode(self.params)


def queries(lead: str) -> list[Query]:
    return [
        Query("lead", "lead page (lead_id, 100 newest)", {"lead_id": lead}, True),
        Query(
            "lead_fields",
            "lead page, _fields=id,_type,date_created",
            {"lead_id": lead, "_fields": "id,_type,date_created"},
        ),
        Query(
            "org_window",
            "org-wide page, date_created window",
            {"date_created__gte": WINDOW[0], "date_created__lt": WINDOW[1]},
            True,
        ),
        Query("skip", "org-wide page, _skip=10000", {"_skip": "10000"}),
        Query(
            "type_in",
            "lead page, _type__in=Call,Email,Note",
            {"lead_id": lead, "_type__in": "Call,Email,Note"},
        ),  # fmt: skip
        Query(
            "threads", "lead page, thread_emails=only", {"lead_id": lead, "thread_emails": "only"}
        ),
    ]


def pick_lead(ds: Dataset, target: int = 300) -> str:
    """A lead whose feed is several pages long (the one with a count closest to ``target``)."""
    engine = create_engine(normalize_url(ds.url))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT lead_id, count(*) FROM activity WHERE organization_id = "
            + ("?" if ds.backend == "sqlite" else "%s")
            + " GROUP BY lead_id",
            (ds.org["organization_id"],),
        ).all()
    engine.dispose()
    return str(min(rows, key=lambda r: (abs(r[1] - target), r[0]))[0])


def statement(ds: Dataset, params: dict[str, str]) -> Any:
    """The select() the feed runs for ``params`` (built by the feed's own code)."""
    query = grammar.parse(params, feed.FEED)
    extra, _ = feed._thread_scope(feed._thread_mode(params))
    scope = and_(store.scope(ds.org["organization_id"]), *extra)
    return qc.page(select(*store.COLUMNS), store.A, query, scope), query


def literal_sql(ds: Dataset, params: dict[str, str], dialect: Any) -> str:
    stmt, _ = statement(ds, params)
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


class Floor:
    """The same rows fetched with the raw driver and encoded with the server's JSON encoder.

    Two floors. ``run`` (the parsing floor, the old design): each row becomes the dict a
    client sees minus the user names, the stored ``data`` document parsed and merged with the
    columns. ``run_strict`` (issue #20's strict floor, the fair one for a server that splices
    stored text): the same SELECT, rows into dicts with ``data`` left as text, and
    ``orjson.dumps``; nothing is parsed. No HTTP, no framework, one thread.
    """

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds
        self.engine = create_engine(normalize_url(ds.url))
        self.raw = self.engine.raw_connection()
        if ds.backend == "sqlite":
            self.raw.driver_connection.execute("PRAGMA cache_size=-65536")
            self.raw.driver_connection.execute("PRAGMA mmap_size=268435456")
        else:
            self.raw.driver_connection.autocommit = True
            # Documents come back as text and are parsed with orjson, as on SQLite (psycopg's
            # own jsonb loader uses the standard library's json, several times slower).
            from psycopg.types.string import TextLoader

            self.raw.driver_connection.adapters.register_loader("jsonb", TextLoader)
        self.columns = [str(c.name) for c in store.COLUMNS]

    def prepare(self, params: dict[str, str]) -> tuple[str, Any, Any]:
        stmt, query = statement(self.ds, params)
        compiled = stmt.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        if self.ds.backend == "sqlite":
            args: Any = [compiled.params[k] for k in compiled.positiontup or ()]
        else:
            args = compiled.params
        return str(compiled), args, query

    def run(self, params: dict[str, str], seconds: float) -> dict[str, Any]:
        sql, args, query = self.prepare(params)
        cols = self.columns
        fields = query.fields
        limit = query.limit
        cur = self.raw.driver_connection.cursor()
        n = 0
        began = time.perf_counter()
        stop = began + seconds
        while True:
            cur.execute(sql, args)
            items = []
            for row in cur.fetchall():
                obj = dict(zip(cols, row, strict=True))
                data = obj.pop("data")
                del obj["shape"]  # bookkeeping, not a field
                obj.update(loads(data) if isinstance(data, str | bytes) else data)
                obj["_type"] = obj.pop("type")
                if fields is not None:
                    obj = {k: v for k, v in obj.items() if k in fields}
                items.append(obj)
            dumps({"data": items[:limit], "has_more": len(items) > limit})
            n += 1
            if time.perf_counter() >= stop:
                break
        elapsed = time.perf_counter() - began
        return {"rps": n / elapsed, "ms": 1000 * elapsed / n, "sql_ms": self._sql_only(sql, args)}

    def run_strict(self, params: dict[str, str], seconds: float) -> dict[str, Any]:
        sql, args, query = self.prepare(params)
        cols = self.columns
        limit = query.limit
        cur = self.raw.driver_connection.cursor()
        n = 0
        began = time.perf_counter()
        stop = began + seconds
        while True:
            cur.execute(sql, args)
            items = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
            orjson.dumps({"data": items[:limit], "has_more": len(items) > limit})
            n += 1
            if time.perf_counter() >= stop:
                break
        elapsed = time.perf_counter() - began
        return {"rps": n / elapsed, "ms": 1000 * elapsed / n}

    def _sql_only(self, sql: str, args: Any, seconds: float = 1.0) -> float:
        """The statement alone (execute + fetchall): what no implementation can go below."""
        cur = self.raw.driver_connection.cursor()
        n = 0
        began = time.perf_counter()
        while time.perf_counter() - began < seconds:
            cur.execute(sql, args)
            cur.fetchall()
            n += 1
        return 1000 * (time.perf_counter() - began) / n

    def close(self) -> None:
        self.raw.close()
        self.engine.dispose()


def datasette_url(server_base: str, ds: Dataset, params: dict[str, str]) -> str:
    from sqlalchemy.dialects import sqlite

    assert ds.path is not None
    sql = literal_sql(ds, params, sqlite.dialect())
    query = urlencode({"sql": sql, "_shape": "array", "_json": "data"})
    return f"{server_base}/{ds.path.stem}.json?{query}"
