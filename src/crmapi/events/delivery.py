"""Sending queued webhook deliveries: sign, POST, retry with backoff, pause dead subscriptions.

Runs only in the background worker (never in an API request). Several hosts may run it at
once: due rows are locked ``FOR UPDATE SKIP LOCKED`` (one transaction, so SQLite's single
writer gives the same guarantee) and leased by moving ``next_attempt_at`` forward and naming
the host in ``leased_by``; exactly one host wins each row. If that host dies mid-send the
lease expires and the row is due again (at-least-once delivery, as Close's own). An outcome
is recorded only while its host still holds the lease. ``events.scheduler`` decides how many
rows of which subscription to claim; ``send`` performs the one HTTP POST.
"""

import contextlib
import functools
import hashlib
import hmac
import http.client
import logging
import os
import secrets
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update

from crmapi.events import urlpolicy
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

log = logging.getLogger("crmapi.webhooks")
D = t.webhook_delivery
W = t.webhook
MAX_PARALLEL_SENDS = 4
USER_AGENT = "crmapi-webhooks/1"
# Who holds a lease: unique per process (host name, pid, a random suffix for pid reuse).
HOST = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def sign(signature_key: str, timestamp: str, body: bytes) -> str:
    """Close's ``close-sig-hash``: hex HMAC-SHA256 over timestamp + raw body."""
    key = bytes.fromhex(signature_key)
    return hmac.new(key, timestamp.encode() + body, hashlib.sha256).hexdigest()


# What a tenant sees as ``latest_error``: the status code, or one of these words (what Close
# shows), never what the other end said: that would map internal ports for anyone.
TIMEOUT = "Timeout"
CONNECTION_ERROR = "Connection error"
SSL_ERROR = "SSL error"


@functools.cache
def _ssl_context(verify_ssl: bool) -> ssl.SSLContext:
    # Loading the CA store takes ~70 ms: once per process, not once per try.
    context = ssl.create_default_context()
    if not verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _PinnedHTTPS(http.client.HTTPConnection):
    """HTTPS to an address already checked, with TLS (SNI, certificate) for the URL's name."""

    default_port = 443

    def __init__(
        self, address: str, port: int, name: str, tls: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(address, port, timeout=timeout)
        self._name = name
        self._tls = tls

    def connect(self) -> None:
        super().connect()
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._name)


def _connection(
    target: urlpolicy.Target, address: str, verify_ssl: bool, timeout: float
) -> http.client.HTTPConnection:
    if target.scheme == "http":
        return http.client.HTTPConnection(address, target.port, timeout=timeout)
    return _PinnedHTTPS(address, target.port, target.host, _ssl_context(verify_ssl), timeout)


def send(
    url: str,
    body: bytes,
    signature_key: str,
    verify_ssl: bool,
    timeout: float,
    policy: urlpolicy.UrlPolicy | None = None,
    record: dict[str, Any] | None = None,
) -> str | None:
    """POST one delivery; None on a 2xx answer, else what ``latest_error`` shows.

    ``record`` (when given) receives the request headers, the response status and snippet
    (the emulator's delivery inspection).

    The host is resolved and checked once (``UrlPolicy.pin``) and the connection goes to that
    address with the URL's ``Host``, so DNS rebinding cannot redirect it; no proxy, no
    redirects (a 3xx is a failure: following it would POST somewhere never checked), and one
    deadline for the whole exchange, so a receiver dripping bytes cannot hold a sender.
    """
    policy = policy or urlpolicy.UrlPolicy.from_settings(Settings.from_env())
    timestamp = str(int(time.time()))
    headers = {
        "Host": "",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "close-sig-hash": sign(signature_key, timestamp, body),
        "close-sig-timestamp": timestamp,
        "Connection": "close",
    }
    seen = record if record is not None else {}
    conn: http.client.HTTPConnection | None = None
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    deadline = threading.Timer(timeout, expire)
    deadline.start()
    try:
        target, address = policy.pin(url)
        headers["Host"] = target.host_header
        conn = _connection(target, address, verify_ssl, timeout)
        seen["headers"] = dict(headers)
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        status = seen["status"] = response.status
        # The snippet is for the emulator's inspection only: a receiver that closes early
        # must not turn its answered status into a connection error.
        with contextlib.suppress(Exception):
            seen["snippet"] = response.read(500).decode("utf-8", "replace")
    except urlpolicy.UrlRefused:
        log.warning("webhook to %s not sent: its address is not allowed", url)
        return CONNECTION_ERROR
    except Exception as exc:  # whatever the other end did, the tenant sees a generic word
        log.info("webhook to %s failed: %s: %s", url, type(exc).__name__, exc)
        if expired.is_set() or isinstance(exc, TimeoutError):
            return TIMEOUT
        return SSL_ERROR if isinstance(exc, ssl.SSLError) else CONNECTION_ERROR
    finally:
        deadline.cancel()
        if conn is not None:
            conn.close()
    return None if 200 <= status < 300 else f"HTTP {status}"


