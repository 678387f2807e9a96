"""The emulator on the request path: journal, faults and strict mode around each dispatcher.

``Observed`` is the ASGI app of one ``/api/v1`` route (routing.build wraps every dispatcher in
it). In production mode it only forwards. Otherwise it records the exchange in the
organization's journal, applies the first fault rule that fires, and checks the request
against the route's declarations for strict mode. ``unrouted`` replaces the router's 404 so a
request that matched no route is journaled with the route it probably meant.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crmapi.domain.context import Principal
from crmapi.domain.errors import APIError, InvalidRequest, RateLimited
from crmapi.emulator import faults as faults_mod
from crmapi.emulator import strict
from crmapi.emulator.journal import Entry
from crmapi.emulator.orgtime import org_now
from crmapi.emulator.state import Emulator, caller
from crmapi.events import caused
from crmapi.http.endpoint import Op
from crmapi.http.errors import json_response, render_error
from crmapi.util import dates

NOT_FOUND = {"error": "The requested URL was not found on the server."}
WARNINGS_HEADER = b"x-crmapi-warnings"
FAULT_HEADER = b"x-crmapi-fault"
MAX_WARNINGS_HEADER = 2000  # the full list is in the journal


class InjectedError(APIError):
    """Any Close error status, rendered by ``http.errors`` in Close's shape for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Dropped(Exception):
    """The connection was closed without an answer (a fault): nothing more to send."""


def _transport(receive: Receive) -> Any:
    # uvicorn's receive is a bound method of the request cycle, which owns the transport.
    return getattr(getattr(receive, "__self__", None), "transport", None)


async def drop_connection(receive: Receive) -> None:
    transport = _transport(receive)
    if transport is None:
        raise Dropped("connection dropped by a fault rule")  # in-process clients see this
    transport.close()
    await asyncio.sleep(0.01)  # let the server notice the disconnect before it answers 500


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


@dataclass
class Exchange:
    """One request as the emulator sees it; becomes the journal entry."""

    entry: Entry
    scope: Scope
    op: Op | None
    params: dict[str, str]
    warnings: list[strict.Ignored]
    level: str
    principal: Principal | None = None
    request_chunks: int = 0


def _params(scope: Scope, body: Any) -> dict[str, str]:
    params = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    if scope["method"] == "GET" and isinstance(body, dict):
        nested = body.get("_params")
        source = nested if isinstance(nested, dict) else body
        params.update({str(k): str(v) for k, v in source.items()})
    return params


