"""Rate-limit windows shared by every host: in PostgreSQL, or in Redis when one is configured.

Both count a request in all of its buckets in one round trip and one atomic step, on the
store's own clock, so N hosts enforce one limit per key and report the same ``RateLimit``
numbers whichever host answers. SQLite deployments are one machine: the in-process limiter
(``http.ratelimit``) stays.
"""

import logging
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from crmapi.http.ratelimit import Quota, RateLimiter, SharedWindows
from crmapi.settings import Settings
from crmapi.storage.db import Database, normalize_url

log = logging.getLogger("crmapi.ratelimit")

# The function is created by the scale_1 migration (storage/migrations).
_PG_HIT = (
    "SELECT allowed, now_s, starts, counts FROM crmapi_rate_hit("
    "%(org)s, %(buckets)s::text[], %(limits)s::int[], %(window)s::float8)"
)


def _quotas(
    buckets: Sequence[tuple[str, int]], now: float, window: float, starts: Sequence[float],
    used: Sequence[int],
) -> list[Quota]:  # fmt: skip
    return [
        Quota(limit, limit - count, start + window - now)
        for (_, limit), start, count in zip(buckets, starts, used, strict=True)
    ]


class PostgresWindows:
    """Windows in an UNLOGGED table, counted by one PL/pgSQL call per request.

    Each request thread keeps its own autocommit connection (the requests run on a fixed
    threadpool, ``CRMAPI_THREADS``): no pool checkout, no pre-ping, a prepared statement, so
    the call is the request's one extra round trip. A connection found dead (the database
    restarted) is replaced and the call made once more.
    """

    def __init__(self, url: str) -> None:
        self.dsn = make_url(normalize_url(url)).set(drivername="postgresql")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection[Any]] = []

    def hit(
        self, organization_id: str, buckets: Sequence[tuple[str, int]], window: int
    ) -> tuple[bool, list[Quota]]:
        params = {
            "org": organization_id,
            "buckets": [name for name, _ in buckets],
            "limits": [limit for _, limit in buckets],
            "window": float(window),
        }
        try:
            row = self._call(params)
        except psycopg.OperationalError:
            self._drop()
            row = self._call(params)
        allowed, now, starts, used = row
        return bool(allowed), _quotas(buckets, now, window, starts, used)

    def _call(self, params: dict[str, Any]) -> Any:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.dsn.render_as_string(hide_password=False), autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn.execute(_PG_HIT, params, prepare=True).fetchone()

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()


# The same step in Redis, atomically in one script on the server's clock (milliseconds).
# Windows expire on their own after two lengths, so idle keys cost nothing.
_LUA_HIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[1])
local starts, used, ok = {}, {}, 1
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 's', 'u')
  local s, u = tonumber(v[1]), tonumber(v[2])
  if s == nil or now - s >= window then s = now; u = 0 end
  starts[i] = s
  used[i] = u
  if u >= tonumber(ARGV[i + 1]) then ok = 0 end
end
if ok == 1 then
  for i = 1, #KEYS do
    redis.call('HSET', KEYS[i], 's', starts[i], 'u', used[i] + 1)
    redis.call('PEXPIRE', KEYS[i], window * 2)
  end
end
local out = {ok, now}
for i = 1, #KEYS do
  out[#out + 1] = starts[i]
  out[#out + 1] = used[i]
end
return out
"""


class RedisWindows:
    """Windows in Redis (``CRMAPI_REDIS_URL``). If Redis cannot be reached the request is
    served unlimited (logged): limits protect the service, they must not take it down."""

    def __init__(self, url: str, timeout: float = 1.0) -> None:
        import redis  # optional dependency: pip install 'crmapi[redis]'

        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.script = self.client.register_script(_LUA_HIT)
        self.errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    def hit(
        self, organization_id: str, buckets: Sequence[tuple[str, int]], window: int
    ) -> tuple[bool, list[Quota]]:
        # One hash tag per organization: a request's keys live in one Redis Cluster slot.
        keys = [f"crmapi:rl:{{{organization_id}}}:{name}" for name, _ in buckets]
        window_ms = window * 1000
        try:
            out = self.script(keys=keys, args=[window_ms, *(limit for _, limit in buckets)])
        except self.errors:
            log.warning("rate limits unavailable (Redis): serving without them")
            return True, [Quota(limit, limit, float(window)) for _, limit in buckets]
        ok, now = int(out[0]), int(out[1]) / 1000
        starts = [int(v) / 1000 for v in out[2::2]]
        used = [int(v) for v in out[3::2]]
        return ok == 1, _quotas(buckets, now, window, starts, used)

    def close(self) -> None:
        self.client.close()


def shared_store(settings: Settings, db: Database) -> SharedWindows | None:
    """Redis when configured, else PostgreSQL's table; None on SQLite (one machine)."""
    if settings.redis_url:
        return RedisWindows(settings.redis_url)
    if db.dialect == "postgresql":
        return PostgresWindows(db.url)
    return None


def make_limiter(settings: Settings, db: Database) -> RateLimiter:
    store = shared_store(settings, db) if settings.rate_limit_per_key > 0 else None
    return RateLimiter(settings.rate_limit_per_key, settings.rate_limit_window, store=store)
