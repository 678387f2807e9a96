"""The plane's organization-scoped operations, called in-process as one organization.

The inspector's pages are clients of ``/_crmapi/orgs/{org}/...``: they name an operation by
its path below ``/orgs/{org}`` and this fills ``{org}`` with the caller's own organization,
always, so a page can neither name nor reach another one. The handlers are the plane's own
(same validation, same errors); only the HTTP transport is skipped.
"""

import functools
import re
from typing import Any

import anyio
import anyio.from_thread
from starlette.requests import Request
from starlette.routing import compile_path

from crmapi.domain.context import Principal
from crmapi.domain.errors import MethodNotAllowed, NotFound
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.emulator.registry import plane_ops

ORG_PREFIX = "/orgs/{org}"


@functools.cache
def _routes() -> tuple[tuple[re.Pattern[str], dict[str, PlaneOp]], ...]:
    by_path: dict[str, dict[str, PlaneOp]] = {}
    for op in plane_ops():
        # Async operations (the server-sent tail) need a connection of their own; deleting
        # the organization itself is not something a page offers.
        below = op.path[len(ORG_PREFIX) :]
        if op.scope == "org" and op.path.startswith(ORG_PREFIX + "/") and not op.is_async:
            by_path.setdefault(below, {})[op.method] = op
    return tuple((compile_path(path)[0], ops) for path, ops in by_path.items())


def _resolve(method: str, path: str) -> tuple[PlaneOp, dict[str, str]]:
    for pattern, ops in _routes():
        match = pattern.match(path)
        if match:
            op = ops.get(method)
            if op is None:
                raise MethodNotAllowed(f"{method} {path}")
            return op, match.groupdict()
    raise NotFound("The requested URL was not found on the server.")


def call(
    request: Request,
    principal: Principal,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
) -> Any:
    """Run the operation ``method path`` (below ``/orgs/{org}``) for ``principal``'s
    organization; its plain result, or the Response it built (a HAR file)."""
    op, path_params = _resolve(method, path)
    state = request.app.state
    ctx = PlaneCtx(
        request=request,
        db=state.db,
        settings=state.settings,
        path_params={**path_params, "org": principal.organization_id},
        params=params,
        body=body if body is not None else {},
        principal=principal,
    )
    if op.blocking:
        return op.handler(ctx)
    # Memory-only handlers (journal, faults, sinks) run on the event loop over HTTP; so here,
    # where the request thread can reach the loop.
    try:
        return anyio.from_thread.run_sync(op.handler, ctx)
    except anyio.NoEventLoopError:  # called outside a request (a script, a test helper)
        return op.handler(ctx)
