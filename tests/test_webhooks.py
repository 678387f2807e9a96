"""Webhook subscriptions, the outbox written with each event, and delivery to a real receiver."""

import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.events import delivery
from crmapi.events.filters import FilterError, matches, validate
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.util import dates
from tests import factories
from tests.conftest import Api, make_org

D = t.webhook_delivery
W = t.webhook


# --- a receiver on 127.0.0.1 ----------------------------------------------------------------


class Receiver:
    """A tiny threaded HTTP server that records every POST and answers with scripted statuses."""

    def __init__(self, port: int = 0, statuses: tuple[int, ...] = (), delay: float = 0.0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses)
        self.delay = delay
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self, signature_key: str) -> list[dict[str, Any]]:
        """Every body received, after checking its signature the way Close documents."""
        out = []
        for headers, body in self.received:
            timestamp = headers["close-sig-timestamp"]
            assert re.fullmatch(r"\d{10}", timestamp)
            expected = hmac.new(
                bytes.fromhex(signature_key), timestamp.encode() + body, hashlib.sha256
            ).hexdigest()
            assert hmac.compare_digest(headers["close-sig-hash"], expected)
            assert headers["content-type"] == "application/json"
            out.append(json.loads(body))
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- an app whose worker the tests drive by hand --------------------------------------------


