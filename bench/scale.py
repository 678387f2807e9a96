"""Scale-out bench: ``make bench-scale``. Writes the "Scale-out" section of docs/performance.md.

1. The cost of shared rate limits: one host's lead page with the limiter off, with its
   windows in PostgreSQL (the default with PostgreSQL) and in Redis; and the PostgreSQL
   window call alone, in-process.
2. Lead page and write throughput through HAProxy (deploy/haproxy.cfg) with 1, 2 and 3 hosts
   (``crmapi serve`` processes) on one PostgreSQL, each beside the machine's ceiling: the
   cores divided by the CPU one request costs everything on the machine (the hosts, HAProxy,
   PostgreSQL and wrk, measured from /proc over the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import infra
from bench.queries import pick_lead
from bench.run import cleanup, machine

DEPLOY = infra.ROOT / "deploy"
BEGIN, END = "<!-- scale-out:begin -->", "<!-- scale-out:end -->"
CONNECTIONS = 32
WRITE_CONNECTIONS = 16
# On, but never reached: what is measured is the cost of counting, not of refusing.
LIMIT = "1000000"


def start_host(ds: infra.Dataset, logs: Path, name: str, env: dict[str, str]) -> infra.Server:
    port = infra.free_port()
    log = logs / f"scale-{name}.log"
    proc = subprocess.Popen(
        [str(infra.BIN / "crmapi"), "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "CRMAPI_DATABASE_URL": ds.url, "CRMAPI_RATE_LIMIT_PER_KEY": LIMIT,
             **env},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = infra.Server(name, proc, port, log)
    infra._wait_http(server, "/api/v1/me/", ds.auth)
    return server


def start_haproxy(hosts: list[infra.Server], tmp: Path, logs: Path) -> infra.Server:
    """deploy/haproxy.cfg as shipped, with the server lines of hosts not started removed."""
    keep = {f"app{i + 1}" for i in range(len(hosts))}
    lines = [
        line
        for line in (DEPLOY / "haproxy.cfg").read_text().splitlines()
        if not (m := re.match(r"\s*server (app\d+) ", line)) or m.group(1) in keep
    ]
    cfg = tmp / "haproxy.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    port = infra.free_port()
    env = {
        **os.environ,
        "CRMAPI_LB_BIND": f"127.0.0.1:{port}",
        "CRMAPI_LB_CHECK_INTERVAL": "2s",
        "CRMAPI_HAPROXY_ERRORS": str(DEPLOY / "errors"),
        **{f"CRMAPI_APP{i + 1}": f"127.0.0.1:{h.port}" for i, h in enumerate(hosts)},
    }
    log = logs / "scale-haproxy.log"
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    server = infra.Server("haproxy", proc, port, log)
    infra.wait_port(port)
    return server


def measure(
    url: str, seconds: float, connections: int, ds: infra.Dataset, pids: list[int],
    db_pid: int, write_lead: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One wrk run; CPU of every process involved per request, and the ceiling it implies."""
    before = [infra.cpu_seconds(p) for p in pids]
    res = infra.load(url, seconds, connections, ds.auth, write_lead=write_lead, db_pid=db_pid)
    spent = sum(infra.cpu_seconds(p) - b for p, b in zip(pids, before, strict=True))
    n = max(1, res["requests"])
    res["app_cpu_ms_per_req"] = 1000 * spent / n
    total = res["app_cpu_ms_per_req"] + res["db_cpu_ms_per_req"] + res["client_cpu_ms_per_req"]
    cores = len(os.sched_getaffinity(0))
    res["total_cpu_ms_per_req"] = total
    res["ceiling_rps"] = cores * 1000 / total if total > 0 else float("nan")
    # How much of the machine this run got: the other users' share is what is missing.
    res["cores_used"] = total * res["rps"] / 1000
    res["loadavg"] = float(Path("/proc/loadavg").read_text().split()[0])
    return res


def limiter_cost(ds: infra.Dataset, pg: infra.Postgres, logs: Path, seconds: float,
                 redis_url: str | None) -> dict[str, Any]:  # fmt: skip
    lead = pick_lead(ds)
    path = f"/api/v1/activity/?lead_id={lead}"
    variants = {"off": {"CRMAPI_RATE_LIMIT_PER_KEY": "0"}, "postgresql": {}}
    if redis_url:
        variants["redis"] = {"CRMAPI_REDIS_URL": redis_url}
    out: dict[str, Any] = {}
    for name, env in variants.items():
        host = start_host(ds, logs, f"limiter-{name}", env)
        try:
            measure(host.base() + path, 2, CONNECTIONS, ds, [host.proc.pid], pg.pid())  # warm
            out[name] = measure(
                host.base() + path, seconds, CONNECTIONS, ds, [host.proc.pid], pg.pid()
            )
            print(f"  limiter {name}: {out[name]['rps']:.0f}/s", flush=True)
        finally:
            host.stop()
    out["call"] = _call_alone(ds)
    return out


