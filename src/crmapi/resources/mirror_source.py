"""The source of ``crmapi import --from``: a Close-compatible API read through its public
endpoints only, politely.

- ``RateLimit: limit=N, remaining=N, reset=S`` (Close's header): when ``remaining`` reaches
  0 the next call waits ``reset`` seconds instead of spending a 429;
- a 429 waits its body's ``rate_reset`` (or ``Retry-After``) and is asked again;
- a 5xx or a dropped connection is retried with exponential backoff (capped), up to
  ``retries`` times; a 4xx other than 429 is the caller's error and raised.
"""

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

Doc = dict[str, Any]
RATELIMIT = re.compile(r"remaining=(\d+).*?reset=(\d+(?:\.\d+)?)")
PAGE = 100  # Close's largest _limit for most lists


class SourceError(RuntimeError):
    """The source refused a read (bad key, unknown endpoint) or kept failing."""


@dataclass
class Stats:
    requests: int = 0
    throttled: int = 0  # 429s answered
    retried: int = 0  # 5xx and transport errors retried
    waited: float = 0.0  # seconds slept for the source's sake


@dataclass
class Source:
    base: str  # ".../api/v1/"
    api_key: str
    retries: int = 8
    backoff: float = 0.25
    sleep: Callable[[float], None] = time.sleep
    stats: Stats = field(default_factory=Stats)
    _http: httpx.Client | None = None
    _pause_until: float = 0.0

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/") + "/"
        self._http = httpx.Client(auth=(self.api_key, ""), timeout=60.0)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited += seconds
            self.sleep(seconds)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        assert self._http is not None
        for attempt in range(self.retries + 1):
            self._wait(self._pause_until - time.monotonic())
            self.stats.requests += 1
            try:
                response = self._http.get(self.base + path, params=params)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise SourceError(f"GET {path}: the source does not answer") from None
                self.stats.retried += 1
                self._wait(min(self.backoff * 2**attempt, 10.0))
                continue
            self._follow(response)
            if response.status_code == 429:
                self.stats.throttled += 1
                self._wait(_reset_of(response))
                continue
            if response.status_code >= 500 and attempt < self.retries:
                self.stats.retried += 1
                self._wait(min(self.backoff * 2**attempt, 10.0))
                continue
            if response.status_code >= 400:
                raise SourceError(f"GET {path}: {response.status_code} {response.text[:300]}")
            return response.json()
        raise SourceError(f"GET {path}: still throttled or failing after {self.retries} tries")

    def _follow(self, response: httpx.Response) -> None:
        """The quota the answer announces: spent means wait for its reset before the next."""
        found = RATELIMIT.search(response.headers.get("ratelimit", ""))
        if found and int(found.group(1)) == 0:
            self._pause_until = time.monotonic() + float(found.group(2))

    def pages(
        self, path: str, params: dict[str, Any] | None = None, skip: int = 0, limit: int = PAGE
    ) -> Iterator[tuple[int, list[Doc]]]:
        """(offset after the page, its items) of a ``_skip``/``_limit`` list, from ``skip``."""
        while True:
            page = self.get(path, {**(params or {}), "_skip": skip, "_limit": limit})
            data = page.get("data") or []
            skip += len(data)
            yield skip, data
            if not page.get("has_more") or not data:
                return

    def cursor_pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Doc]]:
        """The event log's ``_cursor`` pages."""
        cursor: str | None = None
        while True:
            page = self.get(path, {**params, **({"_cursor": cursor} if cursor else {})})
            yield page.get("data") or []
            cursor = page.get("cursor_next")
            if not cursor:
                return


def _reset_of(response: httpx.Response) -> float:
    try:
        body = response.json()
    except ValueError:
        body = {}
    reset = body.get("rate_reset") if isinstance(body, dict) else None
    if reset is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
        reset = body["error"].get("rate_reset")
    if reset is None:
        reset = response.headers.get("retry-after", 1)
    try:
        return max(float(str(reset)), 0.05)
    except ValueError:
        return 1.0