def quiet(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_cache_seconds": 0,
        "background_workers": False,
        "webhook_retry_base_seconds": 0.05,
        "webhook_timeout_seconds": 2.0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def hook_settings(database_url: str) -> Settings:
    return quiet(database_url)


@pytest.fixture
def happ(hook_settings: Settings) -> Iterator[Any]:
    application = create_app(hook_settings, migrate_schema=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def hapi(happ: Any) -> Iterator[Api]:
    with TestClient(happ) as client:
        yield make_org(happ, client)


def subscribe(api: Api, url: str, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = api.post("webhook/", {"url": url, "events": events, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


NOTE_EVENTS = [
    {"object_type": "activity.note", "action": a} for a in ("created", "updated", "deleted")
]


def deliveries(app: Any, webhook_id: str | None = None) -> list[Any]:
    stmt = select(D).order_by(D.c.date_created)
    if webhook_id is not None:
        stmt = stmt.where(D.c.webhook_id == webhook_id)
    with app.state.db.read() as conn:
        return list(conn.execute(stmt).all())


def deliver(app: Any) -> int:
    return delivery.deliver_due(app.state.db, app.state.settings)


def wait_until_due(app: Any) -> None:
    """Sleep until the earliest pending delivery is due (the tests' backoff is tiny)."""
    pending = [d.next_attempt_at for d in deliveries(app) if d.status == "pending"]
    if pending:
        wait = (dates.to_datetime(min(pending)) - dates.to_datetime(dates.now())).total_seconds()
        time.sleep(max(0.0, wait) + 0.01)


@pytest.fixture
def lead(hapi: Api) -> dict[str, Any]:
    return factories.lead(hapi, "Wayne Enterprises")


# --- CRUD -----------------------------------------------------------------------------------


def test_it_creates_a_subscription_with_a_signature_key(hapi: Api) -> None:
    events = [
        {"object_type": "lead", "action": "created"},
        {
            "object_type": "activity.note",
            "action": "created",
            "extra_filter": {
                "type": "field_accessor",
                "field": "user_id",
                "filter": {"type": "non_null"},
            },
        },
    ]
    response = hapi.post("webhook/", {"url": "https://example.com/hook", "events": events})
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"/api/v1/webhook/{created['id']}/"
    assert created["id"].startswith("whsub_")
    assert re.fullmatch(r"[0-9a-f]{64}", created["signature_key"])
    assert created["events"] == events
    expected = {
        "url": "https://example.com/hook",
        "status": "active",
        "verify_ssl": True,
        "created_by": hapi.user_id,
        "updated_by": hapi.user_id,
        "counters": {},
        "health_status": "healthy",
        "latest_error": None,
        "pause_reason": None,
        "recent_consecutive_fail_buckets_cnt": 0,
    }
    assert {k: created[k] for k in expected} == expected
    assert hapi.ok("GET", f"webhook/{created['id']}/") == created
    assert hapi.ok("GET", "webhook/") == {"data": [created], "has_more": False}


GOOD = [{"object_type": "lead", "action": "created"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": GOOD}, "url"),
        ({"url": "ftp://example.com/", "events": GOOD}, "url"),
        ({"url": "not a url", "events": GOOD}, "url"),
        ({"url": None, "events": GOOD}, "url"),
        ({"url": "https://x.example/"}, "events"),
        ({"url": "https://x.example/", "events": []}, "events"),
        ({"url": "https://x.example/", "events": "lead.created"}, "events"),
        (
            {"url": "https://x.example/", "events": [{"object_type": "nope", "action": "created"}]},
            "events",
        ),
        ({"url": "https://x.example/", "events": [{"object_type": "lead"}]}, "events"),
        (
            {"url": "https://x.example/", "events": [{"object_type": "lead", "action": "boom"}]},
            "events",
        ),
        (
            {
                "url": "https://x.example/",
                "events": [{**GOOD[0], "extra_filter": {"type": "bogus"}}],
            },
            "events",
        ),
        (
            {
                "url": "https://x.example/",
                "events": [{**GOOD[0], "extra_filter": {"type": "and", "filters": []}}],
            },
            "events",
        ),
        ({"url": "https://x.example/", "events": GOOD, "verify_ssl": "yes"}, "verify_ssl"),
    ],
)
def test_it_rejects_bad_subscriptions(hapi: Api, body: dict[str, Any], field: str) -> None:
    response = hapi.post("webhook/", body)
    assert response.status_code == 400
    assert field in response.json()["field-errors"]
    assert hapi.ok("GET", "webhook/")["data"] == []


def test_it_updates_pauses_and_resumes_a_subscription(hapi: Api) -> None:
    sub = subscribe(hapi, "https://example.com/a", GOOD)
    changed = hapi.ok(
        "PUT",
        f"webhook/{sub['id']}/",
        {"url": "https://example.com/b", "events": NOTE_EVENTS, "verify_ssl": False},
    )
    assert (changed["url"], changed["events"], changed["verify_ssl"]) == (
        "https://example.com/b",
        NOTE_EVENTS,
        False,
    )
    assert changed["signature_key"] == sub["signature_key"]
    paused = hapi.ok("PUT", f"webhook/{sub['id']}/", {"status": "paused"})
    assert (paused["status"], paused["pause_reason"]) == ("paused", "api")
    active = hapi.ok("PUT", f"webhook/{sub['id']}/", {"status": "active"})
    assert (active["status"], active["pause_reason"]) == ("active", None)
    bad = hapi.put(f"webhook/{sub['id']}/", {"status": "sleeping"})
    assert bad.status_code == 400
    assert "status" in bad.json()["field-errors"]
    bad = hapi.put(f"webhook/{sub['id']}/", {"events": []})
    assert bad.status_code == 400
    assert hapi.ok("GET", f"webhook/{sub['id']}/")["events"] == NOTE_EVENTS


def test_it_deletes_a_subscription_and_its_queue(
    happ: Any, hapi: Api, lead: dict[str, Any]
) -> None:
    sub = subscribe(hapi, "http://127.0.0.1:9/", NOTE_EVENTS)
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
    assert len(deliveries(happ)) == 1
    assert hapi.ok("DELETE", f"webhook/{sub['id']}/") == {}
    assert hapi.get(f"webhook/{sub['id']}/").status_code == 404
    assert deliveries(happ) == []


def test_it_allows_at_most_40_subscriptions(hapi: Api) -> None:
    for i in range(40):
        subscribe(hapi, f"https://example.com/{i}", GOOD)
    response = hapi.post("webhook/", {"url": "https://example.com/41", "events": GOOD})
    assert response.status_code == 400
    assert "at most 40" in response.json()["errors"][0]


def test_it_scopes_subscriptions_to_the_organization(happ: Any, hapi: Api) -> None:
    sub = subscribe(hapi, "https://example.com/", GOOD)
    other = make_org(happ, hapi.client, "Globex", "owner@globex.example")
    assert other.ok("GET", "webhook/")["data"] == []
    for method in ("GET", "PUT", "DELETE"):
        response = other.request(method, f"webhook/{sub['id']}/", json={"status": "paused"})
        assert response.status_code == 404
    assert hapi.ok("GET", f"webhook/{sub['id']}/")["status"] == "active"


# --- extra_filter ---------------------------------------------------------------------------

EVENT = {
    "object_type": "lead",
    "action": "updated",
    "user_id": "user_1",
    "changed_fields": ["name", "addresses"],
    "lead_id": None,
    "data": {
        "name": "Acme Corp",
        "custom.cf_tier": "gold",
        "addresses": [{"state": "CA", "country": "US"}, {"state": "MD", "country": "US"}],
    },
}


def field(name: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"type": "field_accessor", "field": name, "filter": inner}


MD_US = {
    "type": "and",
    "filters": [
        field("state", {"type": "equals", "value": "MD"}),
        field("country", {"type": "equals", "value": "US"}),
    ],
}


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        (field("user_id", {"type": "equals", "value": "user_1"}), True),
        (field("user_id", {"type": "equals", "value": "user_2"}), False),
        (field("user_id", {"type": "not_equals", "value": "user_2"}), True),
        (field("lead_id", {"type": "is_null"}), True),
        (field("lead_id", {"type": "non_null"}), False),
        (field("missing", {"type": "is_null"}), True),
        (field("changed_fields", {"type": "contains", "value": "name"}), True),
        (field("changed_fields", {"type": "contains", "value": "url"}), False),
        (field("data", field("name", {"type": "contains", "value": "Acme"})), True),
        (field("data", field("custom.cf_tier", {"type": "equals", "value": "gold"})), True),
        (field("data", field("addresses", {"type": "any_array_value", "filter": MD_US})), True),
        (
            field(
                "data",
                field(
                    "addresses",
                    {
                        "type": "any_array_value",
                        "filter": field("state", {"type": "equals", "value": "NY"}),
                    },
                ),
            ),
            False,
        ),
        ({"type": "not", "filter": field("action", {"type": "equals", "value": "updated"})}, False),
        (
            {
                "type": "or",
                "filters": [
                    field("action", {"type": "equals", "value": "deleted"}),
                    field("object_type", {"type": "equals", "value": "lead"}),
                ],
            },
            True,
        ),
        (
            field(
                "data", field("name", {"type": "any_array_value", "filter": {"type": "non_null"}})
            ),
            False,
        ),
        (field("user_id", field("deeper", {"type": "non_null"})), False),
    ],
)
def test_it_evaluates_extra_filters(tree: dict[str, Any], expected: bool) -> None:
    validate(tree)
    assert matches(tree, EVENT) is expected


@pytest.mark.parametrize(
    "tree",
    [
        "equals",
        {"type": "equals"},
        {"type": "and", "filters": "x"},
        {"type": "not"},
        {"type": "field_accessor", "filter": {"type": "is_null"}},
        {"type": "field_accessor", "field": "x", "filter": {"type": "nope"}},
    ],
)
def test_it_rejects_malformed_extra_filters(tree: Any) -> None:
    with pytest.raises(FilterError):
        validate(tree)


# --- outbox ---------------------------------------------------------------------------------


def test_it_queues_events_only_for_matching_active_subscriptions(
    happ: Any, hapi: Api, lead: dict[str, Any]
) -> None:
    urgent = field("data", field("note", {"type": "contains", "value": "urgent"}))
    leads = subscribe(
        hapi, "https://example.com/leads", [{"object_type": "lead", "action": "created"}]
    )
    notes = subscribe(
        hapi,
        "https://example.com/notes",
        [{"object_type": "activity.note", "action": "created", "extra_filter": urgent}],
    )
    paused = subscribe(hapi, "https://example.com/paused", NOTE_EVENTS)
    hapi.ok("PUT", f"webhook/{paused['id']}/", {"status": "paused"})

    factories.lead(hapi, "Second")
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "hello"})
    note = hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "urgent: call"})
    assert hapi.post("activity/note/", {"lead_id": "lead_x", "note": "urgent"}).status_code == 400

    assert len(deliveries(happ, leads["id"])) == 1
    (queued,) = deliveries(happ, notes["id"])
    payload = json.loads(queued.payload)
    assert payload["subscription_id"] == notes["id"]
    assert payload["event"]["object_id"] == note["id"]
    assert payload["event"] == hapi.ok("GET", f"event/{payload['event']['id']}/")
    assert deliveries(happ, paused["id"]) == []


