"""The journal's plane operations: list, find, count, verify, unrouted, live tail, HAR, clear."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator import journal as j
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.emulator.state import of
from crmapi.http.errors import json_response

HEARTBEAT_SECONDS = 15.0


def _journal(ctx: PlaneCtx) -> j.Journal:
    return of(ctx.request.app).journal


def _int(ctx: PlaneCtx, name: str, default: int, maximum: int = 10_000) -> int:
    raw = ctx.params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit():
        raise InvalidRequest(field_errors={name: "A whole number."})
    return min(int(raw), maximum)


def _criteria_from_params(ctx: PlaneCtx) -> dict[str, Any]:
    crit: dict[str, Any] = {}
    for key in ("method", "operation", "group", "path"):
        if ctx.params.get(key):
            crit[key] = ctx.params[key]
    if ctx.params.get("status"):
        crit["status"] = _int(ctx, "status", 0, 999)
    if ctx.params.get("warnings") in ("1", "true"):
        crit["warnings"] = True
    return crit


def _views(
    ctx: PlaneCtx, crit: dict[str, Any], limit: int, bodies: bool = True
) -> list[dict[str, Any]]:
    # Bodies are parsed only for criteria that look into them, or for what is returned.
    deep = "body" in crit or "response_body" in crit
    out = []
    for entry in _journal(ctx).newest_first(ctx.org):
        view = j.render(entry, bodies=deep)
        if not j.failures(crit, view):
            out.append(j.render(entry) if bodies and not deep else view)
            if len(out) >= limit:
                break
    return out


def list_entries(ctx: PlaneCtx) -> dict[str, Any]:
    """Newest first; ``since`` (an entry id) keeps only later entries."""
    crit = _criteria_from_params(ctx)
    views = _views(ctx, crit, _int(ctx, "limit", 100))
    since = ctx.params.get("since")
    if since:
        views = [v for v in views if _seq(v["id"]) > _seq(since)]
    return {"data": views, "stats": _journal(ctx).stats(ctx.org)}


def _seq(entry_id: str) -> int:
    tail = entry_id.rpartition("_")[2]
    return int(tail) if tail.isdigit() else 0


def get_entry(ctx: PlaneCtx) -> dict[str, Any]:
    entry = _journal(ctx).get(ctx.org, ctx.path_params["id"])
    if entry is None:
        raise NotFound("Journal entry does not exist.")
    return j.render(entry)


def _body_criteria(ctx: PlaneCtx) -> dict[str, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    return j.check_criteria(body.get("criteria", {}))


def find(ctx: PlaneCtx) -> dict[str, Any]:
    limit = ctx.body.get("limit", 100) if isinstance(ctx.body, dict) else 100
    return {"data": _views(ctx, _body_criteria(ctx), int(limit))}


def count(ctx: PlaneCtx) -> dict[str, Any]:
    return {"count": len(_views(ctx, _body_criteria(ctx), 1 << 30, bodies=False))}


def verify(ctx: PlaneCtx) -> Response:
    """``200 {"ok": true}`` or ``409`` with the actual count and the nearest misses."""
    crit = _body_criteria(ctx)
    wanted = j.check_count(ctx.body.get("count") if isinstance(ctx.body, dict) else None)
    actual = len(_views(ctx, crit, 1 << 30, bodies=False))
    if j.count_ok(wanted, actual):
        return json_response({"ok": True, "actual": actual})
    views = [j.render(e) for e in _journal(ctx).newest_first(ctx.org)]
    return json_response(
        {
            "ok": False,
            "expected": wanted,
            "actual": actual,
            "criteria": crit,
            "near_misses": j.near_misses(crit, views),
        },
        409,
    )


def unrouted(ctx: PlaneCtx) -> dict[str, Any]:
    views = [j.render(e, bodies=False) for e in _journal(ctx).newest_first(ctx.org) if e.unrouted]
    return {"data": views}


def clear(ctx: PlaneCtx) -> dict[str, Any]:
    return {"cleared": _journal(ctx).clear(ctx.org)}


def export_har(ctx: PlaneCtx) -> Response:
    base = f"{ctx.request.url.scheme}://{ctx.request.url.netloc}"
    doc = j.har(_journal(ctx).entries(ctx.org), base)
    return Response(
        orjson.dumps(doc),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{ctx.org}.har"'},
    )


async def stream(ctx: PlaneCtx) -> Response:
    """Server-sent events: the entries after ``since`` (``0``: all kept), then live ones.

    ``max`` ends the stream after that many entries, ``timeout`` after that many idle seconds
    (scripts and tests; a browser tail leaves both out)."""
    journal = _journal(ctx)
    org = ctx.org
    since = ctx.params.get("since")
    limit = _int(ctx, "max", 0, 1 << 30)
    idle = float(ctx.params.get("timeout") or 0) or None
    queue = journal.subscribe(org)
    backlog = (
        [e for e in journal.entries(org) if _seq(e.id) > _seq(since)] if since is not None else []
    )

    async def events() -> AsyncIterator[bytes]:
        sent = 0
        try:
            yield b": crmapi journal tail\n\n"
            pending = list(backlog)
            while limit == 0 or sent < limit:
                if pending:
                    entry = pending.pop(0)
                else:
                    try:
                        entry = await asyncio.wait_for(queue.get(), idle or HEARTBEAT_SECONDS)
                    except TimeoutError:
                        if idle:
                            return
                        yield b": heartbeat\n\n"
                        continue
                    if backlog and _seq(entry.id) <= _seq(backlog[-1].id):
                        continue
                data = orjson.dumps(j.render(entry, bodies=False))
                yield b"id: " + entry.id.encode() + b"\nevent: request\ndata: " + data + b"\n\n"
                sent += 1
        finally:
            journal.unsubscribe(org, queue)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def _op(method: str, path: str, handler: Any, summary: str, **kw: Any) -> PlaneOp:
    return PlaneOp(
        method,
        "/orgs/{org}/journal" + path,
        handler,
        "org",
        summary,
        blocking=False,
        tags=("journal",),
        **kw,
    )


_CRITERIA_BODY = {
    "type": "object",
    "properties": {
        "criteria": {
            "type": "object",
            "description": "method, path (glob), operation, group, "
            "status, query, body, response_body, warnings, fault, unrouted",
        },
        "count": {"description": 'A number, or {"eq"|"gte"|"lte"|"gt"|"lt": n}'},
        "limit": {"type": "integer"},
    },
}

OPS = [
    _op("GET", "", list_entries, "Entries, newest first"),
    _op("DELETE", "", clear, "Clear the journal"),
    _op("POST", "/find", find, "Entries matching criteria", body_schema=_CRITERIA_BODY),
    _op("POST", "/count", count, "How many entries match", body_schema=_CRITERIA_BODY),
    _op(
        "POST",
        "/verify",
        verify,
        "Assert a count (409 with near misses)",
        body_schema=_CRITERIA_BODY,
    ),
    _op("GET", "/unrouted", unrouted, "Requests no route matched, with a suggestion"),
    _op("GET", "/stream", stream, "Live tail (server-sent events)", is_async=True),
    _op("GET", "/{id}", get_entry, "One entry"),
    PlaneOp(
        "GET",
        "/orgs/{org}/journal.har",
        export_har,
        "org",
        "HAR 1.2 export",
        blocking=False,
        tags=("journal",),
    ),
]
