"""The crmapi benchmark: ``make bench`` (full, 1M activities) or ``make bench-quick`` (10k).

For each backend it seeds (once, cached under --data-dir), measures the in-process floor,
starts ``crmapi serve`` with 1 and 2 workers and Datasette side by side, and loads each with
wrk from a separate process. Rounds are interleaved so every ratio compares numbers taken
seconds apart; the median of the rounds is reported. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import infra, report
from bench.queries import Floor, Query, datasette_url, pick_lead, queries


@dataclass
class Config:
    sizes: list[int]
    main: int
    rounds: int
    seconds: float
    workers: list[int]
    soak: float
    plot: bool
    skips: list[int]


FULL = Config([10_000, 100_000, 1_000_000], 1_000_000, 3, 10, [1, 2], 300, True,
              [0, 1_000, 10_000, 50_000, 100_000])  # fmt: skip
QUICK = Config([10_000], 10_000, 1, 1, [1], 0, False, [])

CONNECTIONS = 32
WRITE_CONNECTIONS = 16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10k activities, 1 s rounds")
    ap.add_argument("--data-dir", default="/tmp/crmapi-bench", type=Path)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--out", type=Path, help="write the markdown report here")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--soak", type=float, help="soak seconds (0 = skip)")
    ap.add_argument("--no-datasette", action="store_true")
    ap.add_argument("--size", type=int, help="one dataset of this many activities (no size curve)")
    ap.add_argument("--skips", help="comma-separated _skip curve points")
    ap.add_argument("--workers", help="comma-separated worker counts (default 1,2)")
    ap.add_argument("--render", type=Path, help="only re-render a saved last-results.json")
    args = ap.parse_args()
    if args.render:
        publish(json.loads(args.render.read_text()), args.out, True)
        return
    cfg = QUICK if args.quick else FULL
    if args.rounds:
        cfg.rounds = args.rounds
    if args.seconds:
        cfg.seconds = args.seconds
    if args.soak is not None:
        cfg.soak = args.soak
    if args.size:
        cfg.sizes, cfg.main = [args.size], args.size
    if args.skips:
        cfg.skips = [int(x) for x in args.skips.split(",")]
    if args.workers:
        cfg.workers = [int(x) for x in args.workers.split(",")]
    base: Path = args.data_dir
    base.mkdir(parents=True, exist_ok=True)
    logs = base / "logs"
    logs.mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "config": cfg.__dict__,
        "loader": "wrk" if infra.have_wrk() else "python threads (wrk not installed)",
        "machine": machine(),
        "backends": {},
    }
    datasette_venv = None if args.no_datasette else _datasette(base, args.quick)
    results["machine"]["datasette"] = _datasette_version(datasette_venv)
    pg = None
    for backend in args.backends.split(","):
        if backend == "postgres":
            try:
                pg = infra.Postgres(base / "pg")
                pg.start()
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                print(f"postgres: skipped ({exc})", flush=True)
                results["backends"]["postgres"] = {"skipped": str(exc)}
                pg = None
                continue
            results["machine"]["postgres"] = _pg_version(pg)
        try:
            results["backends"][backend] = run_backend(
                backend, cfg, base, logs, pg, datasette_venv if backend == "sqlite" else None
            )
        finally:
            if pg is not None:
                pg.stop()
                pg = None
    (base / "last-results.json").write_text(json.dumps(results, indent=1))
    if args.out:  # the raw numbers next to the report (re-render with --render)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    publish(results, args.out, cfg.plot)


def publish(results: dict[str, Any], out: Path | None, plot: bool) -> None:
    text = report.render(results)
    print(text)
    if out:
        # Keep the section bench/scale.py writes (make bench-scale) across re-renders.
        old = out.read_text() if out.exists() else ""
        if "<!-- scale-out:begin -->" in old:
            text += "\n<!-- scale-out:begin -->" + old.split("<!-- scale-out:begin -->", 1)[1]
        out.write_text(text)
        if plot:
            report.plot(results, out.with_suffix(".png"))


def run_backend(
    backend: str,
    cfg: Config,
    base: Path,
    logs: Path,
    pg: infra.Postgres | None,
    datasette_venv: Path | None,
) -> dict[str, Any]:
    print(f"== {backend}", flush=True)
    sizes = cfg.sizes if backend == "sqlite" else [cfg.main]
    datasets = {n: infra.ensure_dataset(backend, n, base, pg) for n in sizes}
    ds = datasets[cfg.main]
    if pg is not None:
        ds.db_pid = pg.pid()
    out: dict[str, Any] = {"size": cfg.main, "seed": ds.info}
    lead = pick_lead(ds)
    qs = queries(lead)
    out["lead"] = lead
    out["queries"] = {q.name: q.label for q in qs}
    servers = {w: infra.start_crmapi(ds, w, logs) for w in cfg.workers}
    peer = (
        infra.start_datasette(ds, datasette_venv, logs)
        if datasette_venv is not None and ds.path
        else None
    )
    floor = Floor(ds)
    rounds: list[dict[str, Any]] = []
    try:
        for r in range(cfg.rounds):
            print(f"  round {r + 1}/{cfg.rounds}", flush=True)
            rounds.append(one_round(qs, ds, servers, peer, floor, cfg.seconds))
        out["reads"] = summarise(rounds)
        out["writes"] = writes(ds, servers, cfg.seconds)
        out["locked_in_logs"] = sum(
            s.log.read_text(errors="replace").count("database is locked") for s in servers.values()
        )
        if cfg.skips:
            out["skips"] = skip_curve(ds, servers[1], floor, cfg)
            out["sequential"] = sequential_curve(ds, servers[1], cfg)
        if cfg.soak and backend == "sqlite":
            out["soak"] = soak(ds, servers[1], qs[0], cfg.soak)
    finally:
        floor.close()
        for s in servers.values():
            s.stop()
        if peer:
            peer.stop()
        cleanup(ds, lead)
    if cfg.plot and backend == "sqlite":
        out["sizes"] = size_curve(datasets, cfg, logs)
    return out


def one_round(
    qs: list[Query],
    ds: infra.Dataset,
    servers: dict[int, infra.Server],
    peer: infra.Server | None,
    floor: Floor,
    seconds: float,
) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for q in qs:
        row: dict[str, Any] = {
            "strict": floor.run_strict(q.params, seconds),
            "floor": floor.run(q.params, seconds),
        }
        for w, server in servers.items():
            row[f"{w}w"] = infra.load(
                server.base() + q.path(),
                seconds,
                CONNECTIONS,
                ds.auth,
                pid=server.proc.pid,
                db_pid=ds.db_pid,
            )
        if peer is not None and q.datasette:
            row["datasette"] = infra.load(
                datasette_url(peer.base(), ds, q.params), seconds, CONNECTIONS, pid=peer.proc.pid
            )
        got[q.name] = row
        print(f"    {q.name:12} " + _brief(row), flush=True)
    return got


def _brief(row: dict[str, Any]) -> str:
    return "  ".join(
        f"{k}={v['rps']:.0f}/s" + (f" err={v['errors']}" if v.get("errors") else "")
        for k, v in row.items()
    )


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each metric over the rounds."""
    out: dict[str, Any] = {}
    for name in rounds[0]:
        out[name] = {}
        for target in rounds[0][name]:
            runs = [r[name][target] for r in rounds]
            out[name][target] = {
                k: statistics.median(run[k] for run in runs)
                for k in runs[0]
                if isinstance(runs[0][k], int | float)
            }
            out[name][target]["rounds_rps"] = [round(run["rps"], 1) for run in runs]
    return out