# --- delivery -------------------------------------------------------------------------------


def test_it_delivers_signed_events_to_a_local_receiver(
    happ: Any, hapi: Api, lead: dict[str, Any], receiver: Receiver
) -> None:
    sub = subscribe(hapi, receiver.url, NOTE_EVENTS)
    note = hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "one"})
    hapi.ok("PUT", f"activity/note/{note['id']}/", {"note": "two"})
    hapi.ok("DELETE", f"activity/note/{note['id']}/")
    assert receiver.received == []  # nothing is sent from the API request itself

    assert deliver(happ) == 3
    payloads = receiver.payloads(sub["signature_key"])
    events = hapi.ok(
        "GET", "event/", params={"object_type": "activity.note", "object_id": note["id"]}
    )
    assert sorted(p["event"]["id"] for p in payloads) == sorted(e["id"] for e in events["data"])
    for p in payloads:
        assert set(p) == {"event", "subscription_id"}
        assert p["subscription_id"] == sub["id"]
        assert p["event"] == hapi.ok("GET", f"event/{p['event']['id']}/")
    assert [d.status for d in deliveries(happ)] == ["delivered"] * 3
    assert deliver(happ) == 0
    assert len(receiver.received) == 3


def test_it_signs_the_exact_bytes_it_sends() -> None:
    key = "00" * 31 + "ff"
    body = b'{"event":{}}'
    expected = hmac.new(bytes.fromhex(key), b"1544271440" + body, hashlib.sha256).hexdigest()
    assert delivery.sign(key, "1544271440", body) == expected


