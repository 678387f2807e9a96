"""Webhook deliveries you can inspect and replay, and the delivery worker's emulator hook.

``DeliveryObserver`` sits on the database the worker sends from (``db.delivery_observer``):
it records every attempt in ``webhook_attempt`` and applies webhook fault rules (duplicate,
delay, reorder). The plane operations list deliveries with their attempts, redeliver one,
replay an event to a subscription and flush what is due.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, and_, insert, select, update

from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator.faults import Seen
from crmapi.emulator.orgtime import org_now
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.events import delivery
from crmapi.events.delivery import Claimed
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates
from crmapi.util.ids import new_id
from crmapi.util.jsonutil import dumps

D = t.webhook_delivery
A = t.webhook_attempt
W = t.webhook
REORDER_HOLD_SECONDS = 5.0


@dataclass
class _Held:
    item: Claimed
    since: float
    overtaken: bool = False


class DeliveryObserver:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self._lock = threading.Lock()
        self._held: list[_Held] = []

    @property
    def ordered(self) -> bool:
        """Send one at a time while webhook faults exist, so their order is the one planned."""
        return any(r.kind == "webhook" for rules in self._all_rules() for r in rules)

    def _all_rules(self) -> list[list[Any]]:
        faults = self.emulator.faults
        return [faults.global_rules, *faults.orgs.values()]

    def plan(self, db: Database, claimed: list[Claimed]) -> list[Claimed]:
        out: list[Claimed] = []
        with self._lock:
            released = self._release(claimed)
        for item in claimed:
            rule = self._rule(db, item)
            mode = rule.effect["mode"] if rule else ""
            if mode == "duplicate":
                out += [item, item]
            elif mode == "delay":
                self._postpone(db, item, float(rule.effect.get("seconds", 60)))
            elif mode == "reorder":
                with self._lock:
                    self._held.append(_Held(item, time.monotonic()))
            else:
                out.append(item)
        return out + released

    def _release(self, claimed: list[Claimed]) -> list[Claimed]:
        """Held (reordered) deliveries go out in the round after one of their subscription's
        later deliveries overtook them, or after a few seconds."""
        subscriptions = {c.webhook_id for c in claimed}
        released, kept = [], []
        for held in self._held:
            due = held.overtaken or time.monotonic() - held.since > REORDER_HOLD_SECONDS
            if due:
                released.append(held.item)
            else:
                held.overtaken = held.item.webhook_id in subscriptions
                kept.append(held)
        self._held = kept
        return released

    def _rule(self, db: Database, item: Claimed) -> Any:
        faults = self.emulator.faults
        if not faults.any():
            return None
        event = orjson.loads(item.payload).get("event", {})
        seen = Seen(
            org=item.organization_id,
            subscription_id=item.webhook_id,
            object_type=str(event.get("object_type", "")),
            action=str(event.get("action", "")),
        )
        return faults.pick(seen, org_now(db, item.organization_id), webhook=True)

    def _postpone(self, db: Database, item: Claimed, seconds: float) -> None:
        later = dates.canonical(org_now(db, item.organization_id) + timedelta(seconds=seconds))
        with db.write() as conn:
            conn.execute(
                update(D)
                .where(D.c.organization_id == item.organization_id, D.c.id == item.id)
                .values(next_attempt_at=later, attempts=D.c.attempts - 1)
            )

    def attempted(
        self, conn: Connection, item: Claimed, error: str | None, record: dict[str, Any], now: str
    ) -> None:
        headers = {k.lower(): v for k, v in (record.get("headers") or {}).items()}
        conn.execute(
            insert(A).values(
                id=new_id("whatt"),
                organization_id=item.organization_id,
                delivery_id=item.id,
                webhook_id=item.webhook_id,
                attempt=item.attempts,
                date_created=now,
                url=item.url,
                request_headers=headers,
                status=record.get("status"),
                duration_ms=round(float(record.get("duration_ms", 0.0)), 3),
                error=error,
                response_snippet=record.get("snippet"),
            )
        )


def attach(db: Database, emulator: Any) -> None:
    db.delivery_observer = DeliveryObserver(emulator)  # type: ignore[attr-defined]


# Plane operations.


def _state(row: Any, webhook_status: str) -> str:
    if row.status == "delivered":
        return "delivered"
    if row.status == "failed":
        return "dropped"
    if webhook_status == "paused":
        return "paused"
    return "retrying" if row.attempts > 0 else "pending"


def _attempts(conn: Connection, org: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(A)
        .where(A.c.organization_id == org, A.c.delivery_id.in_(ids))
        .order_by(A.c.delivery_id, A.c.attempt, A.c.date_created)
    ).all()
    for row in rows:
        out[row.delivery_id].append(
            {
                "attempt": row.attempt,
                "at": row.date_created,
                "url": row.url,
                "request_headers": row.request_headers,
                "status": row.status,
                "duration_ms": row.duration_ms,
                "error": row.error,
                "response_snippet": row.response_snippet,
            }
        )
    return out


def _render(row: Any, webhook_status: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    state = _state(row, webhook_status)
    payload = orjson.loads(row.payload)
    return {
        "id": row.id,
        "subscription_id": row.webhook_id,
        "event_id": row.event_id,
        "state": state,
        "attempts_count": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at if state in ("pending", "retrying") else None,
        "date_created": row.date_created,
        "request": {"body": payload},
        "attempts": attempts,
    }


def _query(conn: Connection, org: str, where: list[Any]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(D, W.c.status.label("webhook_status"))
        .join(W, and_(W.c.organization_id == D.c.organization_id, W.c.id == D.c.webhook_id))
        .where(D.c.organization_id == org, *where)
        .order_by(D.c.date_created.desc(), D.c.id.desc())
        .limit(500)
    ).all()
    attempts = _attempts(conn, org, [r.id for r in rows])
    return [_render(r, r.webhook_status, attempts[r.id]) for r in rows]


_STATES = ("pending", "retrying", "delivered", "dropped", "paused")


def list_deliveries(ctx: PlaneCtx) -> dict[str, Any]:
    where = []
    for param, column in (("subscription_id", D.c.webhook_id), ("event_id", D.c.event_id)):
        if ctx.params.get(param):
            where.append(column == ctx.params[param])
    state = ctx.params.get("state")
    if state and state not in _STATES:
        raise InvalidRequest(field_errors={"state": f"One of {', '.join(_STATES)}."})
    with ctx.db.read() as conn:
        found = _query(conn, ctx.org, where)
    if state:
        found = [d for d in found if d["state"] == state]
    return {"data": found}


def _one(ctx: PlaneCtx, delivery_id: str) -> dict[str, Any]:
    with ctx.db.read() as conn:
        found = _query(conn, ctx.org, [D.c.id == delivery_id])
    if not found:
        raise NotFound("Delivery does not exist.")
    return found[0]


def get_delivery(ctx: PlaneCtx) -> dict[str, Any]:
    return _one(ctx, ctx.path_params["id"])


def _flush(ctx: PlaneCtx, rounds: int = 20) -> int:
    sent = 0
    for _ in range(rounds):
        # The organization's own deliveries: without ``org`` an organization on a test clock
        # of its own (advanced, frozen) is left to its clock and a redelivery waits.
        attempted = delivery.deliver_due(ctx.db, ctx.settings, org=ctx.org)
        sent += attempted
        if attempted == 0:
            break
    return sent


def redeliver(ctx: PlaneCtx) -> dict[str, Any]:
    """Send one delivery now, outside its backoff (also a delivered or dropped one)."""
    delivery_id = ctx.path_params["id"]
    _one(ctx, delivery_id)
    with ctx.db.write() as conn:
        conn.execute(
            update(D)
            .where(D.c.organization_id == ctx.org, D.c.id == delivery_id)
            .values(status="pending", next_attempt_at=dates.now())
        )
    _flush(ctx)
    return _one(ctx, delivery_id)


def replay(ctx: PlaneCtx) -> dict[str, Any]:
    """Queue the stored event again for one subscription (Stripe's ``events resend``)."""
    subscription = ctx.body.get("subscription_id") if isinstance(ctx.body, dict) else None
    if not isinstance(subscription, str):
        raise InvalidRequest(field_errors={"subscription_id": "This field is required."})
    event_id = ctx.path_params["event_id"]
    with ctx.db.write() as conn:
        event = conn.execute(
            select(t.event).where(t.event.c.organization_id == ctx.org, t.event.c.id == event_id)
        ).first()
        if event is None:
            raise NotFound("Event does not exist.")
        hook = conn.execute(
            select(W.c.id).where(W.c.organization_id == ctx.org, W.c.id == subscription)
        ).first()
        if hook is None:
            raise InvalidRequest(field_errors={"subscription_id": "Subscription does not exist."})
        body = {k: getattr(event, k) for k in event._fields}
        now = dates.now()
        delivery_id = new_id("whdel")
        conn.execute(
            insert(D).values(
                id=delivery_id,
                organization_id=ctx.org,
                webhook_id=subscription,
                event_id=event_id,
                payload=dumps({"event": body, "subscription_id": subscription}).decode(),
                attempts=0,
                next_attempt_at=now,
                status="pending",
                date_created=now,
            )
        )
    _flush(ctx)
    return _one(ctx, delivery_id)


def flush(ctx: PlaneCtx) -> dict[str, Any]:
    """Deliver everything of the organization that is due now (the subscription's too)."""
    subscription = ctx.path_params["id"]
    with ctx.db.read() as conn:
        if (
            conn.execute(
                select(W.c.id).where(W.c.organization_id == ctx.org, W.c.id == subscription)
            ).first()
            is None
        ):
            raise NotFound("Subscription does not exist.")
    return {"attempted": _flush(ctx)}


def _op(method: str, path: str, handler: Callable[[PlaneCtx], Any], summary: str) -> PlaneOp:
    return PlaneOp(method, path, handler, "org", summary, tags=("webhooks",))


OPS = [
    _op("GET", "/orgs/{org}/webhook-deliveries", list_deliveries, "Deliveries and attempts"),
    _op("GET", "/orgs/{org}/webhook-deliveries/{id}", get_delivery, "One delivery"),
    _op("POST", "/orgs/{org}/webhook-deliveries/{id}/redeliver", redeliver, "Send it again now"),
    _op("POST", "/orgs/{org}/events/{event_id}/replay", replay, "Replay an event to a webhook"),
    _op("POST", "/orgs/{org}/webhooks/{id}/flush", flush, "Deliver what is due now"),
]
