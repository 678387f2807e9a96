"""Connection edges of a real ``crmapi serve``: limits on headers, slow and idle clients cut
off, a bounded number of connections, bodies never read before authentication, any
Authorization bytes answered 401 (never 500), client disconnects logged in one line.

Raw sockets, because clients libraries refuse to send most of what is tested here.
"""

import base64
import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import backend_of, record
from tests.reliability.server import Server, create_org

TIMEOUT = 1.0  # header, body and keep-alive timeouts of the server under test
MAX_CONNECTIONS = 24
MAX_HEADERS = 50
MAX_HEADER_BYTES = 16 * 1024
EDGE_ENV = {
    "CRMAPI_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
    "CRMAPI_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    "CRMAPI_KEEPALIVE_TIMEOUT_SECONDS": str(TIMEOUT),
    "CRMAPI_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "CRMAPI_MAX_HEADERS": str(MAX_HEADERS),
    "CRMAPI_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
}


@pytest.fixture
def served(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[Server, str, Path]]:
    org = create_org(fresh_database_url, "Edges", "edges@example.com")
    log = tmp_path / "server.log"
    with log.open("wb") as out, Server(fresh_database_url, out, **EDGE_ENV) as server:
        yield server, org["api_key"], log


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything until the server closes (or ``timeout``)."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def basic(key: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{key}:".encode())


def request(path: str = "/api/v1/me/", *headers: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + path.encode() + b" HTTP/1.1", b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def exchange(server: Server, data: bytes) -> bytes:
    """One request on its own connection (``Connection: close``), the whole answer."""
    with connect(server) as sock:
        sock.sendall(data[:-2] + b"Connection: close\r\n\r\n")
        return read_all(sock)


# Header limits ------------------------------------------------------------------------------

HEADER_CASES = [
    ("headers just under both limits", [b"X-%d: v" % i for i in range(MAX_HEADERS - 3)], 200),
    ("one header too many", [b"X-%d: v" % i for i in range(MAX_HEADERS + 1)], 431),
    ("one huge header", [b"X-Big: " + b"a" * MAX_HEADER_BYTES], 431),
    ("many medium headers", [b"X-%d: " % i + b"b" * 1000 for i in range(20)], 431),
    ("a huge URL", [], 431),
]


@pytest.mark.parametrize(
    ("name", "extra", "status"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES]
)
def test_it_bounds_header_size_and_count(
    served: tuple[Server, str, Path], name: str, extra: list[bytes], status: int
) -> None:
    server, key, _ = served
    path = (
        "/api/v1/me/?q=" + "x" * (MAX_HEADER_BYTES + 10) if name == "a huge URL" else "/api/v1/me/"
    )
    response = exchange(server, request(path, b"Authorization: " + basic(key), *extra))
    assert status_of(response) == status, response[:300]
    if status == 431:
        assert b"content-type: application/json" in response
        assert b'"error"' in response


# Slow and idle clients -------------------------------------------------------------------


def closed_after(sock: socket.socket) -> tuple[bytes, float]:
    started = time.monotonic()
    return read_all(sock, timeout=TIMEOUT * 8), time.monotonic() - started


def test_it_cuts_off_clients_that_send_headers_slowly(served: tuple[Server, str, Path]) -> None:
    server, key, _ = served
    with connect(server) as sock:
        sock.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: x\r\n")  # never finished
        response, waited = closed_after(sock)
    assert status_of(response) == 408
    assert b'"error"' in response
    assert waited < TIMEOUT * 4


def test_it_cuts_off_clients_that_send_bodies_slowly(served: tuple[Server, str, Path]) -> None:
    server, key, _ = served
    with connect(server) as sock:
        head = request(
            "/api/v1/lead/",
            b"Authorization: " + basic(key),
            b"Content-Type: application/json",
            b"Content-Length: 100",
            method=b"POST",
        )
        sock.sendall(head + b'{"name": ')  # then nothing
        response, waited = closed_after(sock)
    assert status_of(response) == 408
    assert waited < TIMEOUT * 4


def test_it_closes_idle_connections(served: tuple[Server, str, Path]) -> None:
    server, key, _ = served
    with connect(server) as sock:  # connected, never a byte
        response, waited = closed_after(sock)
    assert status_of(response) == 408
    assert waited < TIMEOUT * 4
    with connect(server) as sock:  # kept alive after a request, then idle
        sock.sendall(request("/api/v1/me/", b"Authorization: " + basic(key)))
        response, waited = closed_after(sock)
    assert status_of(response) == 200  # the answer, then the close (no second answer)
    assert response.count(b"HTTP/1.1 ") == 1
    assert waited < TIMEOUT * 4


def test_it_answers_503_past_its_connection_limit(served: tuple[Server, str, Path]) -> None:
    server, key, _ = served
    held = [connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        with connect(server) as extra:
            response = read_all(extra, timeout=5)
        assert status_of(response) == 503
        assert b"retry-after: 1" in response
        assert b'{"error":{"message"' in response
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    response = exchange(server, request("/api/v1/me/", b"Authorization: " + basic(key)))
    assert status_of(response) == 200


# Bodies are not read before authentication ------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


BODY_MB = 9


def anonymous_post(server: Server, authorization: bytes | None) -> int:
    body = b'{"name": "' + b"x" * (BODY_MB * 1024 * 1024) + b'"}'
    head = request(
        "/api/v1/lead/",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        *([b"Authorization: " + authorization] if authorization else []),
        method=b"POST",
    )
    with connect(server) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):
            sock.sendall(body[: 1024 * 1024])  # the first MiB: more than any buffer
        response = read_all(sock, timeout=10)
        with contextlib.suppress(OSError):  # the server closed: it never wanted the rest
            sock.sendall(body[1024 * 1024 :])
    return status_of(response)


def test_it_never_reads_a_body_before_authenticating(served: tuple[Server, str, Path]) -> None:
    server, key, _ = served
    assert server.proc is not None
    pid = server.proc.pid
    exchange(server, request("/api/v1/me/", b"Authorization: " + basic(key)))  # warm
    before = rss_kb(pid)
    started = time.monotonic()
    statuses = [anonymous_post(server, None) for _ in range(10)]
    statuses += [anonymous_post(server, basic("api_wrong")) for _ in range(10)]
    elapsed = time.monotonic() - started
    after = rss_kb(pid)
    growth_mb = (after - before) / 1024
    record(
        "edges-memory",
        server.database_url,
        {
            "backend": backend_of(server.database_url),
            "posts": len(statuses),
            "body_mb": BODY_MB,
            "statuses": sorted(set(statuses)),
            "rss_before_mb": round(before / 1024, 1),
            "rss_after_mb": round(after / 1024, 1),
            "rss_growth_mb": round(growth_mb, 1),
            "seconds": round(elapsed, 2),
        },
    )
    assert set(statuses) == {401}
    assert growth_mb < 20, (before, after)


# Authorization bytes ---------------------------------------------------------------------

AUTH_CASES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("scheme only", b"Basic"),
    ("not base64", b"Basic !!!!"),
    ("bad padding", b"Basic YWJj="),
    ("not UTF-8 inside", b"Basic " + base64.b64encode(b"\xff\xfe\xfd:")),
    ("empty user", b"Basic " + base64.b64encode(b":")),
    ("NUL in the key", b"Basic " + base64.b64encode(b"api_a\x00b:")),
    ("control characters in the key", b"Basic " + base64.b64encode(b"api_\x01\x02:")),
    ("non-ASCII bytes", b"Basic \xff\xfe\xc3\xa9"),
    ("non-ASCII key", b"Basic " + base64.b64encode("clé:".encode())),
    ("latin-1 garbage", bytes(range(0x80, 0x100))),
    ("very long", b"Basic " + b"QUFB" * 2000),
    ("bearer empty", b"Bearer "),
    ("bearer NUL", b"Bearer \x00\x00"),
    ("bearer non-ASCII", b"Bearer \xc3\xa9\xff"),
    ("unknown scheme", b"Digest username=x"),
    ("tab separated", b"Basic\t" + base64.b64encode(b"api_x:")),
    ("control bytes", b"\x01\x02\x03\x7f"),
]