def test_it_retries_with_backoff_until_the_receiver_accepts(database_url: str) -> None:
    # A backoff long enough that "not due yet" holds on a loaded machine.
    happ = create_app(quiet(database_url, webhook_retry_base_seconds=1.0), migrate_schema=False)
    receiver = Receiver(statuses=(500, 503))
    try:
        hapi = make_org(happ, TestClient(happ))
        lead = factories.lead(hapi, "Flaky receiver")
        sub = subscribe(hapi, receiver.url, NOTE_EVENTS)
        hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert deliver(happ) == 1
        (row,) = deliveries(happ)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
        assert row.next_attempt_at > dates.now()
        failing = hapi.ok("GET", f"webhook/{sub['id']}/")
        assert (failing["health_status"], failing["latest_error"]) == ("failing", "HTTP 500")
        assert failing["recent_consecutive_fail_buckets_cnt"] == 1
        assert deliver(happ) == 0  # not due yet

        wait_until_due(happ)
        assert deliver(happ) == 1
        (row,) = deliveries(happ)
        assert (row.status, row.attempts, row.last_error) == ("pending", 2, "HTTP 503")

        wait_until_due(happ)
        assert deliver(happ) == 1
        (row,) = deliveries(happ)
        assert (row.status, row.attempts) == ("delivered", 3)
        assert len(receiver.received) == 3
        assert len({json.loads(b)["event"]["id"] for _, b in receiver.received}) == 1
        assert hapi.ok("GET", f"webhook/{sub['id']}/")["health_status"] == "healthy"
    finally:
        receiver.stop()
        happ.state.db.dispose()


def test_it_backs_off_exponentially_up_to_twenty_minutes() -> None:
    settings = Settings(webhook_retry_base_seconds=10)
    delays = [delivery.backoff_seconds(settings, n) for n in range(1, 12)]
    assert delays[:7] == [10, 20, 40, 80, 160, 320, 640]
    assert delays[7:] == [1200] * 4


