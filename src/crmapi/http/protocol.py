"""uvicorn's httptools protocol with the edges a public server needs.

- Header bytes (request line included) and header count are bounded while they are parsed:
  past either, 431 and the connection is closed (uvicorn's httptools protocol has no limit).
- A client must finish its headers within ``header_timeout_seconds`` of starting a request,
  and may not pause longer than ``body_timeout_seconds`` between body chunks: slow clients
  get 408 and are cut off. Idle keep-alive connections close after
  ``keepalive_timeout_seconds`` (uvicorn's own keep-alive timer).
- At most ``max_connections`` connections per process: the next one is answered 503 with
  ``Retry-After`` and Close's error body, then closed.

Every answer here is a JSON body in Close's shape, sent before the application sees anything.
"""

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from crmapi.settings import Settings
from crmapi.util.jsonutil import dumps

# Lines about connections go where uvicorn logs its own (shown at the default level).
server_log = logging.getLogger("uvicorn.error")

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()


def raw_response(status: int, body: object, retry_after: int | None = None) -> bytes:
    payload = dumps(body)
    head = [
        b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
        b"content-type: application/json",
        b"content-length: %d" % len(payload),
        b"connection: close",
    ]
    if retry_after is not None:
        head.append(b"retry-after: %d" % retry_after)
    return b"\r\n".join(head) + b"\r\n\r\n" + payload


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers
        self.header_timeout = settings.header_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self.max_connections = settings.max_connections
        self._header_bytes = 0
        self._header_count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if self.max_connections > 0 and len(self.connections) >= self.max_connections:
            self._refused = True
            self.transport = transport
            server_log.warning("connection refused: %d open", len(self.connections))
            body = {"error": {"message": "Too many connections; try again shortly."}}
            transport.write(raw_response(503, body, retry_after=1))
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.header_timeout)  # the first request's headers

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._refused and self.flow is None:
            return  # refused at connection_made: uvicorn never saw it
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # the rest of a refused request is not even parsed
            super().data_received(data)

    # Timers

    def _arm(self, seconds: float) -> None:
        self._disarm()
        if seconds > 0:
            self._timer = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # answering already; nothing clean left to say
            return
        if self.flow is not None and self.flow.read_paused:
            self._arm(self.body_timeout)  # we stopped reading (flow control): not its fault
            return
        self._refuse(408, "The client was too slow sending its request.")

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            # The application sees a disconnect; whatever it answers is dropped.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        server_log.info("refused %d: %s", status, message)
        self.transport.write(raw_response(status, {"error": message}))
        self.transport.close()

    # Parser callbacks

    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._header_bytes = 0
        self._header_count = 0
        self._arm(self.header_timeout)

    # Past a refusal the parser still runs to the end of the chunk in hand (the transport
    # reads no more); these callbacks then keep nothing and start nothing.

    def on_url(self, url: bytes) -> None:
        if self._within(len(url), 0):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within(len(name) + len(value) + 4, 1):
            super().on_header(name, value)

    def _within(self, size: int, headers: int) -> bool:
        if self._refused:
            return False
        self._header_bytes += size
        self._header_count += headers
        if self._header_bytes > self.max_header_bytes or self._header_count > self.max_headers:
            self._refuse(
                431,
                f"Request headers are too large (max {self.max_headers} headers, "
                f"{self.max_header_bytes} bytes).",
            )
            return False
        return True

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        super().on_headers_complete()
        self._arm(self.body_timeout)  # until the body's first (or next) chunk

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._arm(self.body_timeout)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_message_complete()
