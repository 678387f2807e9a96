"""Close-style rate limits: per API key and (3x higher) per organization, per endpoint group.

State lives in this process (a fixed window per key); see docs/decisions.md for sharing it
across machines.
"""

import math
import threading
import time

from crmapi.domain.context import Principal
from crmapi.domain.errors import RateLimited

ORG_MULTIPLIER = 3


class RateLimiter:
    def __init__(self, per_key: int, window: int = 1) -> None:
        self.per_key = per_key
        self.window = max(1, window)
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}

    def _take(self, bucket: tuple[str, str], limit: int, now: float) -> tuple[int, float] | None:
        start, used = self._counts.get(bucket, (now, 0))
        if now - start >= self.window:
            start, used = now, 0
        reset = start + self.window - now
        if used >= limit:
            return None
        self._counts[bucket] = (start, used + 1)
        return limit - used - 1, reset

    def check(self, principal: Principal, group: str) -> dict[str, str]:
        """Count one request; raise 429 when a limit is hit, else return the headers."""
        if self.per_key <= 0:
            return {}
        now = time.monotonic()
        key = principal.api_key_id or f"{principal.user_id}:{principal.oauth_client_id}"
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()
            org_limit = self.per_key * ORG_MULTIPLIER
            org = self._take((principal.organization_id, group), org_limit, now)
            if org is None:
                reset = self._reset((principal.organization_id, group), now)
                raise RateLimited(
                    limit=org_limit,
                    reset=reset,
                    group=group,
                    limit_type="organization",
                    window=self.window,
                )
            taken = self._take((key, group), self.per_key, now)
            if taken is None:
                # Give back the org slot: the request was not served.
                start, used = self._counts[(principal.organization_id, group)]
                self._counts[(principal.organization_id, group)] = (start, used - 1)
                raise RateLimited(
                    limit=self.per_key,
                    reset=self._reset((key, group), now),
                    group=group,
                    limit_type="key",
                    window=self.window,
                )
        remaining, reset_in = taken
        reset = max(1, math.ceil(reset_in))
        return {
            "RateLimit": f"limit={self.per_key}, remaining={remaining}, reset={reset}",
            "RateLimit-Limit": str(self.per_key),
            "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(reset),
            "X-Rate-Limit-Limit": str(self.per_key),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": f"{reset_in:.3f}",
        }

    def _reset(self, bucket: tuple[str, str], now: float) -> float:
        start, _ = self._counts.get(bucket, (now, 0))
        return max(0.001, start + self.window - now)
