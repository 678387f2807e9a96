"""Turns a plain ``handler(ctx) -> data`` into a Starlette endpoint.

Reading the body, the method-override ``_params``, auth, and encoding all happen here once,
so handlers only deal with validated inputs and return plain data.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmapi.domain.errors import (
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from crmapi.http.context import Ctx
from crmapi.http.errors import json_response
from crmapi.util import dates
from crmapi.util.ids import _ALPHABET

# Request ids need to be unique, not secret: one urandom call instead of 22 secrets.choice()
# calls (a measurable share of a feed request; see docs/performance.md).
_B62 = bytes(_ALPHABET.encode()[b % 62] for b in range(256))


def request_id() -> str:
    return "req_" + os.urandom(22).translate(_B62).decode("ascii")


Handler = Callable[[Ctx], Any]
MAX_PARAM_LENGTH = 64 * 1024


@dataclass(frozen=True)
class Op:
    """One verb of one path: the handler and the status it answers with."""

    handler: Handler
    status: int = 200
    group: str = ""  # rate-limit endpoint group


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_param_text(v) for v in value)
    if value is None:
        return ""
    return str(value)


def _params(request: Request, body: Mapping[str, Any] | None, method: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if len(value) > MAX_PARAM_LENGTH:
            raise InvalidRequest(field_errors={key[:100]: "Parameter value is too long."})
        params.setdefault(key, value)
    if method == "GET" and body:
        # x-http-method-override: GET sends {"_params": {...}}; the closeio README style sends
        # the params themselves as a JSON body on a GET.
        nested = body.get("_params")
        source: Mapping[str, Any] = nested if isinstance(nested, dict) else body
        for key, value in source.items():
            params[str(key)] = _param_text(value)
    return params


async def _body(request: Request, limit: int) -> dict[str, Any] | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if content_type and not is_json and request.method != "GET":
        raise UnsupportedMediaType(
            f"Unsupported content type {content_type!r}; send application/json."
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest([f"The request body is not valid JSON: {exc}"]) from None
    if not isinstance(body, dict):
        raise InvalidRequest(["The request body must be a JSON object."])
    return body


def dispatcher(ops: Mapping[str, Op]) -> Callable[[Request], Any]:
    """One Starlette endpoint for a path: picks the verb's handler or answers 405."""
    allowed = ", ".join(sorted(ops))

    async def endpoint(request: Request) -> Response:
        method = request.method if request.method != "HEAD" else "GET"
        op = ops.get(method)
        if op is None:
            raise MethodNotAllowed(
                f"The method {request.method} is not allowed for this URL (allowed: {allowed})."
            )
        state = request.app.state
        body = await _body(request, state.settings.max_body_bytes)
        params = _params(request, body, method)
        # SQLite reads are short, in-process and never wait on a lock (WAL): running them on
        # the event loop saves the two thread hand-offs per request, a sixth of a feed page's
        # CPU. Writes (BEGIN IMMEDIATE may wait) and PostgreSQL (network) use the threadpool.
        inline = method == "GET" and state.db.dialect == "sqlite"
        path = request.scope["path"]  # request.url would parse and rebuild the whole URL
        header = request.headers.get("authorization")
        tz = dates.parse_tz_offset(request.headers.get("x-tz-offset"))

        def run() -> tuple[Any, dict[str, str]]:
            principal = state.auth.authenticate(header, state.db.read)
            headers = state.limiter.check(principal, op.group or path)
            ctx = Ctx(
                principal=principal,
                db=state.db,
                settings=state.settings,
                method=method,
                path=path,
                params=params,
                body=body or {},
                path_params=dict(request.path_params),
                tz=tz,
                request_id=request_id(),
            )
            return op.handler(ctx), headers

        if inline:
            result, headers = run()
        else:
            result, headers = await run_in_threadpool(run)
        if isinstance(result, Response):
            result.headers.update(headers)
            return result
        return json_response(result, op.status, headers)

    return endpoint