def _call_alone(ds: infra.Dataset, n: int = 2000) -> dict[str, float]:
    """The PostgreSQL window call on its own: one round trip, in-process, sequential."""
    from crmapi.http.ratelimit_store import PostgresWindows

    store = PostgresWindows(ds.url)
    org = ds.org["organization_id"]
    buckets = [(f"organization:{org}:bench", 10**9), ("key:bench:bench", 10**9)]
    store.hit(org, buckets, 1)
    started = time.perf_counter()
    for _ in range(n):
        store.hit(org, buckets, 1)
    elapsed = time.perf_counter() - started
    store.close()
    return {"calls": n, "ms_per_call": 1000 * elapsed / n}


def through_haproxy(ds: infra.Dataset, pg: infra.Postgres, logs: Path, seconds: float,
                    counts: list[int], env: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    lead = pick_lead(ds)
    write_lead = ds.info["organizations"][0]["first_lead_id"]
    out: dict[str, Any] = {}
    for n in counts:
        hosts = [start_host(ds, logs, f"host{i + 1}", env) for i in range(n)]
        tmp = Path(tempfile.mkdtemp(prefix="crmapi-scale-"))
        lb = start_haproxy(hosts, tmp, logs)
        pids = [h.proc.pid for h in hosts] + [lb.proc.pid]
        try:
            base = lb.base()
            measure(f"{base}/api/v1/activity/?lead_id={lead}", 2, CONNECTIONS, ds, pids, pg.pid())
            reads = measure(f"{base}/api/v1/activity/?lead_id={lead}", seconds, CONNECTIONS,
                            ds, pids, pg.pid())  # fmt: skip
            writes = measure(f"{base}/api/v1/activity/note/", seconds, WRITE_CONNECTIONS, ds,
                             pids, pg.pid(), write_lead=write_lead)  # fmt: skip
            out[str(n)] = {"reads": reads, "writes": writes}
            print(f"  {n} host(s): lead page {reads['rps']:.0f}/s (ceiling "
                  f"{reads['ceiling_rps']:.0f}), writes {writes['rps']:.0f}/s (ceiling "
                  f"{writes['ceiling_rps']:.0f})", flush=True)  # fmt: skip
        finally:
            lb.stop()
            for h in hosts:
                h.stop()
            shutil.rmtree(tmp, ignore_errors=True)
            cleanup(ds, write_lead)
    return out


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lim, lb = results.get("limiter"), results["haproxy"]
    lines = [
        BEGIN,
        "## Scale-out: shared rate limits, and 1-3 hosts behind HAProxy on one PostgreSQL",
        "",
        "Produced by `make bench-scale` (`bench/scale.py`); do not edit by hand.",
        "",
        f"- Date: {m['date']}, commit `{m['commit']}`",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}; "
        f"PostgreSQL {results['postgres']}, HAProxy {results['haproxy_version']}, {m['wrk']}. "
        "Everything (hosts, HAProxy, PostgreSQL, wrk) shares these cores.",
        f"- Data: `crmapi seed` {results['size']:,} activities (PostgreSQL); lead page = "
        "`/activity/?lead_id=...` (100 newest); writes = POST note/call alternating (wrk.lua). "
        f"{results['seconds']:g} s per figure, one run each, after a 2 s warm-up; reads "
        f"{CONNECTIONS} connections, writes {WRITE_CONNECTIONS}.",
        "- Ceiling: cores x 1000 / (CPU ms per request of the hosts + HAProxy + PostgreSQL + "
        "wrk, measured from /proc over the same run): the most this machine could serve at "
        "that cost per request. \"Cores used\" is the CPU those processes got per second of "
        "the run: on a shared machine, what is missing to the core count went to other users "
        "(load average at the end of each run in brackets).",
        "",
    ]
    if lim:
        lines += _limiter_rows(lim)
    limiter = results.get("haproxy_limiter", "postgresql")
    lines += [
        f"Through HAProxy (limiter {'on, windows in PostgreSQL' if limiter != 'off' else 'off'}):",
        "",
        "| hosts | lead page req/s | ceiling req/s | cores used | p99 ms | writes req/s "
        "| ceiling req/s | cores used | write errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in lb.items():
        rd, wr = r["reads"], r["writes"]
        lines.append(
            f"| {n} | {rd['rps']:.0f} | {rd['ceiling_rps']:.0f} | {rd['cores_used']:.2f} "
            f"({rd['loadavg']:.1f}) | {rd['p99_us'] / 1000:.1f} | {wr['rps']:.0f} | "
            f"{wr['ceiling_rps']:.0f} | {wr['cores_used']:.2f} ({wr['loadavg']:.1f}) | "
            f"{wr['errors']} |"
        )
    lines += [
        "",
        "Reading: the hosts here are processes on the same 2 cores as PostgreSQL, HAProxy and "
        "wrk, so a second or third host cannot add capacity; what the rows show is that the "
        "deployment works at every size with no errors and what N processes cost (CPU per "
        "request of the hosts rises with N: more processes contend for the same cores and "
        "caches). Throughput grows with hosts only when they are machines of their own; the "
        "ceiling column is then the figure to compare against. \"Cores used\" below 2 means "
        "other users of this shared machine took the rest during the run.",
        "",
        "CPU ms per request (hosts + HAProxy / PostgreSQL / wrk):",
        "",
    ]
    for n, r in lb.items():
        rd, wr = r["reads"], r["writes"]
        lines.append(
            f"- {n} host(s): lead page {rd['app_cpu_ms_per_req']:.2f} / "
            f"{rd['db_cpu_ms_per_req']:.2f} / {rd['client_cpu_ms_per_req']:.2f}; writes "
            f"{wr['app_cpu_ms_per_req']:.2f} / {wr['db_cpu_ms_per_req']:.2f} / "
            f"{wr['client_cpu_ms_per_req']:.2f}"
        )
    lines += ["", END]
    return "\n".join(lines) + "\n"


def _limiter_rows(lim: dict[str, Any]) -> list[str]:
    lines = [
        "Shared rate limits (one host, no HAProxy, lead page):",
        "",
        "| limiter | req/s | p50 ms | p99 ms | host CPU ms/req | PostgreSQL CPU ms/req "
        "| cores used |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("off", "postgresql", "redis"):
        if name in lim:
            r = lim[name]
            lines.append(
                f"| {name} | {r['rps']:.0f} | {r['p50_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f}"
                f" | {r['app_cpu_ms_per_req']:.2f} | {r['db_cpu_ms_per_req']:.2f} | "
                f"{r['cores_used']:.2f} ({r['loadavg']:.1f}) |"
            )
    off, pgr = lim["off"], lim["postgresql"]
    extra_ms = (
        pgr["app_cpu_ms_per_req"] + pgr["db_cpu_ms_per_req"]
        - off["app_cpu_ms_per_req"] - off["db_cpu_ms_per_req"]
    )  # fmt: skip
    return [
        *lines,
        "",
        f"The PostgreSQL window call alone (in-process, sequential, {lim['call']['calls']} "
        f"calls): {lim['call']['ms_per_call']:.3f} ms per request, one round trip. Through the "
        f"server it adds {extra_ms:.2f} ms of CPU per request (host + PostgreSQL); the lead "
        f"page served {pgr['rps'] / off['rps']:.2f}x the requests of no limiter in this run.",
        "",
    ]


def splice(doc: Path, section: str) -> None:
    """Put the section into the document, replacing an earlier one (the rest is untouched)."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    # Its own directory: the main bench stops a PostgreSQL it finds running in its own.
    ap.add_argument("--data-dir", default="/tmp/crmapi-bench-scale", type=Path)
    ap.add_argument("--size", type=int, default=10_000, help="activities seeded")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--hosts", default="1,2,3")
    ap.add_argument("--out", type=Path, help="splice the section into this markdown file")
    ap.add_argument("--no-limiter-rows", action="store_true", help="only the HAProxy table")
    ap.add_argument("--haproxy-limiter", choices=["postgresql", "off"], default="postgresql")
    ap.add_argument("--render", type=Path, help="only re-render a saved scale-results.json")
    args = ap.parse_args()
    if args.render:
        section = render(json.loads(args.render.read_text()))
        print(section)
        if args.out:
            splice(args.out, section)
        return
    if not infra.have_wrk():
        sys.exit("wrk is needed: apt-get install -y wrk")
    base: Path = args.data_dir
    logs = base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pg = infra.Postgres(base / "pg")
    pg.start()
    redis = _redis(base)
    try:
        ds = infra.ensure_dataset("postgres", args.size, base, pg)
        results: dict[str, Any] = {
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "machine": machine(),
            "size": args.size,
            "seconds": args.seconds,
            "postgres": _version([str(pg.bindir / "postgres"), "--version"]),
            "haproxy_version": _version([shutil.which("haproxy") or "haproxy", "-v"]),
        }
        if not args.no_limiter_rows:
            print("== shared rate limits", flush=True)
            results["limiter"] = limiter_cost(
                ds, pg, logs, args.seconds, redis[0] if redis else None
            )
        print("== through HAProxy", flush=True)
        counts = [int(n) for n in args.hosts.split(",")]
        env = {"CRMAPI_RATE_LIMIT_PER_KEY": "0"} if args.haproxy_limiter == "off" else {}
        results["haproxy_limiter"] = args.haproxy_limiter
        results["haproxy"] = through_haproxy(ds, pg, logs, args.seconds, counts, env)
    finally:
        if redis:
            redis[1].terminate()
        pg.stop()
    (base / "scale-results.json").write_text(json.dumps(results, indent=1))
    section = render(results)
    print(section)
    if args.out:  # the raw numbers next to the report (re-render with --render)
        args.out.with_name("performance-scale.json").write_text(json.dumps(results, indent=1))
        splice(args.out, section)


def _redis(base: Path) -> tuple[str, subprocess.Popen[bytes]] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("  redis-server not installed: the Redis row is skipped", flush=True)
        return None
    port = infra.free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    infra.wait_port(port)
    return f"redis://127.0.0.1:{port}/0", proc


def _version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()
    found = re.search(r"\d+\.\d+(\.\d+)?", out[0]) if out else None
    return found.group(0) if found else "?"


if __name__ == "__main__":
    main()
