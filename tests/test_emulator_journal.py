"""The request journal: what is kept, how it is queried and verified, its bound and isolation."""

import json
import threading
import tracemalloc
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.emulator.journal import Entry, Journal, render
from crmapi.emulator.observed import Observed
from crmapi.http.operations import operation_name
from crmapi.http.routing import build, route_table
from crmapi.settings import Settings
from tests.conftest import Api, make_org
from tests.emulator_helpers import Plane


@pytest.fixture
def plane(api: Api) -> Plane:
    return Plane(api)


def _lead_and_note(api: Api) -> tuple[str, str]:
    lead = api.ok("POST", "lead/", {"name": "Wayne"})["id"]
    note = api.ok("POST", "activity/note/", {"lead_id": lead, "note": "Hello"})["id"]
    return lead, note


def test_every_operation_has_a_unique_derived_name() -> None:
    names = [
        (op.operation, path, method)
        for route in build(route_table(), wrap=Observed)
        for path, ops in [(route.path, route.endpoint.ops)]  # type: ignore[attr-defined]
        for method, op in ops.items()
    ]
    assert all(name for name, _, _ in names)
    assert len({n for n, _, _ in names}) == len(names)
    assert operation_name("POST", "/activity/note/", False) == "create_activity_note"
    assert operation_name("GET", "/lead/{id}/", False) == "get_lead"
    assert operation_name("GET", "/lead/", True) == "list_lead"


def test_it_journals_each_request_with_its_operation_events_and_bodies(
    api: Api, plane: Plane
) -> None:
    lead, note = _lead_and_note(api)
    api.get("activity/", params={"lead_id": lead}, headers={"user-agent": "sync/1.0"})
    newest, created_note, created_lead = plane.journal()
    assert [e["operation"] for e in (created_lead, created_note, newest)] == [
        "create_lead",
        "create_activity_note",
        "list_activity",
    ]
    assert created_note["group"] == "activity/note:write"
    assert created_note["status"] == 200
    assert created_note["request"]["body"] == {"lead_id": lead, "note": "Hello"}
    assert created_note["response"]["body"]["id"] == note
    assert len(created_note["events"]) == 1
    assert created_note["events"][0].startswith("ev_")
    assert len(created_lead["events"]) == 2  # the lead and its Created activity
    assert created_note["request"]["headers"]["authorization"] == "[redacted]"
    assert newest["query"] == {"lead_id": lead}
    assert newest["user_agent"] == "sync/1.0"
    assert newest["duration_ms"] > 0
    assert plane.ok("GET", f"/journal/{created_note['id']}")["id"] == created_note["id"]
    assert plane.request("GET", "/journal/jr_999999").status_code == 404
    events = api.ok("GET", "event/")["data"]
    assert set(created_note["events"]) <= {e["id"] for e in events}


def test_find_count_and_verify_by_criteria(api: Api, plane: Plane) -> None:
    lead, _ = _lead_and_note(api)
    api.post("activity/note/", {"lead_id": lead, "note": "Second"})
    api.get("lead/", params={"_limit": "1"})
    crit = {"operation": "create_activity_note"}
    assert plane.ok("POST", "/journal/count", {"criteria": crit}) == {"count": 2}
    by_body = {"method": "post", "path": "/api/v1/activity/note", "body": {"note": "Second"}}
    found = plane.ok("POST", "/journal/find", {"criteria": by_body})["data"]
    assert [e["request"]["body"]["note"] for e in found] == ["Second"]
    query = {"path": "/api/v1/lead/*", "query": {"_limit": 1}, "status": {"lt": 300}}
    assert plane.ok("POST", "/journal/count", {"criteria": query}) == {"count": 1}
    matcher = {"body": {"note": {"matches": "^Sec"}, "lead_id": {"present": True}}}
    assert plane.ok("POST", "/journal/count", {"criteria": matcher}) == {"count": 1}
    assert plane.ok("POST", "/journal/verify", {"criteria": crit, "count": 2})["ok"] is True
    assert plane.ok("POST", "/journal/verify", {"criteria": crit, "count": {"gte": 1}})["ok"]
    miss = plane.request(
        "POST", "/journal/verify", {"criteria": {**crit, "body": {"note": "Third"}}, "count": 1}
    )
    assert miss.status_code == 409
    body = miss.json()
    assert body["ok"] is False
    assert body["actual"] == 0
    assert body["near_misses"][0]["failed"] == ["body.note"]
    assert body["near_misses"][0]["entry"]["operation"] == "create_activity_note"


