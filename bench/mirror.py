"""How fast ``crmapi import --from`` copies activities from a local source, against the
source's own page rate (the ceiling: the import cannot read faster than the source serves).

    .venv/bin/python bench/mirror.py [--activities 100000] [--out docs/performance.md]

Seeds a SQLite source with ``crmapi seed``, serves it on a free local port, pages its whole
``/activity/`` once (the page rate), then imports the organization into a fresh SQLite
target and prints one JSON line: activities per second of the import, of the source's
paging, and their ratio. ``--out`` splices a section into that markdown file.
"""

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

BEGIN, END = "<!-- mirror:begin -->", "<!-- mirror:end -->"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _crmapi(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "crmapi", *args], env=env, check=True, capture_output=True, text=True
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _page_rate(base: str, key: str) -> tuple[int, float]:
    """Every activity, 100 a page, as the import reads them: (count, seconds)."""
    started, n = time.perf_counter(), 0
    with httpx.Client(auth=(key, ""), timeout=120) as http:
        while True:
            page = http.get(base + "activity/", params={"_skip": n, "_limit": 100}).json()
            n += len(page["data"])
            if not page["has_more"] or not page["data"]:
                return n, time.perf_counter() - started


def measure(activities: int, workdir: Path) -> dict[str, Any]:
    source_env = {**os.environ, "CRMAPI_DATABASE_URL": f"sqlite:///{workdir / 'source.db'}"}
    seeded = _crmapi(
        source_env,
        "seed",
        "--leads",
        str(max(activities // 50, 1)),
        "--activities",
        str(activities),
        "--users",
        "4",
        "--quiet",
    )
    org = seeded["organizations"][0]
    port = _port()
    server = subprocess.Popen(
        [sys.executable, "-m", "crmapi", "serve", "--port", str(port)],
        env=source_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1/"
    try:
        for _ in range(120):
            try:
                httpx.get(base + "me/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        served, page_seconds = _page_rate(base, org["api_key"])
        target_env = {**os.environ, "CRMAPI_DATABASE_URL": f"sqlite:///{workdir / 'target.db'}"}
        cpu = os.times()
        started = time.perf_counter()
        report = _crmapi(
            target_env, "import", "--quiet", "--from", base, "--api-key", org["api_key"]
        )
        seconds = time.perf_counter() - started
        child_cpu = os.times().children_user - cpu.children_user
    finally:
        server.terminate()  # by PID: the server this run started
        server.wait(timeout=20)
    imported = sum(v for k, v in report["objects"].items() if k[:1].isupper())
    return {
        "seeded": activities,
        "activities": served,
        "imported_activities": imported,
        "import_seconds": round(seconds, 1),
        "import_cpu_seconds": round(child_cpu, 1),
        "import_activities_per_second": round(served / seconds, 1),
        "source_page_seconds": round(page_seconds, 1),
        "source_activities_per_second": round(served / page_seconds, 1),
        "ratio_to_ceiling": round(page_seconds / seconds, 3),
        "source_requests": report["source"]["requests"],
    }


def _row(label: str, result: dict[str, Any], side: str) -> str:
    n = result["activities"] if side == "source" else result["imported_activities"]
    seconds = result["source_page_seconds" if side == "source" else "import_seconds"]
    return f"| {label} | {n} | {seconds} | {result[f'{side}_activities_per_second']} |"


def _section(result: dict[str, Any]) -> str:
    today = datetime.date.today().isoformat()
    return f"""{BEGIN}
## Mirror: `crmapi import --from` (activities per second)

{today}, {platform.machine()}, Python {platform.python_version()}, SQLite source (`crmapi
seed`) and SQLite target on one machine, shared and loaded by other work (2 cores): the
numbers are lower bounds. `bench/mirror.py --activities {result["seeded"]}`.

| | activities | seconds | activities/s |
|---|---:|---:|---:|
{_row("source pages `/activity/` (the ceiling)", result, "source")}
{_row("`crmapi import --from` (whole organization)", result, "import")}

The import runs at {result["ratio_to_ceiling"]:.1%} of the source's page rate: it is bound by
the write path, not the reading: every activity goes through `activities.write.create` (its
validation, the event and its savepoint), as a client's POST does ({result["source_requests"]}
requests to the source in all).
{END}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--activities", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmapi-mirror-bench-") as tmp:
        result = measure(args.activities, Path(tmp))
    print(json.dumps(result))
    if args.out is not None:
        text = args.out.read_text()
        section = _section(result)
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.rstrip() + "\n\n" + section + "\n"
        args.out.write_text(text)


if __name__ == "__main__":
    main()