@dataclass(frozen=True)
class Claimed:
    organization_id: str
    id: str
    webhook_id: str
    payload: str
    attempts: int  # including this one
    date_created: str
    url: str
    signature_key: str
    verify_ssl: bool
    leased_by: str = ""


def lease_seconds(settings: Settings) -> float:
    """How long a claimed row stays with its host: longer than any send can take."""
    return settings.webhook_lease_seconds or settings.webhook_timeout_seconds * 2 + 30


def _later(now: str, seconds: float) -> str:
    return dates.canonical(dates.to_datetime(now) + timedelta(seconds=seconds))


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failures: doubling, capped at 20 min."""
    delay = settings.webhook_retry_base_seconds * (2 ** min(attempts - 1, 30))
    return float(min(delay, settings.webhook_retry_max_seconds))


def due(now: str, org: str | None = None) -> Select[Any]:
    """Pending deliveries of active subscriptions whose time has come (and no live lease).

    Without ``org``: of every organization on wall time; organizations with a test clock of
    their own are served on their time by the clock's due work (crmapi.due), with ``org``."""
    return (
        select(D, W.c.url, W.c.signature_key, W.c.verify_ssl)
        .join(W, (W.c.organization_id == D.c.organization_id) & (W.c.id == D.c.webhook_id))
        .where(D.c.status == "pending", D.c.next_attempt_at <= now, W.c.status == "active")
        .where(D.c.organization_id == org if org else D.c.organization_id.not_in(own_clocks()))
    )


def claim(
    db: Database,
    settings: Settings,
    now: str,
    batch: int,
    *,
    host: str = "",
    webhook: tuple[str, str] | None = None,
    org: str | None = None,
) -> list[Claimed]:
    """Lease up to ``batch`` due deliveries (of one ``(organization, webhook)`` if given;
    of one organization on its own clock with ``org``)."""
    lease_until = _later(now, lease_seconds(settings))
    stmt = due(now, org)
    if webhook is not None:
        stmt = stmt.where(D.c.organization_id == webhook[0], D.c.webhook_id == webhook[1])
    # Rows another host is claiming right now are skipped, not waited for.
    stmt = stmt.order_by(D.c.next_attempt_at).limit(batch).with_for_update(of=D, skip_locked=True)
    with db.write() as conn:
        rows = conn.execute(stmt).all()
        for row in rows:
            conn.execute(
                update(D)
                .where(D.c.organization_id == row.organization_id, D.c.id == row.id)
                .values(next_attempt_at=lease_until, attempts=D.c.attempts + 1, leased_by=host)
            )
    return [
        Claimed(
            row.organization_id,
            row.id,
            row.webhook_id,
            row.payload,
            row.attempts + 1,
            row.date_created,
            row.url,
            row.signature_key,
            row.verify_ssl,
            host,
        )
        for row in rows
    ]


def _held(item: Claimed) -> Any:
    """The row as this host leased it: unchanged since, lease not taken over."""
    return (
        (D.c.organization_id == item.organization_id)
        & (D.c.id == item.id)
        & (D.c.status == "pending")
        & (D.c.attempts == item.attempts)
        & (D.c.leased_by == item.leased_by)
    )


def record(db: Database, settings: Settings, item: Claimed, error: str | None) -> bool:
    """Store one try's outcome; False when the lease was lost (another host has the row)."""
    now = dates.now()
    with db.write() as conn:
        if error is None:
            return _succeeded(conn, item, now)
        log.info("webhook delivery %s failed (try %d): %s", item.id, item.attempts, error)
        return _failed(conn, settings, item, error, now)


def _succeeded(conn: Connection, item: Claimed, now: str) -> bool:
    won = conn.execute(
        update(D)
        .where(_held(item))
        .values(status="delivered", last_error=None, next_attempt_at=now, leased_by=None)
    ).rowcount
    if won != 1:
        log.warning("webhook delivery %s: lease lost before its success was recorded", item.id)
        return False
    conn.execute(
        update(W)
        .where(W.c.organization_id == item.organization_id, W.c.id == item.webhook_id)
        .values(failing_since=None)
    )
    return True