def writes(ds: infra.Dataset, servers: dict[int, infra.Server], seconds: float) -> dict[str, Any]:
    lead = ds.info["organizations"][0]["first_lead_id"]
    out = {}
    for w, server in servers.items():
        res = infra.load(
            server.base() + "/api/v1/activity/note/",
            seconds,
            WRITE_CONNECTIONS,
            ds.auth,
            write_lead=lead,
            pid=server.proc.pid,
        )
        out[f"{w}w"] = res
        print(f"  writes {w}w: {res['rps']:.0f}/s errors={res['errors']}", flush=True)
    return out


def skip_curve(
    ds: infra.Dataset, server: infra.Server, floor: Floor, cfg: Config
) -> list[dict[str, Any]]:
    out = []
    for skip in cfg.skips:
        params = {"_skip": str(skip)}
        path = "/api/v1/activity/?" + "&".join(f"{k}={v}" for k, v in params.items())
        res = infra.load(server.base() + path, cfg.seconds / 2, CONNECTIONS, ds.auth)
        fl = floor.run(params, cfg.seconds / 2)
        strict = floor.run_strict(params, cfg.seconds / 2)
        # A page slower than the run itself completes nothing: no cost to report.
        ms = 1000 / res["rps"] if res["requests"] else None
        out.append({"skip": skip, "ms": ms, "floor_ms": fl["ms"], "strict_ms": strict["ms"]})
        print(f"  skip {skip}: {res['rps']:.0f}/s floor {fl['rps']:.0f}/s", flush=True)
    return out