def test_it_counts_a_timeout_as_a_failure(database_url: str) -> None:
    app = create_app(quiet(database_url, webhook_timeout_seconds=0.2), migrate_schema=False)
    receiver = Receiver(delay=1.0)
    try:
        with TestClient(app) as client:
            api = make_org(app, client)
            lead = factories.lead(api, "Slow")
            subscribe(api, receiver.url, NOTE_EVENTS)
            api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
            assert deliver(app) == 1
            (row,) = deliveries(app)
            assert row.status == "pending"
            assert row.last_error == delivery.TIMEOUT
    finally:
        receiver.stop()
        app.state.db.dispose()


def _backdate(app: Any, **values: str) -> None:
    with app.state.db.write() as conn:
        if "date_created" in values:
            conn.execute(update(D).values(date_created=values["date_created"]))
        if "failing_since" in values:
            conn.execute(update(W).values(failing_since=values["failing_since"]))


def _ago(**kw: float) -> str:
    return dates.canonical(dates.to_datetime(dates.now()) - timedelta(**kw))


def test_it_gives_up_on_a_delivery_after_72_hours(
    happ: Any, hapi: Api, lead: dict[str, Any]
) -> None:
    subscribe(hapi, f"http://127.0.0.1:{free_port()}/", NOTE_EVENTS)
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
    _backdate(happ, date_created=_ago(hours=72, minutes=1))
    assert deliver(happ) == 1
    (row,) = deliveries(happ)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == delivery.CONNECTION_ERROR


def test_it_pauses_a_subscription_whose_deliveries_fail_for_three_days(
    happ: Any, hapi: Api, lead: dict[str, Any]
) -> None:
    sub = subscribe(hapi, f"http://127.0.0.1:{free_port()}/", NOTE_EVENTS)
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "y"})
    _backdate(happ, failing_since=_ago(days=3, minutes=1))
    assert deliver(happ) >= 1
    paused = hapi.ok("GET", f"webhook/{sub['id']}/")
    assert (paused["status"], paused["pause_reason"]) == ("paused", "failing")
    assert [d for d in deliveries(happ) if d.status == "pending"] == []
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "while paused"})
    assert [d for d in deliveries(happ) if d.status == "pending"] == []

    resumed = hapi.ok("PUT", f"webhook/{sub['id']}/", {"status": "active"})
    assert (resumed["status"], resumed["pause_reason"], resumed["health_status"]) == (
        "active",
        None,
        "healthy",
    )


def test_it_keeps_a_subscription_with_recent_successes_active(
    happ: Any, hapi: Api, lead: dict[str, Any]
) -> None:
    sub = subscribe(hapi, f"http://127.0.0.1:{free_port()}/", NOTE_EVENTS)
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
    _backdate(happ, failing_since=_ago(days=2))
    assert deliver(happ) == 1
    assert hapi.ok("GET", f"webhook/{sub['id']}/")["status"] == "active"


def test_it_pauses_a_subscription_whose_backlog_reaches_the_limit(database_url: str) -> None:
    app = create_app(quiet(database_url, webhook_backlog_limit=3), migrate_schema=False)
    try:
        with TestClient(app) as client:
            api = make_org(app, client)
            lead = factories.lead(api, "Busy")
            sub = subscribe(api, f"http://127.0.0.1:{free_port()}/", NOTE_EVENTS)
            for i in range(3):
                api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": str(i)})
            assert deliver(app) >= 1
            paused = api.ok("GET", f"webhook/{sub['id']}/")
            assert (paused["status"], paused["pause_reason"]) == ("paused", "backlog")
            assert [d for d in deliveries(app) if d.status == "pending"] == []
    finally:
        app.state.db.dispose()


