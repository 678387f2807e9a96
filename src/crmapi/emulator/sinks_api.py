"""Sinks through the plane: create, list, read what arrived, make fail, delete; and the
public receiving URL ``/_crmapi/sinks/{org}/{name}/`` webhooks are pointed at."""

from typing import Any

from starlette.responses import Response

from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.emulator.sinks import MAX_SINKS_PER_ORG, NAME, Sink
from crmapi.emulator.state import of
from crmapi.http.errors import json_response


def _url(ctx: PlaneCtx, org: str, name: str) -> str:
    return f"{ctx.request.url.scheme}://{ctx.request.url.netloc}/_crmapi/sinks/{org}/{name}/"


def _sink(ctx: PlaneCtx) -> Sink:
    sink = of(ctx.request.app).sinks.of(ctx.org).get(ctx.path_params["name"])
    if sink is None:
        raise NotFound("Sink does not exist.")
    return sink


def create(ctx: PlaneCtx) -> dict[str, Any]:
    name = ctx.body.get("name") if isinstance(ctx.body, dict) else None
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidRequest(field_errors={"name": "1-64 letters, digits, '.', '_' or '-'."})
    sinks = of(ctx.request.app).sinks.of(ctx.org)
    if name not in sinks and len(sinks) >= MAX_SINKS_PER_ORG:
        raise InvalidRequest([f"At most {MAX_SINKS_PER_ORG} sinks per organization."])
    sink = sinks.setdefault(name, Sink(name))
    return sink.render(_url(ctx, ctx.org, name))


def list_sinks(ctx: PlaneCtx) -> dict[str, Any]:
    sinks = of(ctx.request.app).sinks.of(ctx.org)
    return {"data": [s.render(_url(ctx, ctx.org, n)) for n, s in sorted(sinks.items())]}


def get_sink(ctx: PlaneCtx) -> dict[str, Any]:
    return _sink(ctx).render(_url(ctx, ctx.org, ctx.path_params["name"]), full=True)


def behaviour(ctx: PlaneCtx) -> dict[str, Any]:
    """``{"status": 500, "next": 3}``: answer the next 3 deliveries with a 500."""
    sink = _sink(ctx)
    body = ctx.body if isinstance(ctx.body, dict) else {}
    status, count = body.get("status", 500), body.get("next", 1)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise InvalidRequest(field_errors={"status": "An HTTP error status (400-599)."})
    if not isinstance(count, int) or count < 0:
        raise InvalidRequest(field_errors={"next": "A whole number."})
    sink.fail_status, sink.fail_next = status, count
    return sink.render(_url(ctx, ctx.org, sink.name))


def delete(ctx: PlaneCtx) -> dict[str, Any]:
    _sink(ctx)
    del of(ctx.request.app).sinks.of(ctx.org)[ctx.path_params["name"]]
    return {}


def clear(ctx: PlaneCtx) -> dict[str, Any]:
    sink = _sink(ctx)
    sink.received.clear()
    return {}


async def receive(ctx: PlaneCtx) -> Response:
    org, name = ctx.path_params["org"], ctx.path_params["name"]
    sink = of(ctx.request.app).sinks.orgs.get(org, {}).get(name)
    if sink is None:
        return json_response({"error": "Sink does not exist."}, 404)
    raw = await ctx.request.body()
    headers = {k.lower(): v for k, v in ctx.request.headers.items()}
    status = of(ctx.request.app).sinks.receive(sink, headers, raw)
    return json_response({"received": status < 400}, status)


def _op(method: str, path: str, handler: Any, summary: str) -> PlaneOp:
    return PlaneOp(
        method, "/orgs/{org}/sinks" + path, handler, "org", summary, blocking=False, tags=("sinks",)
    )


OPS = [
    _op("POST", "", create, "Create a sink (idempotent)"),
    _op("GET", "", list_sinks, "The organization's sinks"),
    _op("GET", "/{name}", get_sink, "What arrived"),
    _op("DELETE", "/{name}", delete, "Remove the sink"),
    _op("PUT", "/{name}/behaviour", behaviour, "Fail the next N deliveries"),
    _op("DELETE", "/{name}/received", clear, "Forget what arrived"),
    PlaneOp(
        "POST",
        "/sinks/{org}/{name}",
        receive,
        "public",
        "A sink's receiving URL",
        is_async=True,
        tags=("sinks",),
    ),
]