@pytest.mark.parametrize(
    "body",
    [
        {"criteria": {"colour": "red"}},
        {"criteria": {"query": {"a": {"like": 1}}}},
        {"criteria": {"body": {"a": {"matches": "("}}}},
        {"criteria": {}, "count": "many"},
        {"criteria": []},
    ],
)
def test_bad_criteria_are_close_style_400s(plane: Plane, body: dict[str, Any]) -> None:
    response = plane.request("POST", "/journal/verify", body)
    assert response.status_code == 400
    assert set(response.json()) == {"errors", "field-errors"}


@pytest.mark.parametrize(
    ("path", "route", "reason"),
    [
        ("/activity/note/", "/api/v1/activity/note/", "missing /api/v1"),
        ("/v1/lead", "/api/v1/lead/", "/v1/ instead of /api/v1/"),
        ("/api/v2/lead/", "/api/v1/lead/", "/api/v2/ instead of /api/v1/"),
        ("/api/v1//leads", "/api/v1/lead/", "no such route; closest match"),
        ("/api/v1/activty/note/acti_0123456789abcdef/", "/api/v1/activity/note/{id}/", None),
    ],
)
def test_unrouted_requests_carry_the_route_they_probably_meant(
    api: Api, plane: Plane, path: str, route: str, reason: str | None
) -> None:
    response = api.client.get(path, auth=(api.key, ""))
    assert response.status_code == 404
    assert response.json() == {"error": "The requested URL was not found on the server."}
    (entry,) = plane.ok("GET", "/journal/unrouted")["data"]
    assert entry["raw_path"] == path
    assert entry["suggestion"]["route"] == route
    if reason:
        assert entry["suggestion"]["reasons"][0] == reason
    if "//" in path:
        assert "'//' in the path" in entry["suggestion"]["reasons"]


def test_har_export_and_clear(api: Api, plane: Plane) -> None:
    _lead_and_note(api)
    har = plane.ok("GET", "/journal.har")
    entries = har["log"]["entries"]
    assert har["log"]["version"] == "1.2"
    assert [e["request"]["method"] for e in entries] == ["POST", "POST"]
    assert entries[1]["request"]["url"].endswith("/api/v1/activity/note/")
    assert json.loads(entries[1]["request"]["postData"]["text"])["note"] == "Hello"
    assert entries[1]["response"]["status"] == 200
    auth = {h["name"]: h["value"] for h in entries[0]["request"]["headers"]}["authorization"]
    assert auth == "[redacted]"
    assert plane.ok("DELETE", "/journal") == {"cleared": 2}
    assert plane.journal() == []


def test_sse_tail_replays_then_follows(api: Api, plane: Plane) -> None:
    _lead_and_note(api)
    first = plane.journal()[-1]["id"]
    seen: list[dict[str, Any]] = []

    def tail() -> None:
        with plane.client.stream(
            "GET",
            plane.prefix + "/journal/stream",
            params={"since": first, "max": "2", "timeout": "10"},
            auth=(api.key, ""),
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))

    thread = threading.Thread(target=tail)
    thread.start()
    for _ in range(100):  # until the tail has replayed its backlog entry and waits
        if seen:
            break
        threading.Event().wait(0.02)
    api.get("me/")
    thread.join(15)
    assert [e["operation"] for e in seen] == ["create_activity_note", "get_me"]


def test_one_orgs_journal_is_invisible_to_another(api: Api, other: Api, plane: Plane) -> None:
    _lead_and_note(api)
    other.get("me/")
    theirs = Plane(other)
    assert [e["operation"] for e in theirs.journal()] == ["get_me"]
    assert len(plane.journal()) == 2
    for method, path in [
        ("GET", "/journal"),
        ("POST", "/journal/count"),
        ("GET", "/journal.har"),
        ("GET", "/journal/unrouted"),
        ("GET", "/journal/stream"),
        ("DELETE", "/journal"),
    ]:
        response = plane.request(method, path, auth=(other.key, ""))
        assert response.status_code == 404, (method, path)
    assert len(plane.journal()) == 2


