"""The emulator plane as the signed-in key sees it: ``/_crmapi/orgs/{org}/...`` of its own
organization only, called in-process (the app hands the caller over as ``app.state.plane_call``
because the inspector and the emulator do not import each other)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from crmapi.domain.context import Principal
from crmapi.domain.errors import NotFound

# (request, principal, method, path below /orgs/{org}, query, body) -> the operation's result
PlaneCall = Callable[[Request, Principal, str, str, dict[str, str], Any], Any]
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def segment(value: str | None) -> str:
    """A form value that becomes one path segment (an id, a name): never a ``/`` that would
    reach another operation; anything else is simply not found."""
    if not value or not _SEGMENT.match(value):
        raise NotFound("Object does not exist.")
    return value


@dataclass(frozen=True)
class Plane:
    request: Request
    principal: Principal

    def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """``path`` is below ``/_crmapi/orgs/{org}``, e.g. ``/clock/advance``."""
        transport: PlaneCall = self.request.app.state.plane_call
        query = {k: str(v) for k, v in (params or {}).items() if v not in (None, "")}
        return transport(self.request, self.principal, method, path, query, body)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params)
