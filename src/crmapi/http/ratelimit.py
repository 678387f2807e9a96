"""Close-style rate limits: per API key and (3x higher) per organization, per endpoint group.

A fixed window of ``window`` seconds per (caller, group). By default the state lives in this
process, which is right for one machine (SQLite); with several hosts a shared store
(``http.ratelimit_store``: PostgreSQL or Redis) holds the windows, so one key has one limit
and every host reports the same numbers.

The headers are read by real clients, so their forms matter:
- ``RateLimit: limit=N, remaining=N, reset=S`` with an integer ``S`` (closeio's regex is
  ``reset=(\\d+)``);
- ``RateLimit-*`` (the IETF draft split form) and the deprecated ``X-Rate-Limit-*``, whose
  reset is fractional seconds (tap-closeio sleeps ``int(reset) or 1`` when remaining is 0, so
  it must be a small number of seconds, never an epoch).
"""

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from crmapi.domain.context import Principal
from crmapi.domain.errors import RateLimited

ORG_MULTIPLIER = 3
# Forget expired windows once this many buckets are held (bounds memory under key churn).
PRUNE_AT = 50_000

_PARAM = re.compile(r"\{[^}]*\}")


def endpoint_group(template: str, method: str) -> str:
    """The group of a route: its resource path without ids, plus ``:write`` for writes.

    ``/lead/{id}/`` GET -> ``lead``; ``/activity/note/{id}/`` PUT -> ``activity/note:write``.
    Reads and writes are counted apart so an import cannot starve a sync, and each resource
    apart so a feed reader does not slow down lead edits (Close groups path + method pairs).
    """
    resource = "/".join(p for p in _PARAM.sub("", template).split("/") if p) or "root"
    return resource if method in ("GET", "HEAD") else f"{resource}:write"


@dataclass(frozen=True, slots=True)
class Quota:
    """One bucket's state after counting a request: what the headers report."""

    limit: int
    remaining: int
    reset: float  # seconds until the window restarts


def headers(quota: Quota) -> dict[str, str]:
    reset = max(1, math.ceil(quota.reset))
    return {
        "RateLimit": f"limit={quota.limit}, remaining={quota.remaining}, reset={reset}",
        "RateLimit-Limit": str(quota.limit),
        "RateLimit-Remaining": str(quota.remaining),
        "RateLimit-Reset": str(reset),
        "X-Rate-Limit-Limit": str(quota.limit),
        "X-Rate-Limit-Remaining": str(quota.remaining),
        "X-Rate-Limit-Reset": f"{quota.reset:.3f}",
    }


class SharedWindows(Protocol):
    """Windows kept outside the process, counted atomically for all of a request's buckets."""

    def hit(
        self, organization_id: str, buckets: Sequence[tuple[str, int]], window: int
    ) -> tuple[bool, list[Quota]]:
        """Count one request in every bucket unless one is exhausted.

        Returns whether it was counted and each bucket's quota *before* this request.
        """
        ...

    def close(self) -> None: ...


class RateLimiter:
    def __init__(
        self,
        per_key: int,
        window: int = 1,
        clock: Callable[[], float] = time.monotonic,
        store: SharedWindows | None = None,
    ) -> None:
        self.per_key = per_key
        self.window = max(1, window)
        self._now = clock
        self.store = store
        self._lock = threading.Lock()
        # (caller, group) -> (window start, requests counted in it)
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}

    def check(self, principal: Principal, group: str) -> dict[str, str]:
        """Count one request; raise 429 when a limit is hit, else return the headers."""
        if self.per_key <= 0:
            return {}
        key = principal.api_key_id or f"{principal.user_id}:{principal.oauth_client_id}"
        # The organization's bucket comes first: shared stores lock buckets in this order.
        buckets = (
            ("organization", (principal.organization_id, group), self.per_key * ORG_MULTIPLIER),
            ("key", (key, group), self.per_key),
        )
        if self.store is None:
            allowed, quotas = self._hit_here(buckets)
        else:
            named = [(f"{kind}:{who}:{grp}", limit) for kind, (who, grp), limit in buckets]
            allowed, quotas = self.store.hit(principal.organization_id, named, self.window)
        if not allowed:
            for (kind, _, limit), quota in zip(buckets, quotas, strict=True):
                if quota.remaining <= 0:
                    raise RateLimited(
                        limit=limit,
                        reset=max(0.001, quota.reset),
                        group=group,
                        limit_type=kind,
                        window=self.window,
                    )
        # Report whichever bucket is closer to running out (the one that will 429 first).
        tightest = min(quotas, key=lambda q: (q.remaining, -q.reset))
        return headers(Quota(tightest.limit, tightest.remaining - 1, tightest.reset))

    def _hit_here(
        self, buckets: Sequence[tuple[str, tuple[str, str], int]]
    ) -> tuple[bool, list[Quota]]:
        now = self._now()
        with self._lock:
            if len(self._counts) > PRUNE_AT:
                self._prune(now)
            quotas = [self._peek(bucket, limit, now) for _, bucket, limit in buckets]
            if any(quota.remaining <= 0 for quota in quotas):
                return False, quotas
            # Count only requests that are served, in both buckets at once.
            for _, bucket, _ in buckets:
                start, used = self._window(bucket, now)
                self._counts[bucket] = (start, used + 1)
        return True, quotas

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def _window(self, bucket: tuple[str, str], now: float) -> tuple[float, int]:
        start, used = self._counts.get(bucket, (now, 0))
        if now - start >= self.window:
            return now, 0
        return start, used

    def _peek(self, bucket: tuple[str, str], limit: int, now: float) -> Quota:
        start, used = self._window(bucket, now)
        return Quota(limit, limit - used, start + self.window - now)

    def _prune(self, now: float) -> None:
        expired = [b for b, (start, _) in self._counts.items() if now - start >= self.window]
        for bucket in expired:
            del self._counts[bucket]
        if len(self._counts) > PRUNE_AT:  # all live: a flood of keys; start over
            self._counts.clear()
