"""Turns a plain ``handler(ctx) -> data`` into a Starlette endpoint.

Reading the body, the method-override ``_params``, auth, and encoding all happen here once,
so handlers only deal with validated inputs and return plain data.
"""

import asyncio
import os
import time
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
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
    UnsupportedMediaType,
)
from crmapi.domain.fields import FieldSet
from crmapi.http.context import Ctx
from crmapi.http.errors import json_response
from crmapi.query.model import ListSpec
from crmapi.util import dates
from crmapi.util.ids import _ALPHABET

# Request ids need to be unique, not secret: one urandom call instead of 22 secrets.choice()
# calls (a measurable share of a feed request; see docs/performance.md).
_B62 = bytes(_ALPHABET.encode()[b % 62] for b in range(256))


def request_id() -> str:
    return "req_" + os.urandom(22).translate(_B62).decode("ascii")


Handler = Callable[[Ctx], Any]
MAX_PARAM_LENGTH = 60 * 1024
MAX_PARAM_NAME = 200
MAX_PARAMS = 1000


@dataclass(frozen=True)
class Op:
    """One verb of one path: the handler and the status it answers with.

    The optional metadata describes the operation for ``/openapi.json`` (crmapi.openapi), so
    the document is generated from the same declarations that validate requests.
    """

    handler: Handler
    status: int = 200
    group: str = ""  # rate-limit endpoint group
    summary: str = ""
    list_spec: ListSpec | None = None  # query parameters of a list
    # The resource's declared fields: the request body (create fields on POST, update fields
    # on PUT) and the properties of the returned object.
    fields: FieldSet | None = None


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
        if params.setdefault(key, value) != value:
            # Silently using one of two different values would answer a question not asked.
            raise InvalidRequest(
                field_errors={key[:100]: "Parameter given more than once with different values."}
            )
    if method == "GET" and body:
        # x-http-method-override: GET sends {"_params": {...}}; the closeio README style sends
        # the params themselves as a JSON body on a GET.
        nested = body.get("_params")
        source: Mapping[str, Any] = nested if isinstance(nested, dict) else body
        for key, value in source.items():
            params[str(key)] = _param_text(value)
    _check_bounds(params)
    return params


def _check_bounds(params: Mapping[str, str]) -> None:
    if len(params) > MAX_PARAMS:
        raise InvalidRequest([f"Too many query parameters (max {MAX_PARAMS})."])
    for key, value in params.items():
        if len(key) > MAX_PARAM_NAME or len(value) > MAX_PARAM_LENGTH:
            raise InvalidRequest(field_errors={key[:100]: "Parameter value is too long."})


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
    if b"\\u0000" in raw and _has_nul(body):
        # PostgreSQL cannot store NUL in text or jsonb: refuse it everywhere, not field by field.
        raise InvalidRequest(["Null characters (\\u0000) are not allowed in the request body."])
    return body


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def dispatcher(ops: Mapping[str, Op]) -> Callable[[Request], Any]:
    """One Starlette endpoint for a path: picks the verb's handler or answers 405."""
    allowed = ", ".join(sorted(ops))

    async def endpoint(request: Request) -> Response:
        method = request.method if request.method != "HEAD" else "GET"
        op = ops.get(method)
        if op is None:
            raise MethodNotAllowed(
                f"The method {request.method} is not allowed for this URL (allowed: {allowed}).",
                allow=allowed,
            )
        if any("\x00" in value for value in request.path_params.values()):
            raise NotFound("The requested URL was not found on the server.")
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

        address = request.client.host if request.client else ""

        def run() -> tuple[Any, dict[str, str]]:
            principal = _authenticate(state, header, address)
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

        deadline = state.settings.request_timeout_seconds
        if inline:
            result, headers = _inline(run, deadline)
        else:
            result, headers = await _with_deadline(run, deadline)
        if isinstance(result, Response):
            result.headers.update(headers)
            return result
        if op.status == 204:
            return Response(status_code=204, headers=headers)
        return json_response(result, op.status, headers)

    return endpoint


def _authenticate(state: Any, header: str | None, address: str) -> Any:
    state.auth_failures.check(address)
    try:
        return state.auth.authenticate(header, state.db.read)
    except Unauthorized:
        if header:  # only a presented credential is a guess worth counting
            state.auth_failures.failed(address)
        raise


def _inline(
    run: Callable[[], tuple[Any, dict[str, str]]], seconds: float
) -> tuple[Any, dict[str, str]]:
    """An inline SQLite read cannot be interrupted on the event loop: it is answered with the
    same 503 when it finishes past its deadline (the threadpool path answers at the deadline)."""
    started = time.monotonic()
    result = run()
    if seconds > 0 and time.monotonic() - started > seconds:
        raise RequestTimeout(seconds)
    return result


async def _with_deadline(
    run: Callable[[], tuple[Any, dict[str, str]]], seconds: float
) -> tuple[Any, dict[str, str]]:
    """Answer 503 when a request runs past its deadline (never 502/504: closeio sleeps 60 s+).

    The worker thread cannot be interrupted; it finishes (and its transaction commits or rolls
    back as a unit) in the background, exactly like a request whose connection dropped.
    """
    if seconds <= 0:
        return await run_in_threadpool(run)
    try:
        return await asyncio.wait_for(run_in_threadpool(run), timeout=seconds)
    except TimeoutError:
        raise RequestTimeout(seconds) from None
