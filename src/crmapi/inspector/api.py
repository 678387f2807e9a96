"""In-process calls of the ``/api/v1`` handlers: the inspector reads and writes exactly what a
client would, through the same validation, scoping and events (no second data path)."""

import functools
import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import compile_path

from crmapi.domain.context import Principal
from crmapi.domain.errors import MethodNotAllowed, NotFound
from crmapi.http.context import Ctx
from crmapi.http.endpoint import Op, request_id
from crmapi.http.routing import API_PREFIX, route_table
from crmapi.settings import Settings
from crmapi.storage.db import Database


@functools.cache
def _routes() -> tuple[tuple[re.Pattern[str], dict[str, Op]], ...]:
    return tuple((compile_path(path)[0], ops) for path, ops in route_table())


def _resolve(method: str, path: str) -> tuple[Op, dict[str, str]]:
    for pattern, ops in _routes():
        match = pattern.match(path)
        if match:
            op = ops.get(method)
            if op is None:
                raise MethodNotAllowed(f"{method} {path}")
            return op, match.groupdict()
    raise NotFound("The requested URL was not found on the server.")


@dataclass(frozen=True)
class Api:
    """The API as the signed-in key sees it (its organization, its user)."""

    principal: Principal
    db: Database
    settings: Settings

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """``path`` is relative to /api/v1 with its trailing slash, e.g. ``/lead/``."""
        op, path_params = _resolve(method, path)
        ctx = Ctx(
            principal=self.principal,
            db=self.db,
            settings=self.settings,
            method=method,
            path=API_PREFIX + path,
            params={k: str(v) for k, v in (params or {}).items() if v not in (None, "")},
            body=body or {},
            path_params=path_params,
            request_id=request_id(),
        )
        result = op.handler(ctx)
        if isinstance(result, Response):  # e.g. a 201 built by the handler itself
            return orjson.loads(bytes(result.body)) if result.body else None
        # Pages splice stored JSON text (orjson.Fragment); templates need plain values.
        return orjson.loads(orjson.dumps(result))

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)

    def every(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """All pages of a small ``_skip``-paged list (users, custom fields)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.get(path, **params, _skip=len(out), _limit=100)
            out += page["data"]
            if not page.get("has_more") or not page["data"]:
                return out
