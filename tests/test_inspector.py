"""The inspector over HTTP, on both backends: sign-in, sessions, CSRF, tenancy, sanitising.

The browser tests (test_inspector_browser.py) drive the same pages in Chromium."""

import re
from typing import Any

import orjson
import pytest
from sqlalchemy import delete
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.inspector import diff, timeline
from crmapi.inspector import session as sessions
from crmapi.inspector.pages import clock as clock_page
from crmapi.inspector.render import rich_text
from crmapi.settings import Settings
from crmapi.storage import tables as t
from tests.conftest import Api


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    # As the shared fixture, with snapshots in the test's own directory.
    return Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        background_workers=False,
        snapshot_dir=str(tmp_path / "snapshots"),
    )


UI = "/_crmapi/ui"
PAGES = ("leads/", "events/", "webhooks/", "journal/", "clock/", "organization/")
HOSTILE_NOTE = (
    "<p>Hostile <b>note</b></p><script>window.__xss = 1</script>"
    '<img src="x" onerror="window.__xss = 2"><a href="javascript:window.__xss = 3">link</a>'
    '<p onclick="window.__xss = 4" style="color:red">styled</p><iframe src="/"></iframe>'
)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in as ``key``; returns the session's CSRF token."""
    form = client.get(f"{UI}/signin/")
    response = client.post(
        f"{UI}/signin/",
        data={"csrf": _csrf(form.text), "api_key": key, "next": f"{UI}/leads/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return _csrf(client.get(f"{UI}/leads/").text)


def _lead(api: Api, name: str) -> dict[str, Any]:
    lead = api.ok("POST", "lead/", {"name": name, "contacts": [{"name": f"{name} Person"}]})
    return dict(lead)


def _webhook(api: Api) -> dict[str, Any]:
    body = {
        "url": "http://127.0.0.1:9/hook",
        "events": [{"object_type": "lead", "action": "created"}],
    }
    response = api.post("webhook/", body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@pytest.mark.parametrize(
    "path", ["/", f"{UI}/", *(f"{UI}/{p}" for p in PAGES), f"{UI}/leads/lead_x/"]
)
def test_pages_send_a_visitor_without_a_session_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 200
    assert "<h1>Sign in</h1>" in response.text


@pytest.mark.parametrize(
    "path", [f"{UI}/leads/lead_x/notes/", f"{UI}/webhooks/whsub_x/pause/", f"{UI}/signout/"]
)
def test_actions_without_a_session_are_refused(client: TestClient, path: str) -> None:
    assert client.post(path, data={"csrf": "x"}).status_code == 403


def test_sign_in_checks_the_key_with_the_api_authenticator(client: TestClient, api: Api) -> None:
    form = client.get(f"{UI}/signin/")
    csrf = _csrf(form.text)
    bad = client.post(f"{UI}/signin/", data={"csrf": csrf, "api_key": "api_nope"})
    assert bad.status_code == 401
    assert "That API key is not valid." in bad.text
    good = client.post(
        f"{UI}/signin/", data={"csrf": csrf, "api_key": api.key}, follow_redirects=False
    )
    assert good.status_code == 303
    assert good.headers["location"] == f"{UI}/leads/"
    cookie = good.headers["set-cookie"]
    assert cookie.startswith(f"{sessions.COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", f"Path={UI}/"):
        assert attribute.lower() in cookie.lower(), cookie
    # A fresh CSRF token after sign-in: one seen before it is worthless.
    assert _csrf(client.get(f"{UI}/leads/").text) != csrf


@pytest.mark.parametrize(
    ("next_value", "landing"),
    [
        (f"{UI}/events/", f"{UI}/events/"),
        ("https://evil.example/", f"{UI}/leads/"),
        ("//evil.example/x", f"{UI}/leads/"),
        ("/api/v1/lead/", f"{UI}/leads/"),
    ],
)
def test_sign_in_redirects_only_inside_the_inspector(
    client: TestClient, api: Api, next_value: str, landing: str
) -> None:
    csrf = _csrf(client.get(f"{UI}/signin/").text)
    response = client.post(
        f"{UI}/signin/",
        data={"csrf": csrf, "api_key": api.key, "next": next_value},
        follow_redirects=False,
    )
    assert response.headers["location"] == landing


def test_sign_in_without_its_csrf_token_is_refused(client: TestClient, api: Api) -> None:
    client.get(f"{UI}/signin/")
    assert client.post(f"{UI}/signin/", data={"api_key": api.key}).status_code == 403


def test_every_page_renders_the_signed_in_organization(
    client: TestClient, api: Api, other: Api
) -> None:
    _lead(api, "Wayne Enterprises")
    _lead(other, "Globex Secret")
    _webhook(api)
    sign_in(client, api.key)
    for page in PAGES:
        response = client.get(f"{UI}/{page}")
        assert response.status_code == 200, (page, response.text[-500:])
        assert "Acme · Bruce Wayne" in response.text
        assert "Globex" not in response.text
        assert "Content-Security-Policy" in response.headers or "content-security-policy" in {
            k.lower() for k in response.headers
        }
    assert "Wayne Enterprises" in client.get(f"{UI}/leads/").text


def test_the_lead_page_shows_contacts_deals_tasks_and_the_timeline(
    client: TestClient, api: Api
) -> None:
    lead = _lead(api, "Wayne Enterprises")
    api.ok("POST", "opportunity/", {"lead_id": lead["id"], "value": 120000, "confidence": 60})
    api.ok("POST", "task/", {"lead_id": lead["id"], "text": "Call Lucius"})
    call = {
        "lead_id": lead["id"],
        "direction": "inbound",
        "status": "completed",
        "duration": 95,
        "recording_url": "https://recordings.example/call.mp3",
    }
    api.ok("POST", "activity/call/", call)
    api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "Bat-signal installed."})
    sign_in(client, api.key)
    html = client.get(f"{UI}/leads/{lead['id']}/").text
    expected = (
        "Wayne Enterprises Person",
        "60% confidence",
        "Call Lucius",
        "Inbound",
        "1:35",
        "answered",
        'href="https://recordings.example/call.mp3"',
        "Bat-signal installed.",
        "Lead created",
        '<details class="raw">',
    )
    for text in expected:
        assert text in html, text
    only_calls = client.get(f"{UI}/leads/{lead['id']}/", params={"type": "Call"}).text
    assert 'data-type="Call"' in only_calls
    assert 'data-type="Note"' not in only_calls


def test_the_search_box_passes_its_query_to_the_lead_listing(client: TestClient, api: Api) -> None:
    _lead(api, "Wayne Enterprises")
    sign_in(client, api.key)
    response = client.get(f"{UI}/leads/", params={"query": 'name:"Wayne"'})
    assert response.status_code == 200
    assert 'value="name:&#34;Wayne&#34;"' in response.text


def test_adding_a_note_is_an_api_write(client: TestClient, api: Api) -> None:
    lead = _lead(api, "Wayne Enterprises")
    csrf = sign_in(client, api.key)
    response = client.post(
        f"{UI}/leads/{lead['id']}/notes/", data={"csrf": csrf, "note": "From the inspector"}
    )
    assert response.status_code == 200
    notes = api.ok("GET", "activity/note/", params={"lead_id": lead["id"]})["data"]
    assert [n["note"] for n in notes] == ["From the inspector"]
    events = api.ok("GET", "event/", params={"object_type": "activity.note", "action": "created"})
    assert len(events["data"]) == 1


@pytest.mark.parametrize(
    ("form", "headers"),
    [
        ({}, {}),
        ({"csrf": "forged"}, {}),
        ({"csrf": None}, {"origin": "http://evil.example"}),
    ],
    ids=["no-token", "wrong-token", "other-origin"],
)
def test_actions_need_the_sessions_csrf_token_and_origin(
    client: TestClient, api: Api, form: dict[str, Any], headers: dict[str, str]
) -> None:
    lead = _lead(api, "Wayne Enterprises")
    hook = _webhook(api)
    csrf = sign_in(client, api.key)
    data = {k: (csrf if v is None else v) for k, v in form.items()}
    note = client.post(
        f"{UI}/leads/{lead['id']}/notes/", data={**data, "note": "x"}, headers=headers
    )
    pause = client.post(f"{UI}/webhooks/{hook['id']}/pause/", data=data, headers=headers)
    assert (note.status_code, pause.status_code) == (403, 403)
    assert api.ok("GET", "activity/note/", params={"lead_id": lead["id"]})["data"] == []
    assert api.ok("GET", f"webhook/{hook['id']}/")["status"] == "active"


def test_pause_and_resume_go_through_the_webhook_api(client: TestClient, api: Api) -> None:
    hook = _webhook(api)
    csrf = sign_in(client, api.key)
    client.post(f"{UI}/webhooks/{hook['id']}/pause/", data={"csrf": csrf})
    paused = api.ok("GET", f"webhook/{hook['id']}/")
    assert (paused["status"], paused["pause_reason"]) == ("paused", "api")
    assert "Resume" in client.get(f"{UI}/webhooks/").text
    client.post(f"{UI}/webhooks/{hook['id']}/resume/", data={"csrf": csrf})
    assert api.ok("GET", f"webhook/{hook['id']}/")["status"] == "active"


def test_one_organizations_session_cannot_see_or_act_on_anothers_data(
    client: TestClient, api: Api, other: Api
) -> None:
    theirs = _lead(other, "Globex Secret")
    their_hook = _webhook(other)
    csrf = sign_in(client, api.key)
    page = client.get(f"{UI}/leads/{theirs['id']}/")
    assert page.status_code == 404
    assert "Globex" not in page.text
    note = client.post(f"{UI}/leads/{theirs['id']}/notes/", data={"csrf": csrf, "note": "x"})
    assert note.status_code == 404
    pause = client.post(f"{UI}/webhooks/{their_hook['id']}/pause/", data={"csrf": csrf})
    assert pause.status_code == 404
    assert other.ok("GET", "activity/note/", params={"lead_id": theirs["id"]})["data"] == []
    assert other.ok("GET", f"webhook/{their_hook['id']}/")["status"] == "active"
    events = client.get(f"{UI}/events/", params={"object_id": theirs["id"], "object_type": "lead"})
    assert theirs["id"] not in events.text.replace(f'value="{theirs["id"]}"', "")


def test_a_tampered_cookie_or_a_dead_key_ends_the_session(
    app: Any, client: TestClient, api: Api
) -> None:
    sign_in(client, api.key)
    value = client.cookies[sessions.COOKIE]
    tampered = {"cookie": f"{sessions.COOKIE}={value[:-2]}xx"}
    with TestClient(app, base_url="http://testserver") as stranger:
        assert (
            stranger.get(f"{UI}/leads/", headers=tampered, follow_redirects=False).status_code
            == 303
        )
        valid = {"cookie": f"{sessions.COOKIE}={value}"}
        assert stranger.get(f"{UI}/leads/", headers=valid).status_code == 200
    with app.state.db.write() as conn:
        conn.execute(delete(t.api_key).where(t.api_key.c.organization_id == api.org_id))
    response = client.get(f"{UI}/leads/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{UI}/signin/")


def test_a_note_with_script_and_event_handlers_renders_inert(client: TestClient, api: Api) -> None:
    lead = _lead(api, "Wayne Enterprises")
    api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note_html": HOSTILE_NOTE})
    sign_in(client, api.key)
    html = client.get(f"{UI}/leads/{lead['id']}/", params={"type": "Note"}).text
    rendered = html.split('<div class="rich">', 1)[1].split("</div>", 1)[0]
    assert "<b>note</b>" in rendered
    for dangerous in ("<script", "onerror", "onclick", "javascript:", "<iframe", "style="):
        assert dangerous not in rendered, dangerous
    assert "<script>window" not in html  # not even in the raw JSON (escaped there)


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>a</p>", "<p>a</p>"),
        ("<body><p>a</p></body>", "<p>a</p>"),
        ("<script>alert(1)</script>b", "b"),
        ('<img src=x onerror="alert(1)">', ""),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
        (
            '<a href="https://close.com">x</a>',
            '<a href="https://close.com" rel="noopener noreferrer nofollow">x</a>',
        ),
        ("<svg onload=alert(1)><circle/></svg>", ""),
    ],
)
def test_rich_text_keeps_formatting_and_drops_everything_active(markup: str, expected: str) -> None:
    assert str(rich_text(markup)) == expected


