"""Shared by the Emulator II tests: a plane client for one organization, and a live server."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.testclient import TestClient

from tests.conftest import Api


class Plane:
    """``/_crmapi/orgs/{org}/...`` with the organization's own key."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.client: TestClient = api.client
        self.prefix = f"/_crmapi/orgs/{api.org_id}"

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        kw.setdefault("auth", (self.api.key, ""))
        if body is not None:
            kw["json"] = body
        return self.client.request(method, self.prefix + path, **kw)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        response = self.request(method, path, body, **kw)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def journal(self, **params: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.ok("GET", "/journal", params=params)["data"]
        return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free local port (deliveries need a real receiver)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
