"""Load generators that run in their own process, so the measuring test's GIL is its own.

``Heavy(base, key, paths)`` loops each path in its own thread of a spawned process until it
is stopped; ``pause()`` and ``resume()`` switch the loops off and on (``pause`` returns once
no request is in flight), so a test can alternate idle and busy windows. ``load.result``:
per path, the number of answers by status.
"""

import multiprocessing
import statistics
import threading
import time
from collections import Counter
from typing import Any

import requests


def _loop(base: str, key: str, path: str, control: Any, out: Counter[int]) -> None:
    running, stop, in_flight = control
    session = requests.Session()
    session.auth = (key, "")
    while not stop.is_set():
        if not running.wait(0.05):
            continue
        with in_flight.get_lock():
            in_flight.value += 1
        try:
            response = session.get(base + path, timeout=60)
            out[response.status_code] += 1
            response.content  # noqa: B018 - read, never parsed
        except requests.RequestException:
            out[0] += 1
        finally:
            with in_flight.get_lock():
                in_flight.value -= 1


def _heavy(base: str, key: str, paths: list[str], control: Any, queue: Any) -> None:
    counts = {path: Counter[int]() for path in paths}
    threads = [
        threading.Thread(target=_loop, args=(base, key, path, control, counts[path]))
        for path in paths
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put({path: dict(c) for path, c in counts.items()})


class Heavy:
    """``with Heavy(...) as load:`` runs the load (paused at first) in a spawned process."""

    def __init__(self, base: str, key: str, paths: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.queue = context.Queue()
        self.running, self.stop = context.Event(), context.Event()
        self.in_flight = context.Value("i", 0)
        control = (self.running, self.stop, self.in_flight)
        self.process = context.Process(
            target=_heavy, args=(base, key, paths, control, self.queue), daemon=True
        )
        self.result: dict[str, dict[int, int]] = {}

    def resume(self) -> None:
        self.running.set()

    def pause(self, timeout: float = 60.0) -> None:
        """Stop sending and wait until the requests in flight are answered."""
        self.running.clear()
        until = time.monotonic() + timeout
        while self.in_flight.value and time.monotonic() < until:
            time.sleep(0.01)

    def __enter__(self) -> "Heavy":
        self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running.clear()
        self.stop.set()
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
