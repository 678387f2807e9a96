"""Granian against uvicorn, side by side on one SQLite dataset (issue #20).

Both serve ``crmapi.asgi:create`` with one worker on the asyncio loop; rounds of wrk are
interleaved (uvicorn, Granian, uvicorn, ...) so the ratio compares numbers taken seconds
apart. Before loading, one response of each is compared byte for byte (body and the headers
that are not per request). Run: ``python bench/servers.py --db PATH --key KEY --lead LEAD``.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import infra

PER_REQUEST = {"date", "x-request-id", "x-rate-limit-reset", "ratelimit-reset", "ratelimit"}


def start(kind: str, db: Path, logdir: Path) -> infra.Server:
    port = infra.free_port()
    env = {**os.environ, "CRMAPI_DATABASE_URL": f"sqlite:///{db}"}
    if kind == "uvicorn":
        cmd = [str(infra.BIN / "crmapi"), "serve", "--port", str(port), "--workers", "1"]
    else:
        cmd = [str(infra.BIN / "granian"), "--interface", "asgi", "--factory", "--loop",
               "asyncio", "--workers", "1", "--host", "127.0.0.1", "--port", str(port),
               "--no-ws", "crmapi.asgi:create"]  # fmt: skip
    log = logdir / f"{kind}.log"
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return infra.Server(kind, proc, port, log)


def fetch(url: str, auth: str) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers={"Authorization": auth})
    with urllib.request.urlopen(req, timeout=30) as resp:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return resp.read(), headers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--lead", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    auth = "Basic " + base64.b64encode(f"{args.key}:".encode()).decode()
    logdir = Path("/tmp/crmapi-bench-servers")
    logdir.mkdir(exist_ok=True)
    servers = {k: start(k, args.db, logdir) for k in ("uvicorn", "granian")}
    path = f"/api/v1/activity/?lead_id={args.lead}"
    got: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
    try:
        for s in servers.values():
            infra._wait_http(s, "/api/v1/me/", auth)
        seen = {k: fetch(s.base() + path, auth) for k, s in servers.items()}
        (ub, uh), (gb, gh) = seen["uvicorn"], seen["granian"]
        same_body = ub == gb
        hdrs = {k: (uh.get(k), gh.get(k)) for k in set(uh) | set(gh) if k not in PER_REQUEST}
        differ = {k: v for k, v in hdrs.items() if v[0] != v[1]}
        print(f"same body: {same_body} ({len(ub)} bytes); headers that differ: {differ}")
        for r in range(args.rounds):
            for kind, s in servers.items():
                res = infra.load(s.base() + path, args.seconds, 32, auth, pid=s.proc.pid)
                got[kind].append(res)
                print(f"  round {r + 1} {kind:8} {res['rps']:.0f}/s p50 {res['p50_us'] / 1000:.1f}"
                      f" p99 {res['p99_us'] / 1000:.1f} ms cpu {res['cpu_ms_per_req']:.2f} ms/req"
                      f" errors {res['errors']}", flush=True)  # fmt: skip
    finally:
        for s in servers.values():
            s.stop()
    print("| server | req/s | p50 ms | p99 ms | server CPU ms/req | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, runs in got.items():

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(statistics.median(run[key] for run in runs))

        print(f"| {kind} | {med('rps'):.0f} | {med('p50_us') / 1000:.1f} | "
              f"{med('p99_us') / 1000:.1f} | {med('cpu_ms_per_req'):.2f} | "
              f"{sum(r['errors'] for r in runs)} |")  # fmt: skip


if __name__ == "__main__":
    main()
