"""The journal's cost on a feed page's server time: journal on against off.

python bench/journal_cost.py [--rounds 12] [--per-round 300]

Calls the ASGI app directly (no client, no sockets), so what is timed is the server's own work
for ``GET /api/v1/activity/?_limit=100`` on SQLite (demo data). Rounds alternate off/on so
machine noise hits both alike; the result is the median of the per-round means.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

from crmapi import seed
from crmapi.app import _tune_gc, create_app
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database

PATH = "/api/v1/activity/"
QUERY = b"_limit=100"


def scope(app: Any, key: str) -> dict[str, Any]:
    auth = b"Basic " + b64encode(f"{key}:".encode())
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": QUERY,
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", auth), (b"user-agent", b"bench/1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def one(app: Any, key: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope(app, key), receive, send)
    return status


async def timed(app: Any, key: str, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        assert await one(app, key) == 200
    return (time.perf_counter() - started) / n * 1000


async def run(url: str, key: str, rounds: int, per_round: int) -> dict[str, float]:
    apps = {
        label: create_app(
            Settings(
                database_url=url,
                journal_max=size,
                background_workers=False,
                rate_limit_per_key=0,
                strict="off" if size == 0 else "warn",
            ),
            migrate_schema=False,
        )
        for label, size in (("off", 0), ("on", 10_000))
    }
    _tune_gc()
    for app in apps.values():
        await timed(app, key, 200)  # warm caches and the journal ring
    means: dict[str, list[float]] = {"off": [], "on": []}
    for i in range(rounds):
        for label in ("off", "on") if i % 2 == 0 else ("on", "off"):
            means[label].append(await timed(apps[label], key, per_round))
    for app in apps.values():
        app.state.db.dispose()
    return {label: statistics.median(values) for label, values in means.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--per-round", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        migrate.upgrade(db)
        with db.write() as conn:
            key = seed.demo(conn).key
        db.dispose()
        result = asyncio.run(run(url, key, args.rounds, args.per_round))
    off, on = result["off"], result["on"]
    print(
        f"GET {PATH}?{QUERY.decode()} server time (median of {args.rounds} rounds x "
        f"{args.per_round}): journal off {off:.3f} ms, on {on:.3f} ms, "
        f"cost {on - off:+.3f} ms ({(on - off) / off * 100:+.1f}%)"
    )


if __name__ == "__main__":
    main()