def sequential_curve(
    ds: infra.Dataset, server: infra.Server, cfg: Config, page: int = 100, window: int = 20
) -> list[dict[str, Any]]:
    """What a sync client pays: one connection walking ``_skip += 100`` through the org-wide
    feed from 0, as tap-closeio and Airbyte do (pages after the first are sought from the
    previous page's end). After every page the client also asks for ``_skip=0`` again, so
    each point compares the median wall time of the ``window`` pages ending at that
    ``_skip`` with the median of the ``_skip=0`` pages requested between them, seconds apart
    under the same machine load."""
    import http.client

    wanted = sorted(s for s in cfg.skips if s < ds.org.get("activities", ds.size))
    if not wanted:
        return []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    headers = {"Authorization": ds.auth}

    def get(skip: int) -> tuple[float, bool]:
        began = time.perf_counter()
        conn.request("GET", f"/api/v1/activity/?_skip={skip}&_limit={page}", headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        more = resp.status == 200 and b'"has_more":true' in body
        return 1000 * (time.perf_counter() - began), more

    times: dict[int, tuple[float, float]] = {}
    skip = 0
    while skip <= wanted[-1]:
        ms, more = get(skip)
        times[skip] = (ms, get(0)[0])
        if not more:
            break
        skip += page
    conn.close()
    out = []
    for at in wanted:
        near = [
            times[s] for s in range(max(at - page * (window - 1), 0), at + 1, page) if s in times
        ]
        if near:
            ms = statistics.median(t[0] for t in near)
            first = statistics.median(t[1] for t in near)
            out.append({"skip": at, "ms": ms, "first_ms": first, "pages": len(near)})
    print(f"  sequential: {out}", flush=True)
    return out


def size_curve(datasets: dict[int, infra.Dataset], cfg: Config, logs: Path) -> list[dict[str, Any]]:
    """Cost of a page (ms of a single worker per request) against the dataset size."""
    out = []
    for size, ds in datasets.items():
        lead = pick_lead(ds)
        server = infra.start_crmapi(ds, 1, logs)
        try:
            row: dict[str, Any] = {"size": size}
            for q in queries(lead):
                if q.name not in ("lead", "org_window"):
                    continue
                rps = statistics.median(
                    infra.load(server.base() + q.path(), cfg.seconds / 2, CONNECTIONS, ds.auth)[
                        "rps"
                    ]
                    for _ in range(cfg.rounds)
                )
                row[q.name] = 1000 / max(rps, 1e-9)
            out.append(row)
            print(f"  size {size:,}: {row}", flush=True)
        finally:
            server.stop()
    return out


def soak(ds: infra.Dataset, server: infra.Server, q: Query, seconds: float) -> dict[str, Any]:
    samples: list[tuple[float, float, float]] = []
    done = threading.Event()

    def sample() -> None:
        began = time.monotonic()
        while not done.is_set():
            pid = server.proc.pid
            samples.append(
                (time.monotonic() - began, infra.rss_mb(pid, "RssAnon"), infra.rss_mb(pid))
            )
            done.wait(5)

    th = threading.Thread(target=sample)
    th.start()
    try:
        res = infra.load(server.base() + q.path(), seconds, CONNECTIONS, ds.auth)
    finally:
        done.set()
        th.join()
    rss = [s[1] for s in samples]
    tail = [(s[0], s[1]) for s in samples[len(samples) // 5 :]]  # ignore warm-up
    slope = _slope(tail) * 60 if len(tail) > 2 else 0.0
    print(f"  soak: max private RSS {max(rss):.0f} MB, trend {slope:+.2f} MB/min", flush=True)
    return {
        "seconds": seconds,
        "rps": res["rps"],
        "errors": res["errors"],
        "rss_start": rss[0],
        "rss_max": max(rss),
        "rss_end": rss[-1],
        "slope_mb_per_min": slope,
        "vmrss_max": max(s[2] for s in samples),
    }


def _slope(points: list[tuple[float, float]]) -> float:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def cleanup(ds: infra.Dataset, lead: str) -> None:
    """Remove what the write mix added, so the cached dataset stays the seeded one."""
    from sqlalchemy import create_engine, text

    from crmapi.storage.db import normalize_url

    engine = create_engine(normalize_url(ds.url))
    with engine.begin() as conn:
        org = ds.org["organization_id"]
        start = "2025-07-01"  # seeded rows all predate seed.SEED_END
        conn.execute(
            text("DELETE FROM activity WHERE organization_id = :o AND date_created > :s"),
            {"o": org, "s": start},
        )
        conn.execute(
            text("DELETE FROM event WHERE organization_id = :o AND date_created > :s"),
            {"o": org, "s": start},
        )
    engine.dispose()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import orjson
    import sqlalchemy
    import starlette
    import uvicorn

    wrk = "none"
    if infra.have_wrk():
        wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=infra.ROOT
    ).stdout.strip()
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpu": cpu,
        "cores": len(__import__("os").sched_getaffinity(0)),
        "memory_gb": round(int(mem) / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "starlette": starlette.__version__,
        "uvicorn": uvicorn.__version__,
        "orjson": orjson.__version__,
        "wrk": wrk,
        "commit": git,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _datasette(base: Path, quick: bool) -> Path | None:
    venv = base / "datasette-venv"
    if quick and not (venv / "bin" / "datasette").exists():
        return None  # the smoke test does not install anything
    return infra.ensure_datasette(venv)


def _datasette_version(venv: Path | None) -> str:
    if venv is None:
        return "not run"
    out = subprocess.run([str(venv / "bin" / "datasette"), "--version"], capture_output=True)
    return out.stdout.decode().strip()


def _pg_version(pg: infra.Postgres) -> str:
    import psycopg

    with psycopg.connect(pg.url()) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


if __name__ == "__main__":
    main()
