"""Sending queued webhook deliveries: sign, POST, retry with backoff, pause dead subscriptions.

Runs only in the background worker (never in an API request). Several worker processes may
run at once: a row is claimed by moving its ``next_attempt_at`` forward by a lease in a
conditional UPDATE, so exactly one worker wins it; if that worker dies mid-send the lease
expires and the row is due again (at-least-once delivery, as Close's own).
"""

import hashlib
import hmac
import http.client
import logging
import ssl
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates

log = logging.getLogger("crmapi.webhooks")
D = t.webhook_delivery
W = t.webhook
MAX_PARALLEL_SENDS = 4
USER_AGENT = "crmapi-webhooks/1"


def sign(signature_key: str, timestamp: str, body: bytes) -> str:
    """Close's ``close-sig-hash``: hex HMAC-SHA256 over timestamp + raw body."""
    key = bytes.fromhex(signature_key)
    return hmac.new(key, timestamp.encode() + body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without the payload; count it as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(verify_ssl: bool) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if not verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # No proxy handler from the environment: deliveries go straight to the subscriber's URL.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=context),
        _NoRedirect(),
    )


def send(url: str, body: bytes, signature_key: str, verify_ssl: bool, timeout: float) -> str | None:
    """POST one delivery; None on a 2xx answer, else a short description of the failure."""
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "close-sig-hash": sign(signature_key, timestamp, body),
            "close-sig-timestamp": timestamp,
        },
    )
    try:
        with _opener(verify_ssl).open(request, timeout=timeout) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(exc).__name__}: {reason}"[:500]
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


def _later(now: str, seconds: float) -> str:
    return dates.canonical(dates.to_datetime(now) + timedelta(seconds=seconds))


def backoff_seconds(settings: Settings, attempts: int) -> float:
    """Delay before the next try after ``attempts`` failures: doubling, capped at 20 min."""
    delay = settings.webhook_retry_base_seconds * (2 ** min(attempts - 1, 30))
    return float(min(delay, settings.webhook_retry_max_seconds))


def claim(db: Database, settings: Settings, now: str, batch: int) -> list[Claimed]:
    """Take up to ``batch`` due deliveries of active subscriptions for this worker."""
    lease_until = _later(now, settings.webhook_timeout_seconds * 2 + 30)
    due = (
        select(D, W.c.url, W.c.signature_key, W.c.verify_ssl)
        .join(W, (W.c.organization_id == D.c.organization_id) & (W.c.id == D.c.webhook_id))
        .where(D.c.status == "pending", D.c.next_attempt_at <= now, W.c.status == "active")
        .order_by(D.c.next_attempt_at)
        .limit(batch)
    )
    with db.read() as conn:
        candidates = conn.execute(due).all()
    claimed = []
    for row in candidates:
        with db.write() as conn:
            won = conn.execute(
                update(D)
                .where(
                    D.c.organization_id == row.organization_id,
                    D.c.id == row.id,
                    D.c.status == "pending",
                    D.c.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=lease_until, attempts=D.c.attempts + 1)
            ).rowcount
        if won == 1:
            claimed.append(
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
                )
            )
    return claimed


def _succeeded(conn: Connection, item: Claimed, now: str) -> None:
    conn.execute(
        update(D)
        .where(D.c.organization_id == item.organization_id, D.c.id == item.id)
        .values(status="delivered", last_error=None, next_attempt_at=now)
    )
    conn.execute(
        update(W)
        .where(W.c.organization_id == item.organization_id, W.c.id == item.webhook_id)
        .values(failing_since=None)
    )


def _failed(conn: Connection, settings: Settings, item: Claimed, error: str, now: str) -> None:
    age = (dates.to_datetime(now) - dates.to_datetime(item.date_created)).total_seconds()
    retry_at = _later(now, backoff_seconds(settings, item.attempts))
    gave_up = age + backoff_seconds(settings, item.attempts) > settings.webhook_give_up_seconds
    conn.execute(
        update(D)
        .where(D.c.organization_id == item.organization_id, D.c.id == item.id)
        .values(
            status="failed" if gave_up else "pending",
            last_error=error,
            next_attempt_at=now if gave_up else retry_at,
        )
    )
    conn.execute(
        update(W)
        .where(W.c.organization_id == item.organization_id, W.c.id == item.webhook_id)
        .values(latest_error=error, failing_since=func.coalesce(W.c.failing_since, now))
    )
    _maybe_pause(conn, settings, item, now)


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


def _attempt(settings: Settings, item: Claimed) -> str | None:
    try:
        return send(
            item.url,
            item.payload.encode(),
            item.signature_key,
            item.verify_ssl,
            settings.webhook_timeout_seconds,
        )
    except Exception as exc:  # whatever the receiver did, record it as this try's failure
        log.exception("webhook delivery %s raised", item.id)
        return f"{type(exc).__name__}: {exc}"[:500]


def deliver_due(db: Database, settings: Settings, batch: int = 50) -> int:
    """Send what is due now; return how many deliveries were attempted."""
    claimed = claim(db, settings, dates.now(), batch)
    if not claimed:
        return 0
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_SENDS, len(claimed))) as pool:
        outcomes = list(pool.map(lambda item: _attempt(settings, item), claimed))
    for item, error in zip(claimed, outcomes, strict=True):
        now = dates.now()
        with db.write() as conn:
            if error is None:
                _succeeded(conn, item, now)
            else:
                log.info("webhook delivery %s failed (try %d): %s", item.id, item.attempts, error)
                _failed(conn, settings, item, error, now)
    return len(claimed)
