"""Credentials: HTTP Basic with the API key as user name, or ``Authorization: Bearer``.

Every request is authorized against the database (an indexed lookup), so a revoked key or a
deactivated member is refused by the very next request in every process. What is kept in
memory only schedules work: which organization a credential belongs to (for the per-
organization concurrency gate) and which credentials recently succeeded (for the throttle).
"""

import base64
import hashlib
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from sqlalchemy import Connection

from crmapi.domain.context import Principal
from crmapi.domain.errors import UNAUTHORIZED_MESSAGE, RateLimited, Unauthorized
from crmapi.resources import accounts

_CACHE_SIZE = 4096
# No key or token is near this long; longer values are refused without decoding or hashing.
MAX_CREDENTIAL = 512
Credential = tuple[str, str]


def credential(header: str | None) -> Credential | None:
    """``("basic", key)`` or ``("bearer", token)`` from an Authorization header.

    Any bytes may arrive (Starlette decodes header values as latin-1): everything that is
    not a well-formed credential is None, so the caller answers 401, never 500.
    """
    if not header or len(header) > MAX_CREDENTIAL:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        except ValueError:  # non-ASCII, bad base64 (binascii.Error), bad UTF-8
            return None
        key, _, _password = decoded.partition(":")
        return ("basic", key) if key and key.isprintable() else None
    if scheme.lower() == "bearer" and value and value.isprintable():
        return ("bearer", value)
    return None


def _fingerprint(cred: Credential) -> str:
    return hashlib.sha256(f"{cred[0]}:{cred[1]}".encode("utf-8", "surrogateescape")).hexdigest()


class _Recent:
    """A bounded map of credential fingerprints to (expiry, value)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        hit = self._items.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            if len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class Authenticator:
    """Resolves credentials to a principal, always against the database."""

    # How long a success is remembered: the throttle lets such credentials through.
    known_seconds = 3600.0

    def __init__(self, ttl: float = 0) -> None:
        self._orgs = _Recent(self.known_seconds)
        self._known = _Recent(self.known_seconds)

    def organization_hint(self, cred: Credential | None) -> str | None:
        """The organization this credential belonged to when it last succeeded (scheduling
        only: the request is still authorized against the database)."""
        return None if cred is None else self._orgs.get(_fingerprint(cred))

    def known(self, cred: Credential | None) -> bool:
        return cred is not None and self._known.get(_fingerprint(cred)) is not None

    def authenticate(
        self, cred: Credential | None, connect: Callable[[], AbstractContextManager[Connection]]
    ) -> Principal:
        if cred is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        with connect() as conn:
            if cred[0] == "basic":
                principal = accounts.principal_for_key(conn, cred[1])
            else:
                principal = accounts.principal_for_token(conn, cred[1])
        fingerprint = _fingerprint(cred)
        if principal is None:
            self._known.forget(fingerprint)
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        self._orgs.put(fingerprint, principal.organization_id)
        self._known.put(fingerprint, "1")
        return principal

    def forget(self) -> None:
        """An organization's clock changed: nothing to drop, every request reads its
        credential (and the clock with it) from the database."""


def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``CRMAPI_TRUSTED_PROXIES``: comma- or space-separated addresses or CIDR blocks."""
    items = spec.replace(",", " ").split()
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def client_address(
    peer: str,
    forwarded_for: Iterable[str],
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the nearest
    X-Forwarded-For hop that is not itself a trusted proxy (hops further left are whatever
    the client chose to send, so they are never believed)."""

    def is_trusted(text: str) -> bool:
        found = _address(text)
        return found is not None and any(found in net for net in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop if _address(hop) is not None else peer
    return peer


class FailureLimiter:
    """Counts failed authentications per client address; past the limit, credentials not
    seen succeeding before are answered 429 without being checked until the minute is over
    (guessing becomes pointless and a right guess is not confirmed), while credentials that
    succeeded before keep working (a shared address is not locked out by a neighbour)."""

    window = 60

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[float, int]] = {}

    def limited(self, address: str) -> RateLimited | None:
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            start, count = self._failures.get(address, (now, 0))
            if now - start >= self.window:
                self._failures.pop(address, None)
                return None
        if count < self.per_minute:
            return None
        return RateLimited(
            limit=self.per_minute,
            reset=max(0.001, start + self.window - now),
            group="auth",
            limit_type="address",
            window=self.window,
        )

    def check(self, address: str) -> None:
        refused = self.limited(address)
        if refused is not None:
            raise refused

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
