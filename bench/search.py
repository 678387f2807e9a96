"""Lead search bench: ``GET /lead/?query=`` with the clauses real clients send, on 20k leads.

    .venv/bin/python bench/search.py [--backend sqlite|postgres|both] [--leads 20000] [--repeat 40]

Seeds once (``crmapi seed``, cached under --data-dir), then for each query measures, one
request at a time (latency, not throughput):

- crmapi: ``crmapi serve --workers 1`` over HTTP from this process (parse, SQL, render, JSON);
- SQL: the very two statements the server runs for that request (``total_results`` and the
  page, built by ``crmapi.search.listing.lead_statements``), executed in this process on one
  connection and fetched; no HTTP, no rendering.

Prints a markdown section (the figure in docs/performance.md and bench/NOTES.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench import infra
from crmapi.query import grammar
from crmapi.resources import leads
from crmapi.search import listing
from crmapi.storage import tables as t
from crmapi.storage.db import Database


def seed(backend: str, n_leads: int, base: Path, pg: infra.Postgres | None) -> infra.Dataset:
    marker = base / f"search-{backend}-{n_leads}.json"
    if marker.exists() and json.loads(marker.read_text()).get("schema") != infra.schema_id():
        marker.unlink()
    if backend == "sqlite":
        path: Path | None = base / f"search-{n_leads}.db"
        url = f"sqlite:///{path}"
    else:
        assert pg is not None
        path, url = None, pg.url(f"search_{n_leads}")
    if not marker.exists():
        if path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            assert pg is not None
            pg.recreate(f"search_{n_leads}")
        print(f"  seeding {backend}: {n_leads:,} leads ...", flush=True)
        out = subprocess.run(
            [str(infra.BIN / "crmapi"), "seed", "--leads", str(n_leads), "--activities",
             str(n_leads * 10), "--orgs", "1", "--seed", "1", "--quiet"],
            env={**os.environ, "CRMAPI_DATABASE_URL": url},
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        marker.write_text(json.dumps({**json.loads(out.stdout), "schema": infra.schema_id()}))
    return infra.Dataset(backend, n_leads, url, json.loads(marker.read_text()), path)


def cases(engine: Any, org_id: str) -> list[tuple[str, dict[str, str]]]:
    """The clauses of more.md §1.4 with values taken from the data (bounds near the newest)."""
    lead, contact = t.lead, t.contact
    with engine.connect() as conn:
        stamps = conn.execute(
            select(lead.c.date_updated)
            .where(lead.c.organization_id == org_id)
            .order_by(lead.c.date_updated.desc())
            .limit(1)
            .offset(200)
        ).scalar_one()
        name = conn.execute(
            select(lead.c.name).where(lead.c.organization_id == org_id).limit(1).offset(777)
        ).scalar_one()
        emails = conn.execute(
            select(contact.c.emails)
            .where(contact.c.organization_id == org_id)
            .limit(1)
            .offset(4321)
        ).scalar_one()
        total = conn.execute(select(func.count()).where(lead.c.organization_id == org_id))
        n = int(total.scalar_one())
    email = (json.loads(emails) if isinstance(emails, str) else emails)[0]["email"]
    minute = stamps[:16]
    return [
        ("tap-closeio: date_updated>= minute, sort:date_updated (200 newest)",
         {"query": f'date_updated>="{minute}" sort:date_updated', "_limit": "100"}),
        ("Airbyte: sort:updated date_updated >= ISO (200 newest)",
         {"query": f"sort:updated date_updated >= {stamps}", "_limit": "200"}),
        ("scripts: email_address:\"x\" sort:created",
         {"query": f'email_address:"{email}" sort:created', "_limit": "100"}),
        ("scripts: name:\"x\"", {"query": f'name:"{name}"', "_limit": "100"}),
        ("scripts: _limit=0, sort:created (total_results)",
         {"query": "sort:created", "_limit": "0", "_fields": "id"}),
        ("scripts: sort:created slice:3/12, _fields=id",
         {"query": "sort:created slice:3/12", "_limit": "100", "_fields": "id"}),
        ("scripts: sort:created contacts > 1",
         {"query": "sort:created contacts > 1", "_limit": "100"}),
        ("scripts: has:calls", {"query": "has:calls", "_limit": "100"}),
        (f"no query (all {n:,} leads, first page)", {"_limit": "100"}),
    ]  # fmt: skip


def paired_ms(first: Any, second: Any, repeat: int) -> tuple[float, float]:
    """Median ms of each, measured alternately: on a busy machine both see the same load."""
    first(), second()  # warm caches and the statement cache
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            out.append((time.perf_counter() - start) * 1000)
    return statistics.median(a), statistics.median(b)


def run_backend(ds: infra.Dataset, repeat: int, logdir: Path) -> list[dict[str, Any]]:
    org = ds.org
    # The server's own engine setup (pragmas, pool, autocommit reads): the same SQL, run alike.
    db = Database(ds.url)
    engine = db.engine
    server = infra.start_crmapi(ds, 1, logdir)
    rows = []
    try:
        for label, params in cases(engine, org["organization_id"]):
            url = f"{server.base()}/api/v1/lead/?{urllib.parse.urlencode(params)}"

            def http(url: str = url) -> int:
                request = urllib.request.Request(url, headers={"Authorization": ds.auth})
                with urllib.request.urlopen(request, timeout=60) as response:
                    return len(json.loads(response.read())["data"])

            query = grammar.parse(params, leads.LIST)

            def sql(query: Any = query) -> int:
                with db.read() as conn:
                    count, page = listing.lead_statements(
                        conn, org["organization_id"], org.get("user_id", ""), 0.0, query
                    )
                    conn.execute(count).scalar_one()
                    return len(conn.execute(page).all())

            found = http()
            crmapi_ms, sql_ms = paired_ms(http, sql, repeat)
            rows.append(
                {
                    "query": label,
                    "params": params,
                    "rows": found,
                    "crmapi_ms": crmapi_ms,
                    "sql_ms": sql_ms,
                    "load": os.getloadavg()[0],
                }
            )
            print(f"  {ds.backend}: {label}: {rows[-1]['crmapi_ms']:.2f} ms", flush=True)
    finally:
        server.stop()
        db.dispose()
    return rows


def markdown(results: dict[str, list[dict[str, Any]]], command: str, n_leads: int) -> str:
    lines = [
        "## Lead search (`GET /lead/?query=`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; command: `{command}`",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}",
        f"- Data: `crmapi seed --leads {n_leads} --activities {n_leads * 10} --seed 1` "
        "(1-3 contacts per lead with an email and a phone each).",
        "- One request at a time, crmapi and SQL alternately, median of the repeats. crmapi: "
        "`crmapi serve --workers 1` over HTTP; SQL: the same two statements (count and page, "
        "built by `search.listing.lead_statements`) run in-process through the server's own "
        "engine (`storage.db.Database`: same pragmas and pool).",
        "- Load average (1 min) during the run: "
        + ", ".join(
            f"{b} {min(r['load'] for r in rs):.1f}-{max(r['load'] for r in rs):.1f}"
            for b, rs in results.items()
        )
        + " on this shared machine: compare the two columns, not the absolute numbers.",
        "",
        "| backend | query | rows | crmapi ms | SQL ms | crmapi / SQL |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for backend, rows in results.items():
        for r in rows:
            ratio = r["crmapi_ms"] / r["sql_ms"] if r["sql_ms"] else 0.0
            lines.append(
                f"| {backend} | {r['query']} | {r['rows']} | {r['crmapi_ms']:.2f} | "
                f"{r['sql_ms']:.2f} | {ratio:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/crmapi-bench-search"))
    parser.add_argument("--out", type=Path, help="also write the markdown section here")
    args = parser.parse_args()
    base = args.data_dir
    logdir = base / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    pg = None
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        if "postgres" in backends:
            pg = infra.Postgres(base / "pg")
            pg.start()
        for backend in backends:
            ds = seed(backend, args.leads, base, pg)
            results[backend] = run_backend(ds, args.repeat, logdir)
    finally:
        if pg is not None:
            pg.stop()
    command = "bench/search.py " + " ".join(sys.argv[1:])
    text = markdown(results, command.strip(), args.leads)
    (base / "search-results.json").write_text(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
