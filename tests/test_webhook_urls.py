"""Webhook destinations: which URLs register in each mode, and what a send really connects to.

The table is the policy (docs/reliability.md shows it): every spelling of loopback, private,
link-local, metadata and other non-public addresses, and URL syntax refused in every mode.
Send-time tests prove the check is not just at registration: the address is resolved once,
checked and pinned (DNS rebinding fails), redirects are not followed, and ``latest_error``
never repeats what the other end said.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.events import delivery, urlpolicy
from crmapi.events.urlpolicy import UrlPolicy, UrlRefused, parse_networks
from crmapi.settings import Settings
from tests.conftest import Api, make_org
from tests.reliability.conftest import RESULTS
from tests.test_webhooks import NOTE_EVENTS, Receiver, deliver, deliveries, quiet, subscribe

EVENTS = [{"object_type": "lead", "action": "created"}]
OK, NO = 201, 400

# url -> (emulator mode, production mode). Everything here is resolved locally: addresses
# are literal, and the only names are localhost (/etc/hosts) and names that never resolve.
URLS: list[tuple[str, int, int]] = [
    # public destinations
    ("https://hooks.example.com/close?token=abc", OK, OK),
    ("http://8.8.8.8/hook", OK, OK),
    ("http://134744072/hook", OK, OK),  # 8.8.8.8 in decimal
    ("http://[2606:4700:4700::1111]/hook", OK, OK),
    ("https://bücher.example/hook", OK, OK),  # IDNA
    ("http://hooks.example.com:8443/hook", OK, OK),
    # loopback, in every spelling
    ("http://127.0.0.1:9/hook", OK, NO),
    ("http://127.1/hook", OK, NO),
    ("http://127.0.1/hook", OK, NO),
    ("http://2130706433/hook", OK, NO),
    ("http://0x7f000001/hook", OK, NO),
    ("http://0x7f.0.0.1/hook", OK, NO),
    ("http://0177.0.0.1/hook", OK, NO),
    ("http://017700000001/hook", OK, NO),
    ("http://127.255.255.254/hook", OK, NO),
    ("http://[::1]/hook", OK, NO),
    ("http://[0:0:0:0:0:0:0:1]/hook", OK, NO),
    ("http://[::ffff:127.0.0.1]/hook", OK, NO),
    ("http://[::ffff:7f00:1]/hook", OK, NO),
    ("http://[::127.0.0.1]/hook", OK, NO),
    ("http://[64:ff9b::127.0.0.1]/hook", OK, NO),
    ("http://[2002:7f00:1::]/hook", OK, NO),
    ("http://localhost:9/hook", OK, NO),
    ("http://LOCALHOST/hook", OK, NO),
    ("http://localhost./hook", OK, NO),
    ("http://api.localhost/hook", OK, NO),
    # private and shared networks
    ("http://10.0.0.1/hook", OK, NO),
    ("http://172.16.5.4/hook", OK, NO),
    ("http://192.168.1.1/hook", OK, NO),
    ("http://3232235777/hook", OK, NO),  # 192.168.1.1
    ("http://100.64.0.1/hook", OK, NO),
    ("http://[fd12:3456::1]/hook", OK, NO),
    ("http://[::ffff:10.0.0.1]/hook", OK, NO),
    ("http://192.0.2.1/hook", OK, NO),  # documentation range
    # never a subscriber, in any mode: metadata, link-local, unspecified, multicast...
    ("http://169.254.169.254/latest/meta-data/", NO, NO),
    ("http://2852039166/latest/meta-data/", NO, NO),  # 169.254.169.254
    ("http://0xa9fea9fe/", NO, NO),
    ("http://[::ffff:169.254.169.254]/", NO, NO),
    ("http://[fd00:ec2::254]/latest/", NO, NO),
    ("http://169.254.170.2/v2/credentials", NO, NO),
    ("http://100.100.100.200/latest/meta-data/", NO, NO),
    ("http://169.254.1.1/hook", NO, NO),
    ("http://[fe80::1]/hook", NO, NO),
    ("http://0.0.0.0/hook", NO, NO),
    ("http://0/hook", NO, NO),
    ("http://[::]/hook", NO, NO),
    ("http://224.0.0.1/hook", NO, NO),
    ("http://[ff02::1]/hook", NO, NO),
    ("http://255.255.255.255/hook", NO, NO),
    ("http://240.0.0.1/hook", NO, NO),
    # syntax, in every mode
    ("http://example.com/a\r\nX-Injected: 1", NO, NO),
    ("http://example.com/\nhook", NO, NO),
    ("http://exa mple.com/hook", NO, NO),
    (" https://example.com/hook", NO, NO),
    ("https://example.com/hook ", NO, NO),
    ("https://example.com/\thook", NO, NO),
    ("https://user:secret@example.com/hook", NO, NO),
    ("https://user@example.com/hook", NO, NO),
    ("https://@example.com/hook", NO, NO),
    ("http://example.com\\@127.0.0.1/", NO, NO),
    ("http://exa%6dple.com/hook", NO, NO),
    ("http://example..com/hook", NO, NO),
    ("http://example.com:0/hook", NO, NO),
    ("http://example.com:65536/hook", NO, NO),
    ("http://example.com:port/hook", NO, NO),
    ("http://[::1/hook", NO, NO),
    ("http://[example.com]/hook", NO, NO),
    ("ftp://example.com/hook", NO, NO),
    ("file:///etc/passwd", NO, NO),
    ("gopher://127.0.0.1:6379/_INFO", NO, NO),
    ("//example.com/hook", NO, NO),
    ("http:///hook", NO, NO),
]


def _app(database_url: str, mode: str, **settings: Any) -> Any:
    return create_app(quiet(database_url, mode=mode, **settings), migrate_schema=False)


@pytest.fixture
def modes(database_url: str) -> Iterator[dict[str, Api]]:
    """One organization per mode, on the same database."""
    apps = {mode: _app(database_url, mode) for mode in ("emulator", "production")}
    clients = {mode: TestClient(app) for mode, app in apps.items()}
    try:
        yield {
            mode: make_org(apps[mode], clients[mode], mode, f"owner@{mode}.example")
            for mode in apps
        }
    finally:
        for app in apps.values():
            app.state.db.dispose()


def test_it_registers_only_allowed_destinations(modes: dict[str, Api]) -> None:
    answers = []
    for url, *expected in URLS:
        got = []
        for mode, api in modes.items():
            response = api.post("webhook/", {"url": url, "events": EVENTS})
            got.append(response.status_code)
            if response.status_code == 400:
                assert response.json() == {
                    "errors": [],
                    "field-errors": {"url": response.json()["field-errors"]["url"]},
                }, (mode, url)
        answers.append((url, got))
        assert got == expected, url
    for column, api in enumerate(modes.values(), start=1):
        registered = [w["url"] for w in api.ok("GET", "webhook/")["data"]]
        assert registered == [row[0] for row in URLS if row[column] == OK]
    _record_table(answers)


def _record_table(answers: list[tuple[str, list[int]]]) -> None:
    """The table docs/reliability.md shows (refused/allowed per mode)."""
    RESULTS.mkdir(exist_ok=True)
    rows = [{"url": url, "emulator": e, "production": p} for url, (e, p) in answers]
    (RESULTS / "webhook-urls.json").write_text(json.dumps(rows, indent=1) + "\n")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://a\r\nb/", urlpolicy.INVALID),
        ("https://u:p@example.com/", "URLs with credentials (user:password@) are not accepted."),
        ("http://[fd00:ec2::254]/", urlpolicy.NOT_ALLOWED),
    ],
)
def test_it_answers_with_a_field_error_on_update_too(
    modes: dict[str, Api], url: str, message: str
) -> None:
    api = modes["emulator"]
    sub = subscribe(api, "https://example.com/hook", EVENTS)
    response = api.put(f"webhook/{sub['id']}/", {"url": url})
    assert (response.status_code, response.json()) == (
        400,
        {"errors": [], "field-errors": {"url": message}},
    )
    assert api.ok("GET", f"webhook/{sub['id']}/")["url"] == "https://example.com/hook"


def test_configured_networks_are_allowed_in_production(database_url: str) -> None:
    app = _app(database_url, "production", webhook_allowed_networks="127.0.0.0/8,10.1.0.0/16")
    try:
        api = make_org(app, TestClient(app))
        for url in ("http://127.0.0.1:9/", "http://localhost:9/", "http://10.1.2.3/"):
            status = api.post("webhook/", {"url": url, "events": EVENTS}).status_code
            assert status == 201, url
        assert (
            api.post("webhook/", {"url": "http://10.2.0.1/", "events": EVENTS}).status_code == 400
        )
    finally:
        app.state.db.dispose()


# --- at send time ---------------------------------------------------------------------------


class Script:
    """A resolver that answers from a script, one answer per lookup (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


LOOPBACK_ONLY = parse_networks("127.0.0.0/8")


def _send(url: str, policy: UrlPolicy, timeout: float = 2.0) -> str | None:
    return delivery.send(url, b'{"event":{}}', "ab" * 32, True, timeout, policy)


def test_it_connects_to_the_checked_address_with_the_urls_host(receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    resolver = Script(["127.0.0.1"])
    policy = UrlPolicy(production=True, allowed=LOOPBACK_ONLY, resolver=resolver)
    assert _send(f"http://hooks.example.test:{port}/hook?x=1", policy) is None
    ((headers, _),) = receiver.received
    assert headers["host"] == f"hooks.example.test:{port}"
    assert resolver.lookups == ["hooks.example.test"]  # resolved once, at send


def test_dns_rebinding_fails(receiver: Receiver) -> None:
    """Public when registered, loopback when sent: the send never connects."""
    port = receiver.server.server_address[1]
    url = f"http://rebind.example.test:{port}/hook"
    policy = UrlPolicy(production=True, resolver=Script(["93.184.216.34"], ["127.0.0.1"]))
    policy.check_url(url)  # registration sees the public address
    assert _send(url, policy) == delivery.CONNECTION_ERROR
    assert receiver.received == []


def test_a_name_with_any_internal_address_is_refused(receiver: Receiver) -> None:
    port = receiver.server.server_address[1]
    policy = UrlPolicy(production=True, resolver=Script(["93.184.216.34", "127.0.0.1"]))
    with pytest.raises(UrlRefused):
        policy.check_url(f"http://mixed.example.test:{port}/")
    assert _send(f"http://mixed.example.test:{port}/", policy) == delivery.CONNECTION_ERROR
    assert receiver.received == []


def test_a_name_that_does_not_resolve_is_a_connection_error() -> None:
    assert _send("http://nowhere.invalid/hook", UrlPolicy()) == delivery.CONNECTION_ERROR


class Redirector:
    """Answers every POST with a 307 to another URL (which must never be called)."""

    def __init__(self, location: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(307)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_it_does_not_follow_redirects(receiver: Receiver) -> None:
    redirector = Redirector(receiver.url)
    try:
        assert _send(redirector.url, UrlPolicy()) == "HTTP 307"
        assert receiver.received == []
    finally:
        redirector.stop()


# --- end to end, through the delivery queue on each backend ---------------------------------


def test_a_production_worker_refuses_what_an_emulator_registered(
    database_url: str, receiver: Receiver
) -> None:
    """A loopback subscription made in emulator mode is not sent once the mode is production:
    the check at send time is the one that counts."""
    emulator = _app(database_url, "emulator")
    production = _app(database_url, "production")
    try:
        api = make_org(emulator, TestClient(emulator))
        lead = api.ok("POST", "lead/", {"name": "Mode switch"})
        sub = subscribe(api, receiver.url, NOTE_EVENTS)
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert deliver(production) == 1
        (row,) = deliveries(production)
        assert (row.status, row.last_error) == ("pending", delivery.CONNECTION_ERROR)
        assert receiver.received == []
        shown = api.ok("GET", f"webhook/{sub['id']}/")
        assert (shown["health_status"], shown["latest_error"]) == ("failing", "Connection error")
    finally:
        emulator.state.db.dispose()
        production.state.db.dispose()


def test_a_production_worker_delivers_to_allowed_networks(
    database_url: str, receiver: Receiver
) -> None:
    app = _app(database_url, "production", webhook_allowed_networks="127.0.0.0/8")
    try:
        api = make_org(app, TestClient(app))
        lead = api.ok("POST", "lead/", {"name": "Allowed"})
        sub = subscribe(api, receiver.url, NOTE_EVENTS)
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert deliver(app) == 1
        assert [d.status for d in deliveries(app)] == ["delivered"]
        assert len(receiver.payloads(sub["signature_key"])) == 1
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", "HTTP 500"),
        (b"HTTP/1.1 404 Not Found\r\nServer: secret-admin/1.0\r\n\r\nno such page", "HTTP 404"),
        (b"-ERR unknown command 'POST'\r\n", delivery.CONNECTION_ERROR),  # e.g. Redis
        (b"SSH-2.0-OpenSSH_9.6\r\n", delivery.CONNECTION_ERROR),
        (b"", delivery.CONNECTION_ERROR),
    ],
)
def test_latest_error_never_repeats_what_the_port_answered(
    database_url: str, reply: bytes, expected: str
) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    app = _app(database_url, "emulator")
    try:
        api = make_org(app, TestClient(app))
        lead = api.ok("POST", "lead/", {"name": "Ports"})
        port = listener.getsockname()[1]
        sub = subscribe(api, f"http://127.0.0.1:{port}/", NOTE_EVENTS)
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert deliver(app) == 1
        assert api.ok("GET", f"webhook/{sub['id']}/")["latest_error"] == expected
    finally:
        thread.join(5)
        listener.close()
        app.state.db.dispose()


# --- configuration --------------------------------------------------------------------------


def test_it_reads_the_mode_and_networks_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.from_env().mode == "emulator"
    monkeypatch.setenv("CRMAPI_MODE", "production")
    monkeypatch.setenv("CRMAPI_WEBHOOK_ALLOW", "10.0.0.0/8, 192.168.1.7")
    settings = Settings.from_env()
    assert (settings.mode, settings.webhook_allowed_networks) == (
        "production",
        "10.0.0.0/8,192.168.1.7/32",
    )
    policy = UrlPolicy.from_settings(settings)
    assert policy.production
    assert policy.allowed == parse_networks("10.0.0.0/8,192.168.1.7/32")
    for name, value in (("CRMAPI_MODE", "staging"), ("CRMAPI_WEBHOOK_ALLOW", "10.0.0.0/33")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError):  # noqa: PT011 - the message is the stdlib's
            Settings.from_env()
        monkeypatch.delenv(name)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()
