"""Credentials: HTTP Basic with the API key as user name, or ``Authorization: Bearer``."""

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Connection

from crmapi.domain.context import Principal
from crmapi.domain.errors import UNAUTHORIZED_MESSAGE, RateLimited, Unauthorized
from crmapi.resources import accounts

_CACHE_SIZE = 4096


def credential(header: str | None) -> tuple[str, str] | None:
    """``("basic", key)`` or ``("bearer", token)`` from an Authorization header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key, _, _password = decoded.partition(":")
        return ("basic", key) if key else None
    if scheme.lower() == "bearer" and value:
        return ("bearer", value)
    return None


class Authenticator:
    """Resolves credentials to a principal, remembering recent answers for a few seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._cache: OrderedDict[tuple[str, str], tuple[float, Principal]] = OrderedDict()

    def authenticate(self, header: str | None, connect: Callable[[], Connection]) -> Principal:
        cred = credential(header)
        if cred is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        hit = self._cache.get(cred)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        with connect() as conn:
            if cred[0] == "basic":
                principal = accounts.principal_for_key(conn, cred[1])
            else:
                principal = accounts.principal_for_token(conn, cred[1])
        if principal is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        if self.ttl > 0 and cred[0] == "basic":
            self._cache[cred] = (now + self.ttl, principal)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal


class FailureLimiter:
    """Counts failed authentications per client address; past the limit every attempt from
    that address is a 429 until the minute is over (guessing keys becomes pointless)."""

    window = 60

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[float, int]] = {}

    def check(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            start, count = self._failures.get(address, (now, 0))
            if now - start >= self.window:
                self._failures.pop(address, None)
                return
        if count >= self.per_minute:
            raise RateLimited(
                limit=self.per_minute,
                reset=max(0.001, start + self.window - now),
                group="auth",
                limit_type="address",
                window=self.window,
            )

    def failed(self, address: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            start, count = self._failures.get(address, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            self._failures[address] = (start, count + 1)