def _failed(conn: Connection, settings: Settings, item: Claimed, error: str, now: str) -> bool:
    age = (dates.to_datetime(now) - dates.to_datetime(item.date_created)).total_seconds()
    retry_at = _later(now, backoff_seconds(settings, item.attempts))
    gave_up = age + backoff_seconds(settings, item.attempts) > settings.webhook_give_up_seconds
    won = conn.execute(
        update(D)
        .where(_held(item))
        .values(
            status="failed" if gave_up else "pending",
            last_error=error,
            next_attempt_at=now if gave_up else retry_at,
            leased_by=None,
        )
    ).rowcount
    if won != 1:
        return False
    conn.execute(
        update(W)
        .where(W.c.organization_id == item.organization_id, W.c.id == item.webhook_id)
        .values(latest_error=error, failing_since=func.coalesce(W.c.failing_since, now))
    )
    _maybe_pause(conn, settings, item, now)
    return True


def _maybe_pause(conn: Connection, settings: Settings, item: Claimed, now: str) -> None:
    """Close pauses a subscription (and clears its queue) when every delivery has failed for
    three days or the backlog reaches 100,000 events."""
    org, webhook_id = item.organization_id, item.webhook_id
    failing_since = conn.execute(
        select(W.c.failing_since).where(W.c.organization_id == org, W.c.id == webhook_id)
    ).scalar()
    reason = None
    cutoff = _later(now, -settings.webhook_pause_after_seconds)
    if failing_since is not None and failing_since <= cutoff:
        reason = "failing"
    else:
        backlog = conn.execute(
            select(func.count())
            .select_from(D)
            .where(
                D.c.organization_id == org, D.c.webhook_id == webhook_id, D.c.status == "pending"
            )
        ).scalar_one()
        if backlog >= settings.webhook_backlog_limit:
            reason = "backlog"
    if reason is None:
        return
    log.warning("pausing webhook %s of %s: %s", webhook_id, org, reason)
    conn.execute(
        update(W)
        .where(W.c.organization_id == org, W.c.id == webhook_id, W.c.status == "active")
        .values(status="paused", pause_reason=reason, date_updated=now)
    )
    conn.execute(
        delete(D).where(
            D.c.organization_id == org, D.c.webhook_id == webhook_id, D.c.status == "pending"
        )
    )


def _attempt(settings: Settings, item: Claimed, record: dict[str, Any]) -> str | None:
    started = time.perf_counter()
    try:
        return send(
            item.url,
            item.payload.encode(),
            item.signature_key,
            item.verify_ssl,
            settings.webhook_timeout_seconds,
            urlpolicy.UrlPolicy.from_settings(settings),
            record,
        )
    except Exception as exc:  # whatever the receiver did, record it as this try's failure
        log.exception("webhook delivery %s raised", item.id)
        return f"{type(exc).__name__}: {exc}"[:500]
    finally:
        record["duration_ms"] = (time.perf_counter() - started) * 1000


def attempt(settings: Settings, item: Claimed, seen: dict[str, Any] | None = None) -> str | None:
    """One try of one delivery: the POST, with anything it raises turned into its error;
    ``seen`` receives the request headers, status, snippet and duration."""
    return _attempt(settings, item, {} if seen is None else seen)


def own_clocks() -> Any:
    """Organizations whose test clock is not wall time."""
    E = t.emulator_org
    return select(E.c.organization_id).where(E.c.clock_mode != "real")


def deliver_due(db: Database, settings: Settings, batch: int = 50, org: str | None = None) -> int:
    """Send what is due now, in one batch; return how many deliveries were attempted.

    The server's worker uses ``events.scheduler`` instead (no batch waits for its slowest
    send); this is the simple form for tests, one-off runs and an organization's own clock.
    """
    claimed = claim(db, settings, dates.now(), batch, host=HOST, org=org)
    # The emulator's hook (crmapi.emulator.deliveries): it may duplicate, delay or reorder what
    # was claimed (fault rules) and records every attempt; absent in production.
    observer = getattr(db, "delivery_observer", None)
    if observer is not None:
        claimed = observer.plan(db, claimed)
    if not claimed:
        return 0
    records: list[dict[str, Any]] = [{} for _ in claimed]
    sequential = 1 if observer is not None and observer.ordered else MAX_PARALLEL_SENDS
    with ThreadPoolExecutor(max_workers=min(sequential, len(claimed))) as pool:
        outcomes = list(
            pool.map(lambda p: _attempt(settings, *p), zip(claimed, records, strict=True))
        )
    for item, error, seen in zip(claimed, outcomes, records, strict=True):
        if observer is not None:
            with db.write() as conn:
                observer.attempted(conn, item, error, seen, dates.now())
        record(db, settings, item, error)
    return len(claimed)