async def _buffer(receive: Receive, limit: int) -> tuple[bytes, Receive, bool]:
    """Read the whole body (up to ``limit`` + 1 bytes) and a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            break
    raw = b"".join(chunks)
    pending = [{"type": "http.request", "body": raw, "more_body": more}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return raw, replay, size <= limit


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        return None


class Observed:
    """The ASGI app of one route: the dispatcher, watched and steered by the emulator."""

    def __init__(self, template: str, ops: Mapping[str, Op], endpoint: Any) -> None:
        self.template = template
        self.ops = ops
        self.app: ASGIApp = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        emulator: Emulator | None = getattr(scope["app"].state, "emulator", None)
        if emulator is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.observe(emulator, scope, receive, send)

    async def observe(self, emu: Emulator, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        op = self.ops.get(method)
        journal = emu.journal
        entry = Entry(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"],
            headers=scope["headers"],
            operation=op.operation if op else "",
            group=op.group if op else "",
            started=time.time(),
            raw_path=scope.get("crmapi.raw_path", ""),
        )
        scope = dict(scope)
        has_body = method in ("POST", "PUT") or (
            method == "GET" and (_header(scope, b"content-length") or "0") not in ("", "0")
        )
        # A body is buffered (for the journal, strict mode) only once the caller is known:
        # without a valid credential it is never read, the dispatcher answers 401 first.
        first = emu.needs_caller_first() or has_body
        principal = await caller(scope["app"], scope) if first else None
        if has_body and principal is None:
            await self.app(scope, receive, send)
            return
        org = principal.organization_id if principal else None
        level = emu.strict.level(org, _header(scope, strict.HEADER.encode()))
        body: Any = None
        if has_body and (level != "off" or journal.enabled):
            raw, receive, complete = await _buffer(receive, emu.settings.max_body_bytes)
            entry.request_size = len(raw)
            entry.request_body = raw[: journal.body_max]
            body = _json(raw) if complete else None
        params = _params(scope, body)
        ex = Exchange(entry, scope, op, params, [], level, principal)
        if level != "off" and op is not None:
            ex.warnings = strict.before(op, method, params, body)
        try:
            if level == "strict" and ex.warnings:
                await self._answer(ex, _strict_error(ex.warnings), receive, send)
            else:
                await self._serve(emu, ex, receive, send)
        except Dropped:
            entry.status = 0
            raise
        except Exception:
            entry.status = entry.status or 500
            raise
        finally:
            entry.duration_ms = (time.perf_counter() - started) * 1000
            self._record(emu, ex)

    async def _serve(self, emu: Emulator, ex: Exchange, receive: Receive, send: Send) -> None:
        rule = None
        if emu.faults.any():
            rule = self._fault(emu, ex)
        kind = rule.kind if rule else ""
        if rule is not None and ex.entry.fault is None:
            details = {k: v for k, v in rule.effect.items() if k != "kind"}
            ex.entry.fault = {"id": rule.id, "kind": kind, **details}
        if kind == "latency":
            await asyncio.sleep(faults_mod.latency_ms(rule) / 1000)  # type: ignore[arg-type]
        elif kind in ("rate_limit", "status"):
            await self._answer(ex, render_error(_injected(rule, ex)), receive, send)  # type: ignore[arg-type]
            return
        elif kind in ("timeout", "drop"):
            if kind == "timeout":
                seconds = float(rule.effect.get("seconds", 30))  # type: ignore[union-attr]
                await asyncio.sleep(min(seconds, faults_mod.MAX_HOLD_SECONDS))
            await drop_connection(receive)
            return
        token = caused.start()
        try:
            if kind in ("truncate", "malformed"):
                await self._mangled(ex, rule, receive, send)  # type: ignore[arg-type]
            else:
                await self.app(ex.scope, receive, self._capture(ex, send))
        finally:
            ex.entry.events = caused.stop(token)

    def _fault(self, emu: Emulator, ex: Exchange) -> faults_mod.Rule | None:
        principal = ex.principal
        if principal is None:
            return None
        seen = faults_mod.Seen(
            org=principal.organization_id,
            api_key_id=principal.api_key_id,
            group=ex.entry.group,
            method=ex.entry.method,
            path=ex.entry.path,
            operation=ex.entry.operation,
            query=ex.params,
        )
        now = org_now(scope_db(ex.scope), principal.organization_id)
        forced = _header(ex.scope, FAULT_HEADER)
        skip = _skip(ex.params)
        if skip is not None and forced is None:
            listing = _listing(ex.entry.path, ex.params)
            drifting = emu.faults.drifting(seen, skip, listing, now)
            if drifting is not None:
                self._drift(ex, drifting, listing, skip)
                return drifting
        rule = emu.faults.pick(seen, now, forced, later_page=bool(skip))
        if rule is not None and rule.kind == "page_drift" and skip:
            listing = _listing(ex.entry.path, ex.params)
            rule.drift[listing] = 1 if rule.effect.get("mode", "delete") == "delete" else -1
            self._drift(ex, rule, listing, skip)
        return rule

    def _drift(self, ex: Exchange, rule: faults_mod.Rule, listing: str, skip: int) -> None:
        served = max(0, skip + rule.drift[listing])
        query = dict(parse_qsl(ex.scope["query_string"].decode("latin-1"), keep_blank_values=True))
        query["_skip"] = str(served)
        ex.scope["query_string"] = urlencode(query).encode("latin-1")
        ex.params["_skip"] = str(served)
        ex.entry.fault = {
            "id": rule.id,
            "kind": "page_drift",
            "mode": rule.effect.get("mode", "delete"),
            "skip": skip,
            "served_skip": served,
        }

    def _capture(self, ex: Exchange, send: Send) -> Send:
        """Record the answer as it is sent. When strict mode needs the answer itself (unknown
        ``_fields`` names, read-only keys the object carries), the start is held until the
        body is complete so the warnings header (or strict's 400) can still be sent."""
        entry = ex.entry
        emulator: Emulator = ex.scope["app"].state.emulator
        cap = emulator.journal.body_max
        hold = (
            ex.level != "off"
            and ex.op is not None
            and (
                bool(ex.params.get("_fields")) or any(w.code == "unknown_key" for w in ex.warnings)
            )
        )
        chunks: list[bytes] = []
        held: list[Message] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                entry.response_headers = list(message.get("headers", []))
                if hold:
                    held.append(message)
                    return
                message = self._with_warnings(ex, message)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                entry.response_size += len(chunk)
                if sum(map(len, chunks)) < cap:
                    chunks.append(chunk)
                if held and message.get("more_body", False):
                    # A streamed answer (none of the API's are): stop holding, send as is.
                    await send(self._with_warnings(ex, held.pop()))
                if not message.get("more_body", False):
                    joined = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                    entry.response_body = joined[:cap] if len(joined) > cap else joined
                    if held:
                        await self._release(ex, held.pop(), chunk, message, send)
                        return
            await send(message)

        return capture

    def _with_warnings(self, ex: Exchange, start: Message) -> Message:
        if ex.level != "warn" or not ex.warnings:
            return start
        value = "; ".join(w.header for w in ex.warnings)[:MAX_WARNINGS_HEADER].encode()
        return {**start, "headers": [*start.get("headers", []), (WARNINGS_HEADER, value)]}

    async def _release(
        self, ex: Exchange, start: Message, body: bytes, last: Message, send: Send
    ) -> None:
        self._after(ex, body)
        late = [w for w in ex.warnings if w.code == "unknown_field"]
        if ex.level == "strict" and late and ex.entry.method == "GET":
            response = _strict_error(late)
            ex.entry.status = response.status_code
            ex.entry.response_body = bytes(response.body)
            ex.entry.response_size = len(response.body)
            await response(ex.scope, _no_receive, send)
            return
        await send(self._with_warnings(ex, start))
        await send(last)

    async def _answer(self, ex: Exchange, response: Response, receive: Receive, send: Send) -> None:
        await response(ex.scope, receive, self._capture(ex, send))

    async def _mangled(
        self, ex: Exchange, rule: faults_mod.Rule, receive: Receive, send: Send
    ) -> None:
        """Serve the real answer, then cut it short (truncate) or break its JSON (malformed)."""
        messages: list[Message] = []

        async def hold(message: Message) -> None:
            messages.append(message)

        await self.app(ex.scope, receive, self._capture(ex, hold))
        start = next(m for m in messages if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        if rule.kind == "malformed":
            broken = body[: max(1, len(body) // 2)] if body else b"{"
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(broken)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": broken})
            return
        await send(start)
        share = float(rule.effect.get("fraction", 0.5))
        await send(
            {
                "type": "http.response.body",
                "body": body[: int(len(body) * share)],
                "more_body": True,
            }
        )
        await drop_connection(receive)

    def _after(self, ex: Exchange, body: bytes) -> None:
        """Checks that need the answer: ``_fields`` names no returned object carries."""
        if ex.level == "off" or ex.op is None or ex.entry.status != 200:
            return
        ex.warnings = strict.reclassify(ex.warnings, body)
        requested = ex.params.get("_fields")
        if requested:
            ex.warnings += strict.unknown_fields(requested, body, ex.op.fields)

    def _record(self, emu: Emulator, ex: Exchange) -> None:
        principal = ex.principal or ex.scope.get("crmapi.principal")
        if principal is None:
            return  # no organization to file it under (401s)
        org = principal.organization_id
        entry = ex.entry
        entry.api_key_id = principal.api_key_id
        # On the request path: the org clock must answer from memory (Emulator I's does).
        entry.org_time = org_now(scope_db(ex.scope), org).isoformat()
        entry.warnings = [w.header for w in ex.warnings]
        if ex.warnings:
            agent = _header(ex.scope, b"user-agent") or "(none)"
            emu.strict.record(org, agent, ex.warnings, f"{entry.method} {entry.path}", _now_text())
        if emu.journal.enabled:
            emu.journal.add(org, entry)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def scope_db(scope: Scope) -> Any:
    return scope["app"].state.db


def _now_text() -> str:

    return dates.now()


def _skip(params: Mapping[str, str]) -> int | None:
    raw = params.get("_skip")
    if raw is None:
        return 0 if "_limit" in params else None
    return int(raw) if raw.strip().isdigit() else None


def _listing(path: str, params: Mapping[str, str]) -> str:
    rest = sorted((k, v) for k, v in params.items() if k not in ("_skip", "_limit"))
    return path + "?" + urlencode(rest)


def _injected(rule: faults_mod.Rule, ex: Exchange) -> APIError:
    e = rule.effect
    if rule.kind == "rate_limit":
        return RateLimited(
            limit=int(e.get("limit", 100)),
            reset=float(e.get("reset", 1)),
            group=ex.entry.group,
            limit_type=str(e.get("limit_type", "key")),
            window=int(e.get("window", 1)),
        )
    status = int(e["status"])
    if status == 400:
        return InvalidRequest(
            list(e.get("errors", [e.get("message", "Invalid request.")])),
            dict(e.get("field_errors", {})),
        )
    if status == 429:
        return RateLimited(limit=100, reset=1.0, group=ex.entry.group, limit_type="key", window=1)
    default = "Service unavailable." if status >= 500 else "Injected error."
    return InjectedError(status, str(e.get("message", default)))


def _strict_error(warnings: list[strict.Ignored]) -> Response:
    return render_error(
        InvalidRequest([w.message for w in warnings], {w.name: w.message for w in warnings})
    )


# Unrouted requests.


async def unrouted(scope: Scope, receive: Receive, send: Send) -> None:
    """The router's 404, journaled (for a known caller) with the route it probably meant."""

    app = scope.get("app")
    emu: Emulator | None = getattr(app.state, "emulator", None) if app else None
    path = scope.get("path", "")
    if (
        scope["type"] == "http"
        and emu is not None
        and emu.journal.enabled
        and not path.startswith("/_crmapi/")
    ):
        principal = await caller(app, scope)  # type: ignore[arg-type]
        if principal is not None:
            raw_path = scope.get("crmapi.raw_path", path)
            entry = Entry(
                method=scope["method"],
                path=path,
                query=scope["query_string"],
                headers=scope["headers"],
                started=time.time(),
                status=404,
                raw_path=raw_path,
                api_key_id=principal.api_key_id,
                unrouted=True,
            )
            body = orjson.dumps(NOT_FOUND)
            entry.response_body = body
            entry.response_size = len(body)
            emu.journal.add(principal.organization_id, entry)
    await json_response(NOT_FOUND, 404)(scope, receive, send)