def test_emails_of_one_thread_are_grouped_in_feed_order() -> None:
    items = [
        {"_type": "Email", "id": "e3", "thread_id": "t1"},
        {"_type": "Note", "id": "n1"},
        {"_type": "Email", "id": "e2", "thread_id": "t2"},
        {"_type": "Email", "id": "e1", "thread_id": "t1"},
    ]
    entries = timeline._entries(items, {})
    assert [(e.activity["id"], [m["id"] for m in e.emails]) for e in entries] == [
        ("e3", ["e3", "e1"]),
        ("n1", []),
        ("e2", ["e2"]),
    ]


def test_static_files_ship_in_the_package(client: TestClient) -> None:
    for name, kind in (("inspector.css", "text/css"), ("htmx.min.js", "text/javascript")):
        response = client.get(f"{UI}/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
    assert client.get(f"{UI}/static/../settings.py").status_code == 404


def test_the_inspector_is_absent_in_production_mode(settings: Settings, api: Api) -> None:
    app = create_app(Settings(**{**settings.__dict__, "mode": "production"}), migrate_schema=False)
    with TestClient(app) as client:
        for path in ("/", f"{UI}/", f"{UI}/signin/", f"{UI}/leads/", f"{UI}/static/htmx.min.js"):
            assert client.get(path, follow_redirects=False).status_code == 404, path
    app.state.db.dispose()


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {
                "data": {"name": "B", "n": 1},
                "previous_data": {"name": "A"},
                "changed_fields": ["name"],
            },
            [("name", "A", "B")],
        ),
        (
            {"data": {"name": "A", "x": None}, "previous_data": {}},
            [("name", None, "A"), ("x", None, None)],
        ),
        (
            {
                "data": {"contacts": [{"id": "c1", "name": "Ann"}, {"id": "c2", "name": "Bo"}]},
                "previous_data": {"contacts": [{"id": "c1", "name": "Anne"}]},
                "changed_fields": ["contacts"],
            },
            [
                ("contacts[c1].name", "Anne", "Ann"),
                ("contacts[c2]", None, {"id": "c2", "name": "Bo"}),
            ],
        ),
        (
            {"data": {"a": {"b": [1, 3]}}, "previous_data": {"a": {"b": [1, 2]}}},
            [("a.b[1]", 2, 3)],
        ),
        (
            {"data": {"tags": ["x", "y"]}, "previous_data": {"tags": ["x"]}},
            [("tags", ["x"], ["x", "y"])],
        ),
    ],
    ids=["changed-field", "created", "list-by-id", "nested-index", "list-grown"],
)
def test_event_diffs_descend_into_objects_and_lists(
    event: dict[str, Any], expected: list[tuple[str, Any, Any]]
) -> None:
    assert diff.changes(event) == expected


