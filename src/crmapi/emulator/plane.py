"""Declarations of the plane's operations, their access scopes, and the Starlette routes.

Every operation is a ``PlaneOp``: a handler taking a ``PlaneCtx`` and returning plain data
(or a Response), its scope, and OpenAPI metadata. Modules of the plane export ``OPS`` lists;
``crmapi.emulator.registry`` collects them, so a new endpoint is one declaration.
"""

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmapi.domain.context import Principal
from crmapi.domain.errors import APIError, InvalidRequest, NotFound, Unauthorized
from crmapi.http.auth import credential
from crmapi.http.errors import json_response
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database

PLANE_PREFIX = "/_crmapi"

Scope = Literal["org", "admin", "public"]


class Forbidden(APIError):
    status = 403


@dataclass
class PlaneCtx:
    """What a plane handler sees. ``principal`` is set for org-scoped operations."""

    request: Request
    db: Database
    settings: Settings
    path_params: dict[str, str]
    params: dict[str, str]
    body: Any
    principal: Principal | None = None
    admin: bool = False

    @property
    def org(self) -> str:
        """The organization an org-scoped operation acts on (already authorised)."""
        return self.path_params["org"]


PlaneHandler = Callable[[PlaneCtx], Any]


@dataclass(frozen=True)
class PlaneOp:
    method: str
    path: str  # relative to /_crmapi, e.g. "/orgs/{org}/clock"
    handler: PlaneHandler
    scope: Scope
    summary: str
    status: int = 200
    # JSON Schema of the request body and of the response, for the plane's OpenAPI document.
    body_schema: Mapping[str, Any] | None = None
    response_schema: Mapping[str, Any] | None = None
    # Handlers that only touch memory (journal, sinks) run on the loop; the rest in threads.
    blocking: bool = True
    # Async handlers (server-sent events, long polls) are awaited on the loop as they are.
    is_async: bool = False
    tags: Sequence[str] = field(default_factory=tuple)


def admin_token_ok(request: Request, settings: Settings) -> bool:
    """The admin token in ``Authorization: Bearer`` or ``X-Crmapi-Admin-Token``."""
    expected = settings.admin_token
    if not expected:
        return False
    presented = request.headers.get("x-crmapi-admin-token", "")
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        presented = presented or auth[7:].strip()
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


def _authorise(
    request: Request, op: PlaneOp, path_params: dict[str, str]
) -> tuple[Principal | None, bool]:
    state = request.app.state
    settings: Settings = state.settings
    if op.scope == "public":
        return None, False
    admin = admin_token_ok(request, settings)
    if op.scope == "admin":
        if admin:
            return None, True
        if not settings.admin_token:
            raise Forbidden("Global emulator operations need CRMAPI_ADMIN_TOKEN to be set.")
        raise Unauthorized("A valid admin token is required (CRMAPI_ADMIN_TOKEN).")
    org = path_params.get("org", "")
    if admin:
        if not _org_exists(state.db, org):
            raise NotFound("Organization does not exist.")
        return None, True
    principal: Principal = state.auth.authenticate(
        credential(request.headers.get("authorization")), state.db.read
    )
    if principal.organization_id != org:
        # Another organization's key learns nothing: not even whether ``org`` exists.
        raise NotFound("Organization does not exist.")
    return principal, False


def _org_exists(db: Database, org: str) -> bool:
    with db.read() as conn:
        found = conn.execute(select(t.organization.c.id).where(t.organization.c.id == org))
        return found.first() is not None


async def _read_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(["The request body is not valid JSON."]) from None


def endpoint(ops: Mapping[str, PlaneOp]) -> Callable[[Request], Any]:
    allowed = ", ".join(sorted(ops))

    async def handle(request: Request) -> Response:
        op = ops.get(request.method if request.method != "HEAD" else "GET")
        if op is None:
            return json_response(
                {
                    "error": f"The method {request.method} is not allowed for this URL "
                    f"(allowed: {allowed})."
                },
                405,
                {"Allow": allowed},
            )
        path_params = {k: str(v) for k, v in request.path_params.items()}
        body = await _read_body(request) if request.method in ("POST", "PUT", "PATCH") else {}
        state = request.app.state

        def context() -> PlaneCtx:
            # Org-scoped credentials are looked up in the database: off the loop when blocking.
            principal, admin = _authorise(request, op, path_params)
            return PlaneCtx(
                request=request,
                db=state.db,
                settings=state.settings,
                path_params=path_params,
                params=dict(request.query_params),
                body=body,
                principal=principal,
                admin=admin,
            )

        def run() -> Any:
            return op.handler(context())

        if op.is_async:
            result = await op.handler(await run_in_threadpool(context))
        elif op.blocking:
            result = await run_in_threadpool(run)
        else:
            result = run()
        if isinstance(result, Response):
            return result
        if op.status == 204:
            return Response(status_code=204)
        return json_response(result, op.status)

    return handle


def routes(ops: Sequence[PlaneOp]) -> list[Route]:
    by_path: dict[str, dict[str, PlaneOp]] = {}
    for op in ops:
        by_path.setdefault(op.path, {})[op.method] = op
    # CloseConventions gives every path its trailing slash (and collapses ``//``) first.
    return [
        Route(PLANE_PREFIX + path.rstrip("/") + "/", endpoint(verbs), methods=_ANY_METHOD)
        for path, verbs in by_path.items()
    ]


# Every verb reaches the endpoint, which answers 405 in Close's shape for the undeclared ones.
_ANY_METHOD = ["DELETE", "GET", "PATCH", "POST", "PUT"]
