"""Load generators that run in their own process, so the measuring test's GIL is its own.

``heavy(base, key, paths, seconds)`` loops each path in its own thread until the time is up
and returns, per path, the number of answers by status.
"""

import multiprocessing
import statistics
import threading
import time
from collections import Counter
from typing import Any

import requests


def _loop(base: str, key: str, path: str, until: float, out: Counter[int]) -> None:
    session = requests.Session()
    session.auth = (key, "")
    while time.monotonic() < until:
        try:
            response = session.get(base + path, timeout=60)
            out[response.status_code] += 1
            response.content  # noqa: B018 - read, never parsed
        except requests.RequestException:
            out[0] += 1


def _heavy(base: str, key: str, paths: list[str], seconds: float, queue: Any) -> None:
    until = time.monotonic() + seconds
    counts = {path: Counter[int]() for path in paths}
    threads = [
        threading.Thread(target=_loop, args=(base, key, path, until, counts[path]))
        for path in paths
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put({path: dict(c) for path, c in counts.items()})


class Heavy:
    """``with Heavy(...) as load:`` runs the load in a spawned process; ``load.result``."""

    def __init__(self, base: str, key: str, paths: list[str], seconds: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.queue = context.Queue()
        self.process = context.Process(
            target=_heavy, args=(base, key, paths, seconds, self.queue), daemon=True
        )
        self.result: dict[str, dict[int, int]] = {}

    def __enter__(self) -> "Heavy":
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.result = self.queue.get(timeout=300)
        self.process.join(30)


def latencies(base: str, key: str, paths: list[str], seconds: float) -> list[float]:
    """Sequential requests cycling through ``paths`` for ``seconds``; each one's seconds."""
    session = requests.Session()
    session.auth = (key, "")
    out = []
    until = time.monotonic() + seconds
    i = 0
    while time.monotonic() < until:
        started = time.perf_counter()
        response = session.get(base + paths[i % len(paths)], timeout=60)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:200]
        i += 1
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)