def test_sign_out_ends_the_session(client: TestClient, api: Api) -> None:
    csrf = sign_in(client, api.key)
    response = client.post(f"{UI}/signout/", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert sessions.COOKIE in response.headers["set-cookie"]
    assert (
        "Max-Age=0" in response.headers["set-cookie"]
        or "expires=" in response.headers["set-cookie"].lower()
    )
    assert client.get(f"{UI}/leads/", follow_redirects=False).status_code == 303


def test_the_event_log_pages_with_the_apis_cursors(client: TestClient, api: Api) -> None:
    lead = _lead(api, "Wayne Enterprises")
    for i in range(13):  # with the lead's own events: more than one page of 25
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": f"n{i}"})
        api.ok("PUT", f"lead/{lead['id']}/", {"description": f"d{i}"})
    sign_in(client, api.key)
    first = client.get(f"{UI}/events/", params={"lead_id": lead["id"]}).text
    older = re.search(r'href="\?([^"]*cursor=[^"]+)">Older', first)
    assert older, first[-2000:]
    second = client.get(f"{UI}/events/?" + older.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert second.text.count('class="event"') >= 1
    assert ">Newer</a>" in second.text
    ids = set(re.findall(r'id="ev-(ev_[^"]+)"', first))
    assert ids
    assert ids.isdisjoint(re.findall(r'id="ev-(ev_[^"]+)"', second.text))


def test_an_unknown_inspector_path_is_a_404_page(client: TestClient) -> None:
    response = client.get(f"{UI}/nope/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert client.get("/api/v1/nope/").json() == {
        "error": "The requested URL was not found on the server."
    }


# The emulator pages: journal, clock and faults, deliveries and sinks, reset and snapshots.

FAR = "2030-01-01T10:00:00.000000+00:00"


def _scheduled_email(api: Api, lead_id: str) -> dict[str, Any]:
    body = {
        "lead_id": lead_id,
        "status": "scheduled",
        "date_scheduled": FAR,
        "sender": "sales@acme.example",
        "to": ["jo@wayne.example"],
        "subject": "Hello",
        "body_text": "Hi",
    }
    return dict(api.ok("POST", "activity/email/", body))


def _tasks_fail(rule_id: str, status: int) -> str:
    """A fault rule in the plane's JSON: ``GET /task/`` answers ``status``."""
    effect = {"kind": "status", "status": status}
    return orjson.dumps(
        {"id": rule_id, "match": {"path": "/api/v1/task/"}, "effect": effect}
    ).decode()


def _delivery(client: TestClient, api: Api) -> tuple[dict[str, Any], str]:
    """A subscription, a lead (its event queued for it) and the page's delivery id."""
    hook = _webhook(api)
    _lead(api, "Wayne Enterprises")
    html = client.get(f"{UI}/webhooks/").text
    found = re.search(r'<li class="delivery" id="(whdel_[^"]+)"', html)
    assert found, html[-3000:]
    return hook, found.group(1)


def test_the_journal_shows_this_organizations_requests_warnings_and_unrouted(
    client: TestClient, api: Api, other: Api
) -> None:
    api.ok("GET", "lead/", params={"bogus_param": "1"})
    assert api.get("leadz/").status_code == 404
    other.ok("GET", "lead/", params={"globex_only": "1"})
    sign_in(client, api.key)
    html = client.get(f"{UI}/journal/").text
    assert "bogus_param" in html
    assert "Strict mode:" in html  # the warning on the entry
    assert "/api/v1/leadz/" in html.split('id="unrouted-h"', 1)[1]
    assert "globex_only" not in html
    warned = client.get(f"{UI}/journal/", params={"warnings": "1"}).text
    assert "bogus_param" in warned
    assert "/api/v1/leadz/" not in warned.split('id="unrouted-h"', 1)[0]
    only_404 = client.get(f"{UI}/journal/", params={"status": "404"}).text
    assert "bogus_param" not in only_404.split('id="strict-h"', 1)[0]
    assert client.get(f"{UI}/journal/", params={"status": "x"}).status_code == 400


def test_the_strict_level_is_set_for_this_organization_only(
    client: TestClient, api: Api, other: Api
) -> None:
    csrf = sign_in(client, api.key)
    client.post(f"{UI}/journal/strict/", data={"csrf": csrf, "level": "strict"})
    assert api.get("lead/", params={"bogus_param": "1"}).status_code == 400
    assert other.get("lead/", params={"bogus_param": "1"}).status_code == 200
    assert '<option value="strict" selected>' in client.get(f"{UI}/journal/").text
    client.post(f"{UI}/journal/strict/", data={"csrf": csrf, "level": ""})
    assert api.get("lead/", params={"bogus_param": "1"}).status_code == 200
    bad = client.post(f"{UI}/journal/strict/", data={"csrf": csrf, "level": "loud"})
    assert bad.status_code == 400


def test_the_live_tail_returns_only_newer_entries_as_an_htmx_partial(
    client: TestClient, api: Api
) -> None:
    sign_in(client, api.key)
    page = client.get(f"{UI}/journal/").text
    tail = re.search(r'hx-get="([^"]+)"', page)
    assert tail
    url = tail.group(1).replace("&amp;", "&")
    assert client.get(url).status_code == 204  # nothing new: nothing swapped
    api.ok("GET", "lead/", params={"tail_marker": "1"})
    partial = client.get(url)
    assert partial.status_code == 200
    assert "tail_marker" in partial.text
    assert 'hx-swap-oob="afterbegin:#journal-entries"' in partial.text
    assert "<html" not in partial.text
    following = re.search(r'hx-get="([^"]+)"', partial.text)
    assert following
    assert client.get(following.group(1).replace("&amp;", "&")).status_code == 204


def test_the_har_download_holds_only_this_organizations_journal(
    client: TestClient, api: Api, other: Api
) -> None:
    api.ok("GET", "lead/", params={"mine": "1"})
    other.ok("GET", "lead/", params={"theirs": "1"})
    sign_in(client, api.key)
    response = client.get(f"{UI}/journal/har/")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert api.org_id in response.headers["content-disposition"]
    urls = [e["request"]["url"] for e in response.json()["log"]["entries"]]
    assert any("mine=1" in u for u in urls)
    assert not any("theirs" in u for u in urls)


def test_advancing_the_clock_sends_a_scheduled_email(client: TestClient, api: Api) -> None:
    lead = _lead(api, "Wayne Enterprises")
    email = _scheduled_email(api, lead["id"])
    csrf = sign_in(client, api.key)
    page = client.get(f"{UI}/clock/").text
    due = page.split('id="due-h"', 1)[1].split("</section>", 1)[0]
    assert email["id"] in due
    assert "Send a scheduled message" in due
    assert "2030-01-01 10:00 UTC" in due
    small = client.post(f"{UI}/clock/advance/", data={"csrf": csrf, "by": "1h"})
    assert small.status_code == 200
    assert api.ok("GET", f"activity/email/{email['id']}/")["status"] == "scheduled"
    done = client.post(f"{UI}/clock/advance/", data={"csrf": csrf, "by": "idle"})
    assert "Advanced: 1 item of due work fired." in done.text
    assert api.ok("GET", f"activity/email/{email['id']}/")["status"] == "sent"
    assert "Nothing is due" in done.text
    assert "2030-01-01 10:00 UTC" in done.text.split('class="now"', 1)[1][:200]
    bad = client.post(f"{UI}/clock/advance/", data={"csrf": csrf, "by": "soon"})
    assert bad.status_code == 400
    frozen = client.post(f"{UI}/clock/mode/", data={"csrf": csrf, "mode": "frozen"})
    assert "mode-frozen" in frozen.text


def test_fault_templates_turn_on_fire_count_and_turn_off(
    client: TestClient, api: Api, other: Api
) -> None:
    csrf = sign_in(client, api.key)
    storm = "template-503-storm"
    client.post(f"{UI}/clock/faults/", data={"csrf": csrf, "template": storm})
    assert api.get("lead/").status_code == 503
    assert other.get("lead/").status_code == 200  # only this organization's requests
    page = client.get(f"{UI}/clock/").text
    card = page.split(f'id="{storm}"', 1)[1].split("</li>", 1)[0]
    assert '<strong class="fired">1</strong>' in card
    assert "Turn off" in card
    client.post(f"{UI}/clock/faults/remove/", data={"csrf": csrf, "id": storm})
    assert api.get("lead/").status_code == 200
    for template in clock_page.TEMPLATES:  # each template is a rule the plane accepts
        added = client.post(f"{UI}/clock/faults/", data={"csrf": csrf, "template": template.id})
        assert added.status_code == 200, added.text
    throttled = [api.get("lead/") for _ in range(3)][-1]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["message"] == "API call count exceeded for this period"


def test_a_custom_fault_rule_uses_the_planes_format(client: TestClient, api: Api) -> None:
    csrf = sign_in(client, api.key)
    rule = _tasks_fail("no-tasks", 500)
    client.post(f"{UI}/clock/faults/", data={"csrf": csrf, "rule": rule})
    assert api.get("task/").status_code == 500
    assert api.get("lead/").status_code == 200
    html = client.get(f"{UI}/clock/").text
    assert 'id="rule-no-tasks"' in html
    assert client.post(f"{UI}/clock/faults/", data={"csrf": csrf, "rule": "{"}).status_code == 400
    unknown = client.post(f"{UI}/clock/faults/", data={"csrf": csrf, "rule": '{"effect": {}}'})
    assert unknown.status_code == 400
    assert "effect.kind" in unknown.text


def test_deliveries_show_attempts_and_redeliver_and_replay(client: TestClient, api: Api) -> None:
    csrf = sign_in(client, api.key)
    hook, delivery = _delivery(client, api)
    flushed = client.post(f"{UI}/webhooks/{hook['id']}/flush/", data={"csrf": csrf})
    assert _attempts_count(flushed.text, delivery) == 1  # the first try, sent now
    client.post(
        f"{UI}/webhooks/deliveries/redeliver/", data={"csrf": csrf, "delivery_id": delivery}
    )
    client.post(
        f"{UI}/webhooks/deliveries/redeliver/", data={"csrf": csrf, "delivery_id": delivery}
    )
    html = client.get(f"{UI}/webhooks/").text
    card = html.split(f'id="{delivery}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="attempts-count">3</span> attempts' in card
    assert card.count("<tr><td>") == 3  # every attempt, each with its error
    event = re.search(r"event <code>(ev_[^<]+)</code>", card)
    assert event
    replayed = client.post(
        f"{UI}/webhooks/events/replay/",
        data={"csrf": csrf, "event_id": event.group(1), "subscription_id": hook["id"]},
    )
    assert replayed.status_code == 200
    assert replayed.text.count('class="delivery"') == 2


def test_redelivery_is_immediate_for_an_organization_on_its_own_clock(
    client: TestClient, api: Api
) -> None:
    csrf = sign_in(client, api.key)
    _hook, delivery = _delivery(client, api)
    advanced = client.post(f"{UI}/clock/advance/", data={"csrf": csrf, "by": "1m"})
    assert "mode-offset" in advanced.text  # the organization has a clock of its own now
    before = _attempts_count(client.get(f"{UI}/webhooks/").text, delivery)
    page = client.post(
        f"{UI}/webhooks/deliveries/redeliver/", data={"csrf": csrf, "delivery_id": delivery}
    )
    assert _attempts_count(page.text, delivery) == before + 1


def _attempts_count(html: str, delivery: str) -> int:
    card = html.split(f'id="{delivery}"', 1)[1]
    found = re.search(r'<span class="attempts-count">(\d+)</span>', card)
    assert found
    return int(found.group(1))


def test_sinks_are_listed_created_made_to_fail_and_deleted(client: TestClient, api: Api) -> None:
    csrf = sign_in(client, api.key)
    client.post(f"{UI}/webhooks/sinks/", data={"csrf": csrf, "name": "crm-events"})
    html = client.get(f"{UI}/webhooks/").text
    assert f"/_crmapi/sinks/{api.org_id}/crm-events/" in html
    client.post(
        f"{UI}/webhooks/sinks/fail/", data={"csrf": csrf, "name": "crm-events", "next": "2"}
    )
    assert "the next 2 with 500" in client.get(f"{UI}/webhooks/").text
    bad = client.post(f"{UI}/webhooks/sinks/", data={"csrf": csrf, "name": "no spaces"})
    assert bad.status_code == 400
    client.post(f"{UI}/webhooks/sinks/delete/", data={"csrf": csrf, "name": "crm-events"})
    assert "crm-events" not in client.get(f"{UI}/webhooks/").text


def test_snapshot_restore_shows_the_dry_run_diff_first(client: TestClient, api: Api) -> None:
    _lead(api, "Kept")
    csrf = sign_in(client, api.key)
    saved = client.post(f"{UI}/organization/snapshots/", data={"csrf": csrf, "name": "before"})
    assert 'id="snap-before"' in saved.text
    _lead(api, "Added later")
    preview = client.get(f"{UI}/organization/restore/", params={"name": "before"})
    assert preview.status_code == 200
    row = preview.text.split('data-table="lead"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="del">1</td>' in row  # the later lead would go
    assert len(api.ok("GET", "lead/")["data"]) == 2  # a dry run changes nothing
    unconfirmed = client.post(
        f"{UI}/organization/restore/", data={"csrf": csrf, "name": "before"}, follow_redirects=False
    )
    assert unconfirmed.headers["location"] == f"{UI}/organization/restore/?name=before"
    assert len(api.ok("GET", "lead/")["data"]) == 2
    client.post(
        f"{UI}/organization/restore/", data={"csrf": csrf, "name": "before", "confirm": "yes"}
    )
    assert [lead["name"] for lead in api.ok("GET", "lead/")["data"]] == ["Kept"]
    assert client.get(f"{UI}/organization/restore/", params={"name": "nope"}).status_code == 404


def test_reset_needs_its_confirmation(client: TestClient, api: Api) -> None:
    _lead(api, "Wayne Enterprises")
    csrf = sign_in(client, api.key)
    refused = client.post(f"{UI}/organization/reset/", data={"csrf": csrf, "to": "empty"})
    assert refused.status_code == 400
    assert len(api.ok("GET", "lead/")["data"]) == 1
    done = client.post(
        f"{UI}/organization/reset/", data={"csrf": csrf, "to": "empty", "confirm": "yes"}
    )
    assert "The organization was reset." in done.text
    assert api.ok("GET", "lead/")["data"] == []
    assert client.get(f"{UI}/organization/").status_code == 200  # the key survives a reset


def test_another_organizations_session_cannot_act_on_the_emulator_pages(
    client: TestClient, api: Api, other: Api
) -> None:
    # Acme's state: a fault rule, a delivery, a sink, a snapshot, a scheduled email.
    acme = sign_in(client, api.key)
    rule = _tasks_fail("acme-rule", 503)
    client.post(f"{UI}/clock/faults/", data={"csrf": acme, "rule": rule})
    hook, delivery = _delivery(client, api)
    client.post(f"{UI}/webhooks/sinks/", data={"csrf": acme, "name": "acme-sink"})
    client.post(f"{UI}/organization/snapshots/", data={"csrf": acme, "name": "acme-snap"})
    email = _scheduled_email(api, _lead(api, "Acme Scheduled")["id"])
    event = api.ok("GET", "event/", params={"object_type": "lead", "action": "created"})["data"][0][
        "id"
    ]
    client.cookies.clear()
    globex = sign_in(client, other.key)
    for page in ("journal/", "clock/", "webhooks/", "organization/"):
        html = client.get(f"{UI}/{page}").text
        for secret in ("acme-rule", delivery, "acme-sink", "acme-snap", email["id"], api.org_id):
            assert secret not in html, (page, secret)
    attempts = [
        ("clock/faults/remove/", {"id": "acme-rule"}),
        ("webhooks/deliveries/redeliver/", {"delivery_id": delivery}),
        (f"webhooks/{hook['id']}/flush/", {}),
        ("webhooks/events/replay/", {"event_id": event, "subscription_id": hook["id"]}),
        ("webhooks/sinks/delete/", {"name": "acme-sink"}),
        ("webhooks/sinks/fail/", {"name": "acme-sink"}),
        ("organization/snapshots/delete/", {"name": "acme-snap"}),
        ("organization/restore/", {"name": "acme-snap", "confirm": "yes"}),
    ]
    for path, form in attempts:
        response = client.post(f"{UI}/{path}", data={"csrf": globex, **form})
        assert response.status_code == 404, (path, response.status_code)
    assert (
        client.get(f"{UI}/organization/restore/", params={"name": "acme-snap"}).status_code == 404
    )
    # Globex's advance and reset move only Globex.
    client.post(f"{UI}/clock/advance/", data={"csrf": globex, "by": "idle"})
    client.post(f"{UI}/organization/reset/", data={"csrf": globex, "to": "empty", "confirm": "yes"})
    assert api.ok("GET", f"activity/email/{email['id']}/")["status"] == "scheduled"
    assert len(api.ok("GET", "lead/")["data"]) == 2
    assert api.get("task/").status_code == 503  # Acme's rule is still there, and fires
    client.cookies.clear()
    sign_in(client, api.key)
    html = client.get(f"{UI}/webhooks/").text
    assert "acme-sink" in html
    assert '<span class="attempts-count">0</span>' in html.split(f'id="{delivery}"', 1)[1]
    assert 'id="snap-acme-snap"' in client.get(f"{UI}/organization/").text


EMULATOR_ACTIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("journal/clear/", {}),
    ("journal/strict/", {"level": "strict"}),
    ("clock/advance/", {"by": "idle"}),
    ("clock/mode/", {"mode": "frozen"}),
    ("clock/faults/", {"template": "template-503-storm"}),
    ("clock/faults/remove/", {"id": "x"}),
    ("webhooks/deliveries/redeliver/", {"delivery_id": "x"}),
    ("webhooks/whsub_x/flush/", {}),
    ("webhooks/events/replay/", {"event_id": "x", "subscription_id": "x"}),
    ("webhooks/sinks/", {"name": "s"}),
    ("webhooks/sinks/fail/", {"name": "s"}),
    ("webhooks/sinks/delete/", {"name": "s"}),
    ("organization/reset/", {"to": "empty", "confirm": "yes"}),
    ("organization/snapshots/", {"name": "s"}),
    ("organization/snapshots/delete/", {"name": "s"}),
    ("organization/restore/", {"name": "s", "confirm": "yes"}),
)


@pytest.mark.parametrize(("path", "form"), EMULATOR_ACTIONS, ids=[a[0] for a in EMULATOR_ACTIONS])
def test_every_emulator_action_needs_the_csrf_token(
    client: TestClient, api: Api, path: str, form: dict[str, str]
) -> None:
    _lead(api, "Wayne Enterprises")
    csrf = sign_in(client, api.key)
    assert client.post(f"{UI}/{path}", data=form).status_code == 403
    assert client.post(f"{UI}/{path}", data={**form, "csrf": csrf[:-1]}).status_code == 403
    assert len(api.ok("GET", "lead/")["data"]) == 1
    assert api.get("lead/", params={"bogus": "1"}).status_code == 200  # no fault, not strict
    html = client.get(f"{UI}/clock/").text
    assert "mode-real" in html
    assert "No fault rules" in html
    assert "No sinks yet." in client.get(f"{UI}/webhooks/").text
    assert "No snapshots yet." in client.get(f"{UI}/organization/").text