def test_bodies_are_capped_and_the_ring_keeps_the_newest(settings: Settings) -> None:
    small = Settings(**{**settings.__dict__, "journal_max": 5, "journal_body_max": 100})
    app = create_app(small, migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        big = api.ok("POST", "lead/", {"name": "x" * 500})
        for _ in range(6):
            api.get("me/")
        entries = Plane(api).journal()
        assert len(entries) == 5
        assert all(e["operation"] == "get_me" for e in entries)
        stats = Plane(api).ok("GET", "/journal")["stats"]
        assert stats["entries"] == 5
        assert stats["dropped"] == 2
        api.ok("PUT", f"lead/{big['id']}/", {"name": "y" * 500})
        put = Plane(api).journal()[0]
        assert put["request"]["body_truncated"]
        assert put["request"]["body_size"] > 500
        assert isinstance(put["request"]["body"], str)
        assert len(put["request"]["body"]) == 100
    app.state.db.dispose()


def test_journal_off_keeps_nothing(settings: Settings) -> None:
    app = create_app(Settings(**{**settings.__dict__, "journal_max": 0}), migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        api.get("me/")
        assert Plane(api).journal() == []
    app.state.db.dispose()


def test_the_ring_stays_within_its_bound_over_50k_requests() -> None:
    """50,000 entries with 2 KB bodies into a ring of 1,000: memory is measured, not assumed."""
    journal = Journal(max_entries=1000, body_max=2048)
    headers = [(b"authorization", b"Basic xxx"), (b"user-agent", b"bench/1")]
    body = b'{"data": [' + b'{"id": "acti_0123456789", "note": "x"},' * 60 + b"{}]}"

    def one() -> Entry:
        return Entry(
            "GET",
            "/api/v1/activity/",
            b"_limit=100",
            headers,
            response_body=body[:2048],
            response_size=len(body),
            status=200,
        )

    for _ in range(2000):  # fill the ring and warm every allocation path
        journal.add("orga_1", one())
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    peak_sizes = []
    for i in range(50_000):
        journal.add("orga_1", one())
        if i % 10_000 == 0:
            peak_sizes.append(tracemalloc.get_traced_memory()[0] - before)
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(journal.rings["orga_1"].entries) == 1000
    assert journal.rings["orga_1"].dropped == 51_000
    # The traced memory is the 1,000 entries the ring holds (about 2.5 KB each), and it does
    # not grow between 10k and 50k requests: entries replace entries.
    assert after - before < 1000 * 3 * 1024, (after - before, peak_sizes)
    assert max(peak_sizes[1:]) - min(peak_sizes[1:]) < 10_000, peak_sizes
    assert (
        render(journal.rings["orga_1"].entries[-1])["request"]["headers"]["authorization"]
        == "[redacted]"
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_the_http_journal_stays_bounded_under_a_request_run(settings: Settings) -> None:
    """5,000 HTTP requests into a ring of 200: the ring holds 200 and the process does not grow
    once it is full (resident memory measured between 1,000 and 5,000 requests)."""
    small = Settings(**{**settings.__dict__, "journal_max": 200, "auth_cache_seconds": 5.0})
    app = create_app(small, migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        lead = api.ok("POST", "lead/", {"name": "L"})["id"]
        for _ in range(1000):
            api.get("activity/", params={"lead_id": lead})
        mid = _rss_bytes()
        for _ in range(4000):
            api.get("activity/", params={"lead_id": lead})
        end = _rss_bytes()
        ring = app.state.emulator.journal.rings[api.org_id]
        assert len(ring.entries) == 200
        assert ring.dropped == 5001 - 200
        assert ring.bytes <= 200 * (small.journal_body_max + 1024)
        assert end - mid < 8 * 1024 * 1024, (mid, end)
    app.state.db.dispose()


def test_production_mode_journals_nothing(settings: Settings) -> None:
    app = create_app(Settings(**{**settings.__dict__, "mode": "production"}), migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        assert api.get("me/").status_code == 200
        assert "x-crmapi-warnings" not in api.get("me/", params={"bogus": "1"}).headers
        assert app.state.emulator is None
    app.state.db.dispose()