def test_it_answers_any_authorization_bytes_with_401(served: tuple[Server, str, Path]) -> None:
    server, key, log = served
    answers = {}
    for name, value in AUTH_CASES:
        response = exchange(server, request("/api/v1/me/", b"Authorization: " + value))
        answers[name] = status_of(response)
        assert status_of(response) in (400, 401), (name, response[:300])
    assert (
        status_of(exchange(server, request("/api/v1/me/", b"Authorization: " + basic(key)))) == 200
    )
    assert b"Traceback" not in log.read_bytes()


# Client disconnects -----------------------------------------------------------------------


def test_it_logs_a_client_disconnect_in_one_line(served: tuple[Server, str, Path]) -> None:
    server, key, log = served
    with connect(server) as sock:
        head = request(
            "/api/v1/lead/",
            b"Authorization: " + basic(key),
            b"Content-Type: application/json",
            b"Content-Length: 1000",
            method=b"POST",
        )
        sock.sendall(head + b'{"name": "gone')
        time.sleep(0.3)
    time.sleep(0.5)
    server.stop()
    logged = log.read_text(errors="replace")
    assert logged.count("client disconnected") == 1, logged[-2000:]
    assert "Traceback" not in logged
    assert "Exception in ASGI" not in logged


@pytest.fixture(autouse=True)
def _quiet_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    os.environ.setdefault("NO_PROXY", "127.0.0.1")
