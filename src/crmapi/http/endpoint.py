"""Turns a plain ``handler(ctx) -> data`` into a Starlette endpoint.

Reading the body, the method-override ``_params``, auth, and encoding all happen here once,
so handlers only deal with validated inputs and return plain data.
"""

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from crmapi.domain import clock
from crmapi.domain.context import Reply
from crmapi.domain.errors import (
    APIError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from crmapi.domain.fields import FieldSet
from crmapi.http.auth import Credential, client_address, credential
from crmapi.http.context import Ctx
from crmapi.http.errors import client_gone, json_response, render_error
from crmapi.query.model import ListSpec, ParamSpec
from crmapi.storage import db
from crmapi.util import dates
from crmapi.util.ids import _ALPHABET

# Request ids need to be unique, not secret: one urandom call instead of 22 secrets.choice()
# calls (a measurable share of a feed request; see docs/performance.md).
_B62 = bytes(_ALPHABET.encode()[b % 62] for b in range(256))


def request_id() -> str:
    return "req_" + os.urandom(22).translate(_B62).decode("ascii")


log = logging.getLogger("crmapi")
Handler = Callable[[Ctx], Any]
MAX_PARAM_LENGTH = 60 * 1024
MAX_PARAM_NAME = 200
MAX_PARAMS = 1000
# A request that ran in the threadpool is expensive past this many loop budgets of its own
# time there (waiting for a thread under load is not its cost, and does not count), and
# well past what requests take at the moment (``fairness.Costs.costly``).
THREAD_COST_FACTOR = 5


@dataclass(frozen=True)
class Op:
    """One verb of one path: the handler and the status it answers with.

    The optional metadata describes the operation for ``/openapi.json`` (crmapi.openapi), so
    the document is generated from the same declarations that validate requests.
    """

    handler: Handler
    status: int = 200
    group: str = ""  # rate-limit endpoint group
    operation: str = ""  # e.g. create_activity_note; derived by routing when not declared
    summary: str = ""
    list_spec: ListSpec | None = None  # query parameters of a list
    params: Mapping[str, ParamSpec] = field(default_factory=dict)  # those of any other
    # The resource's declared fields: the request body (create fields on POST, update fields
    # on PUT) and the properties of the returned object.
    fields: FieldSet | None = None
    media_types: tuple[str, ...] = ()  # a file's content types (default: a JSON object)


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
        try:
            return await _serve(request, op, method)
        except ClientDisconnect:
            return client_gone(request)
        except db.DRIVER_ERRORS as error:
            raise _database_error(error, request.app.state.settings) from None

    return endpoint


def _database_error(error: Exception, settings: Any) -> Exception:
    """A statement stopped at its deadline, or a database that cannot answer: 503s that
    clients retry (Retry-After); anything else stays the 500 it is."""
    if db.interrupted(error):
        return RequestTimeout(settings.request_timeout_seconds)
    if db.unavailable(error):
        log.warning("database unavailable: %s", type(getattr(error, "orig", error)).__name__)
        return ServiceUnavailable("The database is unavailable; try again shortly.")
    return error


async def _serve(request: Request, op: Op, method: str) -> Response:
    state = request.app.state
    settings = state.settings
    started = time.monotonic()
    path = request.scope["path"]  # request.url would parse and rebuild the whole URL
    cred = credential(request.headers.get("authorization"))
    presented = "authorization" in request.headers
    tz = dates.parse_tz_offset(request.headers.get("x-tz-offset"))
    peer = request.client.host if request.client else ""
    address = client_address(peer, request.headers.getlist("x-forwarded-for"), state.proxies)
    carries_body = _declares_body(request)
    # Authenticate before a body is read: an anonymous client cannot make us buffer or parse
    # anything. Known credentials are checked in the same hop as the handler below.
    org = state.auth.organization_hint(cred)
    principal = None
    if org is None or carries_body:
        try:
            principal = await _authenticated(state, cred, presented, address)
        except APIError as exc:
            if not carries_body:
                raise
            refused = render_error(exc)
            refused.headers["connection"] = "close"  # the unread body is not worth reading
            return refused
        org = principal.organization_id
    body = await _body(request, settings.max_body_bytes) if carries_body else None
    params = _params(request, body, method)
    counted: dict[str, str] | None = None

    def run() -> tuple[Any, dict[str, str]]:
        if method != "GET":
            return handle()
        with state.db.pinned_read():
            return handle()

    def handle() -> tuple[Any, dict[str, str]]:
        nonlocal counted
        who = principal or _authenticate(state, cred, presented, address)
        request.scope["crmapi.principal"] = who  # who it was, for the emulator's journal
        if counted is None:  # a read re-run in a thread is one request, counted once
            counted = state.limiter.check(who, op.group or path)
        ctx = Ctx(
            principal=who,
            db=state.db,
            settings=settings,
            method=method,
            path=path,
            params=params,
            body=body or {},
            path_params=dict(request.path_params),
            tz=tz,
            request_id=request_id(),
        )
        # The organization's test clock (and id seed) for the whole request.
        with clock.applied(who.clock, who.organization_id):
            return op.handler(ctx), counted

    result, headers = await _execute(state, org, path, params, method, run, started)
    if isinstance(result, Response):
        result.headers.update(headers)
        return result
    if isinstance(result, Reply):
        return json_response(result.body, op.status, {**result.headers, **headers})
    if op.status == 204:
        return Response(status_code=204, headers=headers)
    return json_response(result, op.status, headers)


def _declares_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


async def _authenticated(state: Any, cred: Credential | None, presented: bool, address: str) -> Any:
    """Authenticate on its own: inline on SQLite (one indexed lookup), in a thread otherwise."""
    if state.db.dialect == "sqlite":
        with db.deadline(state.settings.loop_budget_ms / 1000):
            return _authenticate(state, cred, presented, address)
    return await run_in_threadpool(_authenticate, state, cred, presented, address)


def _authenticate(state: Any, cred: Credential | None, presented: bool, address: str) -> Any:
    refused = state.auth_failures.limited(address)
    if refused is not None and not state.auth.known(cred):
        raise refused
    try:
        return state.auth.authenticate(cred, state.db.read)
    except Unauthorized:
        if presented:  # only a presented credential is a guess worth counting
            state.auth_failures.failed(address)
        raise


async def _execute(
    state: Any,
    org: str,
    path: str,
    params: Mapping[str, str],
    method: str,
    run: Callable[[], tuple[Any, dict[str, str]]],
    started: float,
) -> tuple[Any, dict[str, str]]:
    """Run the handler without holding the event loop, and expensive requests within the
    organization's share (``http/fairness``).

    A SQLite read starts on the event loop (no thread hand-offs: most pages take a
    millisecond); one still running after ``loop_budget_ms`` is interrupted inside SQLite
    and run again in the threadpool. Everything else goes to the threadpool directly. A
    request past the budget on the loop, or past ``THREAD_COST_FACTOR`` budgets in its
    thread, marks its shape (organization, path, parameter names); a shape marked twice
    within seconds is expensive: straight to the threadpool, and through the organization's
    gate while another organization is being served.
    """
    settings = state.settings
    reads = method == "GET"
    deadline = settings.request_timeout_seconds
    if deadline and time.monotonic() - started > deadline:  # spent authenticating
        raise RequestTimeout(deadline)
    budget = settings.loop_budget_ms / 1000
    state.costs.seen(org)
    shape = path + "?" + ",".join(sorted(params))  # a paging client keeps its shape
    expensive = state.costs.expensive(org, shape)
    inline = reads and state.db.dialect == "sqlite" and budget > 0
    if inline and not expensive:
        began = time.monotonic()
        try:
            with db.deadline(budget):
                result = run()
        except db.DRIVER_ERRORS as error:
            if not db.interrupted(error):
                raise
        else:
            if time.monotonic() - began > budget:  # its own Python work held the loop
                state.costs.mark(org, shape)
            return result
        state.costs.mark(org, shape)
        expensive = True  # this one continues in a thread, through the gate

    def remaining() -> float:
        return max(0.001, deadline - (time.monotonic() - started)) if deadline else 0.0

    spent: list[float] = []  # seconds the handler ran in its thread (queueing excluded)
    try:
        if expensive and state.costs.others_active(org):
            async with state.gate.turn(org, remaining() or None):
                return await _with_deadline(run, remaining(), reads, spent)
        return await _with_deadline(run, remaining(), reads, spent)
    except RequestTimeout:
        spent.append(float("inf"))  # past its deadline: expensive by any measure
        raise
    finally:
        # A read that would have run on the event loop stays off it while it takes longer
        # than the loop's budget; other work is judged more leniently (see the factor).
        floor = budget if inline else budget * THREAD_COST_FACTOR
        if budget > 0 and spent and state.costs.costly(spent[0], floor):
            state.costs.mark(org, shape)  # (still) expensive: it stays off the event loop


async def _with_deadline(
    run: Callable[[], tuple[Any, dict[str, str]]],
    seconds: float,
    reads: bool,
    spent: list[float] | None = None,
) -> tuple[Any, dict[str, str]]:
    """Answer 503 when a request runs past its deadline (never 502/504: closeio sleeps 60 s+).

    Reads are also stopped inside the database at the deadline (SQLite's progress handler,
    PostgreSQL's statement_timeout), so they free their thread and connection. A write's
    thread is not interrupted; it finishes (and its transaction commits or rolls back as a
    unit) in the background, exactly like a request whose connection dropped.
    """

    def bounded() -> tuple[Any, dict[str, str]]:
        started = time.monotonic()
        try:
            with db.deadline(seconds if reads else 0):
                return run()
        finally:
            if spent is not None:
                spent.append(time.monotonic() - started)

    if seconds <= 0:
        return await run_in_threadpool(bounded)
    try:
        return await asyncio.wait_for(run_in_threadpool(bounded), timeout=seconds)
    except TimeoutError:
        raise RequestTimeout(seconds) from None
