"""ASGI middleware for the URL conventions every Close client relies on."""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from crmapi.http.errors import json_response

_SLASHES = re.compile(r"/{2,}")
# No real path is near this (ids are < 100 characters); longer ones are refused unrouted.
MAX_PATH = 2048


class CloseConventions:
    """Collapse ``//``, make the trailing slash optional, honour ``x-http-method-override``.

    Airbyte asks for ``/api/v1//custom_field/lead/`` and ``/activity/note`` (no slash); some
    clients can only send GET and POST and override the verb with a header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if len(scope["path"]) > MAX_PATH:
                message = f"The URL path is too long (max {MAX_PATH} characters)."
                await json_response({"error": message}, 414)(scope, receive, send)
                return
            scope = dict(scope)
            scope["crmapi.raw_path"] = scope["path"]  # as sent, for the emulator's journal
            path = _SLASHES.sub("/", scope["path"])
            if not path.endswith("/"):
                path += "/"
            scope["path"] = path
            scope["raw_path"] = path.encode("utf-8", "surrogateescape")
            if scope["method"] == "POST":
                for name, value in scope["headers"]:
                    if name == b"x-http-method-override":
                        method = value.decode("latin-1").strip().upper()
                        if method in ("GET", "PUT", "DELETE", "PATCH"):
                            scope["method"] = method
                        break
        await self.app(scope, receive, send)