def test_two_workers_never_send_the_same_delivery_twice(
    happ: Any, hapi: Api, lead: dict[str, Any], receiver: Receiver
) -> None:
    sub = subscribe(hapi, receiver.url, NOTE_EVENTS)
    for i in range(12):
        hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": str(i)})
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        counts.append(delivery.deliver_due(happ.state.db, happ.state.settings, batch=12))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(counts) == 12
    sent = [p["event"]["id"] for p in receiver.payloads(sub["signature_key"])]
    assert len(sent) == len(set(sent)) == 12
    with happ.state.db.read() as conn:
        assert conn.execute(select(func.sum(D.c.attempts))).scalar() == 12


def test_a_claimed_delivery_is_retried_when_its_worker_dies(
    happ: Any, hapi: Api, lead: dict[str, Any], receiver: Receiver
) -> None:
    sub = subscribe(hapi, receiver.url, NOTE_EVENTS)
    hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
    settings = happ.state.settings
    (claimed,) = delivery.claim(happ.state.db, settings, dates.now(), 10)  # then "crash"
    assert delivery.claim(happ.state.db, settings, dates.now(), 10) == []  # leased
    after_lease = dates.canonical(dates.to_datetime(dates.now()) + timedelta(minutes=5))
    (again,) = delivery.claim(happ.state.db, settings, after_lease, 10)
    assert (again.id, again.attempts) == (claimed.id, 2)
    assert receiver.received == []
    assert sub["id"] == again.webhook_id


def test_it_delivers_a_pending_delivery_after_a_restart(database_url: str) -> None:
    port = free_port()
    first = create_app(quiet(database_url), migrate_schema=False)
    with TestClient(first) as client:
        api = make_org(first, client)
        lead = factories.lead(api, "Restart")
        sub = subscribe(api, f"http://127.0.0.1:{port}/hook", NOTE_EVENTS)
        note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "survive"})
        assert deliver(first) == 1  # the receiver is down: the delivery stays pending
        (row,) = deliveries(first)
        assert (row.status, row.attempts) == ("pending", 1)
    first.state.db.dispose()  # the server stops

    receiver = Receiver(port=port)
    running = Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        worker_poll_seconds=0.05,
        webhook_retry_base_seconds=0.05,
    )
    second = create_app(running, migrate_schema=False)
    try:
        with TestClient(second):  # the restarted server's own worker delivers it
            deadline = time.monotonic() + 15
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.05)
            (payload,) = receiver.payloads(sub["signature_key"])
            assert payload["event"]["object_id"] == note["id"]
            assert payload["event"]["data"]["note"] == "survive"
            # The worker records the outcome just after the receiver answers.
            while deliveries(second)[0].status == "pending" and time.monotonic() < deadline:
                time.sleep(0.05)
            (row,) = deliveries(second)
            assert (row.status, row.attempts) == ("delivered", 2)
    finally:
        receiver.stop()
        second.state.db.dispose()


def test_the_api_never_waits_for_a_delivery(database_url: str) -> None:
    running = Settings(database_url=database_url, auth_cache_seconds=0, worker_poll_seconds=0.02)
    app = create_app(running, migrate_schema=False)
    receiver = Receiver(delay=3.0)
    try:
        with TestClient(app) as client:
            api = make_org(app, client)
            lead = factories.lead(api, "Fast")
            subscribe(api, receiver.url, NOTE_EVENTS)
            api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "first"})
            deadline = time.monotonic() + 5
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.02)
            # The worker is now stuck in a slow send; writes and reads still answer at once.
            started = time.monotonic()
            api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "second"})
            api.ok("GET", "event/")
            assert time.monotonic() - started < 1.5
    finally:
        receiver.stop()
        app.state.db.dispose()


@pytest.mark.parametrize("reply", [b"", b"NOT HTTP AT ALL\r\n\r\n"])
def test_it_counts_a_broken_reply_as_a_failure(
    happ: Any, hapi: Api, lead: dict[str, Any], reply: bytes
) -> None:
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
    try:
        subscribe(hapi, f"http://127.0.0.1:{listener.getsockname()[1]}/", NOTE_EVENTS)
        hapi.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert deliver(happ) == 1
        (row,) = deliveries(happ)
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error == delivery.CONNECTION_ERROR  # not what the port answered
    finally:
        thread.join(5)
        listener.close()
