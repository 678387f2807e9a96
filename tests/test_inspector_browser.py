"""The inspector in a real browser: Debian's Chromium, headless, driven by Playwright, against
a real ``crmapi serve --demo`` on a free port (SQLite in a temporary directory).

Playwright comes from PyPI; its own browser download is never used (``executable_path``).
Without Chromium the tests skip, unless ``CRMAPI_REQUIRE_BROWSER=1`` (set by ``make test`` and
so by CI), which makes the absence a failure. `make screenshots` retakes docs/img/inspector-*.png.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from crmapi.activities.registry import BY_TYPE

# One server per module, and later pages check what earlier tests made (the sink, the
# snapshot): the module's tests run on one xdist worker, in order.
pytestmark = pytest.mark.xdist_group("browser")
CHROMIUM = os.environ.get("CRMAPI_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The docs' screenshots are retaken only when asked (``make screenshots``): a test run must not
# leave the checkout changed. Otherwise the pages are still shot, into a scratch directory.
SHOTS = (
    Path(__file__).resolve().parent.parent / "docs" / "img"
    if os.environ.get("CRMAPI_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "crmapi-screenshots"
)
UI = "/_crmapi/ui"
HOSTILE_NOTE = (
    "<p>Hostile <b>note</b></p><script>window.__xss = 1</script>"
    '<img src="x" onerror="window.__xss = 2"><a href="javascript:window.__xss = 3">link</a>'
    '<p onclick="window.__xss = 4" onmouseover="window.__xss = 5">hover me</p>'
)
# What each activity type's entry must show, the way Close shows it.
TYPE_MARKS = {
    "Email": ("Direction", "Status", "Sent"),
    "Call": ("Direction", "Duration", "Outcome", "Recording"),
    "Note": (),
    "SMS": ("Direction", "Status"),
    "WhatsAppMessage": ("Direction", "Remote"),
    "Meeting": ("Starts", "Ends"),
    "LeadStatusChange": ("→",),
    "OpportunityStatusChange": ("→",),
    "FormSubmission": ("Contact us",),
    "CustomActivity": ("Outcome", "Attendees"),
    "LeadMerge": ("(duplicate)", "→"),
    "TaskCompleted": ("Done",),
    "Created": ("Lead created",),
}


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _playwright() -> Any:
    required = os.environ.get("CRMAPI_REQUIRE_BROWSER") == "1"
    reason = ""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if not reason and not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason:
        if required:
            pytest.fail(f"The browser tests are required (CRMAPI_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    demo_key: str
    other_key: str
    showcase: str  # the demo lead that holds every activity type
    other_lead: str
    webhook: str

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", auth=(key, ""), timeout=30)


def _wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            urllib.request.urlopen(url + "/api/v1/openapi.json", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "crmapi", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _showcase(database_url: str) -> str:
    """The lead the demo gave every activity type, by the demo's own rule."""
    from crmapi import demo_story
    from crmapi.storage.db import Database

    db = Database(database_url)
    try:
        with db.read() as conn:
            org = conn.exec_driver_sql(
                "SELECT id FROM organization WHERE name = 'Demo Company'"
            ).scalar_one()
            return demo_story.showcase_lead(conn, org)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    _playwright()  # fail or skip before the slow part
    tmp = Path(tempfile.mkdtemp(prefix="crmapi-inspector-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp / 'crmapi.db'}"
    env = {
        **os.environ,
        "CRMAPI_DATABASE_URL": database,
        "CRMAPI_SNAPSHOT_DIR": str(tmp / "snapshots"),
        "PYTHONUNBUFFERED": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "crmapi", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        while not line.startswith("API key: "):
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "crmapi serve --demo printed no key"
        demo_key = line.split(": ", 1)[1].strip()
        _wait_up(url, proc)
        created = _cli(env, "org", "create", "--name", "Initech", "--email", "it@initech.example")
        other = re.search(r'"api_key":"([^"]+)"', created)
        assert other
        srv = Server(url, demo_key, other.group(1), "", "", "")
        with srv.api(srv.other_key) as api:
            srv.other_lead = api.post("/lead/", json={"name": "Initech TPS Reports"}).json()["id"]
        with srv.api(demo_key) as api:
            srv.showcase = _showcase(database)
            events = [{"object_type": "lead", "action": "created"}]
            hook = {"url": f"{url}/_crmapi/ui/hook", "events": events}
            srv.webhook = api.post("/webhook/", json=hook).json()["id"]
            note = {"lead_id": srv.showcase, "note_html": HOSTILE_NOTE}
            assert api.post("/activity/note/", json=note).status_code == 200
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)


class Browser:
    """Chromium with a fresh profile per ``context()`` (one per signed-in organization)."""

    def __init__(self, playwright: Any) -> None:
        self.playwright = playwright
        self.contexts: list[Any] = []
        self.profiles: list[str] = []

    def context(self, **options: Any) -> Any:
        profile = tempfile.mkdtemp(prefix="crmapi-chromium-")
        self.profiles.append(profile)
        context = self.playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport=options.pop("viewport", {"width": 1280, "height": 900}),
            **options,
        )
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return context


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    with _playwright()() as playwright:
        b = Browser(playwright)
        yield b
        for context in b.contexts:
            context.close()
        for profile in b.profiles:
            shutil.rmtree(profile, ignore_errors=True)


def sign_in(context: Any, server: Server, key: str) -> Any:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/_crmapi/ui/leads/$"))
    return page


@pytest.fixture(scope="module")
def demo(browser: Browser, server: Server) -> Any:
    return sign_in(browser.context(), server, server.demo_key)


def shot(page: Any, name: str, **options: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"inspector-{name}.png"), **options)


def test_sign_in_refuses_a_bad_key_and_accepts_a_good_one(browser: Browser, server: Server) -> None:
    page = browser.context().new_page()
    page.goto(server.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    page.keyboard.press("Tab")  # keyboard users reach the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    shot(page, "signin")
    page.get_by_label("API key").fill("api_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."
    page.get_by_label("API key").fill(server.demo_key)
    page.get_by_label("API key").press("Enter")
    page.wait_for_url(re.compile(r".*/leads/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Leads"
    cookie = next(c for c in page.context.cookies() if c["name"] == "crmapi_inspector")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        True,
        "Strict",
        "/_crmapi/ui/",
    )
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session


def test_leads_list_and_search_box(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/leads/")
    assert demo.locator("tbody tr").count() == 25
    assert "TPS Reports" not in demo.content()
    shot(demo, "leads")
    demo.get_by_label("Search leads").fill("Acme")
    demo.get_by_role("button", name="Search").click()
    demo.wait_for_url(re.compile(r".*query=Acme"))
    assert demo.get_by_label("Search leads").input_value() == "Acme"


def test_the_showcase_lead_renders_every_activity_type(demo: Any, server: Server) -> None:
    lead_url = server.url + f"{UI}/leads/{server.showcase}/"
    demo.goto(lead_url)
    for heading in ("Contacts", "Opportunities", "Tasks", "Timeline"):
        assert demo.get_by_role("heading", name=heading, level=2).is_visible()
    shot(demo, "lead")
    demo.locator("ol.timeline").scroll_into_view_if_needed()
    demo.locator("#timeline-h").evaluate("h => h.scrollIntoView()")
    shot(demo, "timeline")
    assert set(TYPE_MARKS) == {n for n, s in BY_TYPE.items() if s.in_default_feed}
    for kind, marks in TYPE_MARKS.items():
        choice = "Custom" if kind == "CustomActivity" else kind
        demo.goto(f"{lead_url}?type={choice}#timeline")
        items = demo.locator(f'li.item[data-type="{kind}"]')
        assert items.count() >= 1, kind
        assert demo.locator("li.item").count() == items.count(), kind
        text = items.first.inner_text()
        for mark in marks:
            assert mark in text, (kind, mark, text)
    # The raw JSON behind an entry, by keyboard.
    demo.goto(f"{lead_url}?type=Call#timeline")
    summary = demo.locator("li.item details summary").first
    summary.focus()
    summary.press("Enter")
    raw = demo.locator("li.item details pre").first
    assert raw.is_visible()
    assert '"_type": "Call"' in raw.inner_text()


def test_the_timeline_pages_and_filters_by_user_and_date(demo: Any, server: Server) -> None:
    lead_url = server.url + f"{UI}/leads/{server.showcase}/"
    demo.goto(lead_url)
    # 25 activities a page; a thread's emails on the page share one entry.
    others = demo.locator('li.item:not([data-type="Email"])').count()
    emails = demo.locator("ol.emails > li").count()
    assert others + emails == 25
    if demo.locator("li.item").count() < 25:
        assert demo.locator("p.thread").count() >= 1
    demo.get_by_role("link", name="Older").click()
    demo.wait_for_url(re.compile(r".*skip=25"))
    assert demo.locator("li.item").count() >= 1
    demo.goto(lead_url)
    demo.get_by_label("To", exact=True).fill("2000-01-01")
    demo.get_by_role("button", name="Filter").click()
    demo.wait_for_url(re.compile(r".*to=2000-01-01"))
    assert demo.locator("li.item").count() == 0
    assert "No activities match these filters." in demo.content()
    user = demo.get_by_label("User", exact=True)
    user.select_option(index=1)
    chosen = user.input_value()
    demo.get_by_label("To", exact=True).fill("")
    demo.get_by_role("button", name="Filter").click()
    demo.wait_for_url(re.compile(rf".*user={chosen}"))


def test_adding_a_note_from_the_lead_page(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/leads/{server.showcase}/")
    demo.get_by_label("Add a note").fill("Written in the browser test")
    demo.get_by_role("button", name="Add note").click()
    expect(demo.locator("li.item").first).to_contain_text("Written in the browser test")
    with server.api(server.demo_key) as api:
        notes = api.get("/activity/note/", params={"lead_id": server.showcase}).json()["data"]
    assert "Written in the browser test" in [n["note"] for n in notes]


def test_a_hostile_note_renders_inert(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/leads/{server.showcase}/?type=Note")
    entry = demo.locator("li.item", has_text="Hostile note")
    assert entry.count() == 1
    entry.locator(".rich").get_by_text("hover me", exact=True).hover()
    entry.locator(".rich a", has_text="link").click()  # a href without javascript: goes nowhere
    assert demo.evaluate("window.__xss") is None
    assert demo.evaluate("document.querySelectorAll('main script').length") == 0
    handlers = demo.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on')).map(a => a.name))"
    )
    assert handlers == []


def test_event_log_filters_and_shows_diffs(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/events/")
    assert demo.locator("li.event").count() == 25
    demo.get_by_label("object_type").fill("lead")
    demo.get_by_label("action", exact=True).fill("updated")
    demo.get_by_role("button", name="Filter").click()
    demo.wait_for_url(re.compile(r".*action=updated"))
    actions = set(demo.locator("li.event").evaluate_all("els => els.map(e => e.dataset.action)"))
    assert actions == {"updated"}
    diff = demo.locator("table.diff").first
    assert diff.locator("del, ins").count() >= 1
    shot(demo, "events")
    demo.get_by_label("request_id").fill("req_x")  # a combination GET /event/ refuses
    demo.get_by_role("button", name="Filter").click()
    assert "request_id" in demo.get_by_role("alert").inner_text()


def test_pause_and_resume_a_webhook(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/webhooks/")
    card = demo.locator(f"li.webhook#{server.webhook}")
    card.get_by_role("button", name=re.compile("^Pause")).click()
    expect(card.locator(".badge")).to_have_text("paused")
    with server.api(server.demo_key) as api:
        assert api.get(f"/webhook/{server.webhook}/").json()["status"] == "paused"
    shot(demo, "webhooks")
    card.get_by_role("button", name=re.compile("^Resume")).click()
    expect(card.locator(".badge")).to_have_text("active")
    with server.api(server.demo_key) as api:
        assert api.get(f"/webhook/{server.webhook}/").json()["status"] == "active"


def test_organization_page(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/organization/")
    assert demo.get_by_role("heading", level=1).inner_text() == "Demo Company"
    counts = demo.locator("dl.counts").first.inner_text()
    assert "Leads\n25" in counts
    assert "bruce@demo.example" in demo.content()
    shot(demo, "organization")


def test_phone_width_has_no_sideways_scrolling(browser: Browser, server: Server) -> None:
    context = browser.context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = sign_in(context, server, server.demo_key)
    paths = ("leads/", f"leads/{server.showcase}/", "events/", "webhooks/", "journal/", "clock/")
    for path in (*paths, "organization/"):
        page.goto(server.url + f"{UI}/{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
    page.goto(server.url + f"{UI}/leads/{server.showcase}/")
    shot(page, "phone")


def test_another_organizations_session_sees_and_does_nothing_of_the_demos(
    browser: Browser, server: Server
) -> None:
    page = sign_in(browser.context(), server, server.other_key)
    assert page.locator("tbody tr").all_inner_texts()[0].startswith("Initech TPS Reports")
    assert page.locator("tbody tr").count() == 1
    page.goto(server.url + f"{UI}/leads/{server.showcase}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    page.goto(server.url + f"{UI}/webhooks/")
    assert server.webhook not in page.content()
    # Acting on the demo's webhook from Initech's session (its own valid CSRF token): 404.
    page.goto(server.url + f"{UI}/organization/")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    answer = page.request.post(
        server.url + f"{UI}/webhooks/{server.webhook}/pause/", form={"csrf": csrf}
    )
    assert answer.status == 404
    with server.api(server.demo_key) as api:
        assert api.get(f"/webhook/{server.webhook}/").json()["status"] == "active"


def test_the_same_refusals_over_plain_http(server: Server) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        form = client.get(f"{UI}/signin/").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        signed = client.post(
            f"{UI}/signin/", data={"csrf": csrf.group(1), "api_key": server.other_key}
        )
        assert signed.status_code == 303
        assert client.get(f"{UI}/leads/{server.showcase}/").status_code == 404
        assert client.get(f"{UI}/leads/{server.other_lead}/").status_code == 200
        no_csrf = client.post(f"{UI}/leads/{server.other_lead}/notes/", data={"note": "x"})
        assert no_csrf.status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', client.get(f"{UI}/leads/").text)
        assert token
        theirs = client.post(
            f"{UI}/leads/{server.showcase}/notes/", data={"csrf": token.group(1), "note": "x"}
        )
        assert theirs.status_code == 404


# The emulator pages. They run after the pages above: they move the demo's clock and restore
# it from a snapshot, which the earlier tests' counts must not see.


def test_the_journal_tails_live_with_strict_warnings_unrouted_and_har(
    demo: Any, server: Server
) -> None:
    demo.goto(server.url + f"{UI}/journal/")
    assert demo.get_by_role("heading", level=1).inner_text() == "Journal"
    with server.api(server.demo_key) as api:
        assert api.get("/lead/", params={"browser_tail": "1"}).status_code == 200
        assert api.get("/leadz/").status_code == 404
    # The tail polls every 2 s and puts the new request at the top, without a reload.
    entry = demo.locator("#journal-entries > li", has_text="browser_tail").first
    expect(entry).to_be_visible(timeout=15_000)
    expect(entry.locator(".warnings")).to_contain_text("browser_tail")
    shot(demo, "journal")
    demo.reload()
    unrouted = demo.locator("section[aria-labelledby=unrouted-h]")
    expect(unrouted).to_contain_text("/api/v1/leadz/")
    demo.get_by_label("Only with strict-mode warnings").check()
    demo.get_by_role("button", name="Filter").click()
    demo.wait_for_url(re.compile(r".*warnings=1"))
    statuses = demo.locator("#journal-entries > li").evaluate_all(
        "els => els.map(e => e.classList.contains('has-warnings'))"
    )
    assert statuses
    assert all(statuses)
    har = demo.request.get(server.url + f"{UI}/journal/har/")
    assert har.status == 200
    assert "attachment" in har.headers["content-disposition"]
    assert any("browser_tail" in e["request"]["url"] for e in har.json()["log"]["entries"])


def test_advancing_the_clock_sends_the_scheduled_email(demo: Any, server: Server) -> None:
    at = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    email = {
        "lead_id": server.showcase,
        "status": "scheduled",
        "date_scheduled": at,
        "sender": "bruce@demo.example",
        "to": ["someone@example.com"],
        "subject": "Sent when the clock says so",
        "body_text": "Hello",
    }
    with server.api(server.demo_key) as api:
        created = api.post("/activity/email/", json=email).json()
    demo.goto(server.url + f"{UI}/clock/")
    due = demo.locator("ol.due > li", has_text=created["id"])
    expect(due).to_contain_text("Send a scheduled message")
    shot(demo, "clock")
    demo.get_by_role("button", name="+1 hour").click()
    expect(demo.get_by_role("status")).to_contain_text("fired")
    expect(demo.locator("ol.due > li", has_text=created["id"])).to_have_count(0)
    with server.api(server.demo_key) as api:
        assert api.get(f"/activity/email/{created['id']}/").json()["status"] == "sent"
    # And the event log shows it sent.
    demo.goto(
        server.url
        + f"{UI}/events/?object_type=activity.email&action=sent&lead_id={server.showcase}"
    )
    expect(demo.locator("li.event").first).to_contain_text(created["id"])


def test_a_fault_template_fires_and_counts(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/clock/")
    card = demo.locator("li.template#template-503-storm")
    card.get_by_role("button", name="Turn on 503 storm").click()
    expect(card.locator(".badge")).to_have_text("on")
    expect(card.locator(".fired")).to_have_text("0")
    with server.api(server.demo_key) as api:
        assert api.get("/lead/").status_code == 503
    demo.reload()
    expect(card.locator(".fired")).to_have_text("1")
    expect(demo.locator("#rule-template-503-storm .fired")).to_contain_text("1")
    shot(demo, "faults")
    card.get_by_role("button", name="Turn off 503 storm").click()
    expect(card.locator(".badge")).to_have_text("off")
    with server.api(server.demo_key) as api:
        assert api.get("/lead/").status_code == 200


def test_redelivering_a_webhook_adds_an_attempt(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/webhooks/")
    demo.get_by_label("Sink name").fill("browser")
    demo.get_by_role("button", name="Create sink").click()
    sink = demo.locator("li.sink#sink-browser")
    expect(sink.locator(".received")).to_have_text("0")
    url = sink.locator("dd code").inner_text()
    events = [{"object_type": "activity.note", "action": "created"}]
    with server.api(server.demo_key) as api:
        hook = api.post("/webhook/", json={"url": url, "events": events}).json()
        note = {"lead_id": server.showcase, "note": "Delivered to the sink"}
        assert api.post("/activity/note/", json=note).status_code == 200
    # The server's worker delivers it; then the page redelivers it.
    deadline = time.monotonic() + 20
    delivery = demo.locator(f"li.delivery[data-state=delivered]:has-text('{hook['id']}')")
    while time.monotonic() < deadline:
        demo.goto(server.url + f"{UI}/webhooks/?subscription_id={hook['id']}")
        delivery = demo.locator("li.delivery").first
        if delivery.count() and delivery.get_attribute("data-state") == "delivered":
            break
        time.sleep(0.5)
    expect(delivery.locator(".attempts-count")).to_have_text("1")
    delivery.get_by_role("button", name=re.compile("^Redeliver")).click()
    delivery = demo.locator("li.delivery").first
    expect(delivery.locator(".attempts-count")).to_have_text("2")
    expect(delivery.locator("table.attempts tbody tr")).to_have_count(2)
    expect(demo.locator("li.sink#sink-browser .received")).to_have_text("2")
    shot(demo, "deliveries")
    with server.api(server.demo_key) as api:
        assert api.delete(f"/webhook/{hook['id']}/").status_code == 200


def test_a_restore_shows_its_dry_run_diff_before_it_restores(demo: Any, server: Server) -> None:
    demo.goto(server.url + f"{UI}/organization/")
    demo.get_by_label("Snapshot name").fill("before-the-note")
    demo.get_by_role("button", name="Save snapshot").click()
    expect(demo.locator("#snap-before-the-note")).to_be_visible()
    with server.api(server.demo_key) as api:
        note = {"lead_id": server.showcase, "note": "Gone after the restore"}
        note_id = api.post("/activity/note/", json=note).json()["id"]
    demo.get_by_role("link", name="Restore… before-the-note").click()
    demo.wait_for_url(re.compile(r".*/organization/restore/\?name=before-the-note$"))
    expect(demo.get_by_role("heading", level=1)).to_have_text("Restore before-the-note")
    row = demo.locator("table.restore-diff tr[data-table=activity]")
    expect(row.locator("td.del")).to_have_text("1")
    shot(demo, "restore")
    with server.api(server.demo_key) as api:  # the preview changed nothing
        assert api.get(f"/activity/note/{note_id}/").status_code == 200
    demo.get_by_role("button", name="Restore now").click()
    assert demo.get_by_role("heading", name="Restore before-the-note").count() == 1  # unticked
    demo.get_by_label("Restore, replacing the organization's current data").check()
    demo.get_by_role("button", name="Restore now").click()
    expect(demo.get_by_role("status")).to_have_text("Restored from the snapshot.")
    with server.api(server.demo_key) as api:
        assert api.get(f"/activity/note/{note_id}/").status_code == 404


def test_another_organization_sees_and_does_nothing_on_the_emulator_pages(
    browser: Browser, server: Server
) -> None:
    page = sign_in(browser.context(), server, server.other_key)
    with server.api(server.demo_key) as api:
        api.get("/lead/", params={"demo_secret": "1"})
        org = api.get("/me/").json()["organizations"][0]["id"]
        # The demo's sink and snapshot (made by earlier tests too; made here if this test
        # runs on a server of its own): what the other organization must neither see nor touch.
        plane = f"{server.url}/_crmapi/orgs/{org}"
        assert api.post(f"{plane}/sinks", json={"name": "browser"}).status_code in (200, 201)
        if "before-the-note" not in api.get(f"{plane}/snapshots").text:
            made = api.post(f"{plane}/snapshots", json={"name": "before-the-note"})
            assert made.status_code in (200, 201), made.text
    page.goto(server.url + f"{UI}/journal/")
    assert "demo_secret" not in page.content()
    page.goto(server.url + f"{UI}/webhooks/")
    assert "sink-browser" not in page.content()
    assert org not in page.content()
    page.goto(server.url + f"{UI}/organization/")
    assert "before-the-note" not in page.content()
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    for path, form in (
        ("webhooks/sinks/delete/", {"name": "browser"}),
        ("organization/restore/", {"name": "before-the-note", "confirm": "yes"}),
    ):
        answer = page.request.post(server.url + f"{UI}/{path}", form={"csrf": csrf, **form})
        assert answer.status == 404, path
    answer = page.request.post(server.url + f"{UI}/clock/faults/", form={"template": "x"})
    assert answer.status == 403  # no CSRF token
    # Initech's reset empties Initech only, once confirmed.
    page.get_by_role("button", name="Reset the organization").click()
    assert page.url.endswith("/organization/")  # the unticked box keeps the form here
    page.get_by_label(re.compile("^I understand")).check()
    page.get_by_role("button", name="Reset the organization").click()
    expect(page.get_by_role("status")).to_have_text("The organization was reset.")
    with server.api(server.other_key) as api:
        assert api.get("/lead/").json()["data"] == []
    with server.api(server.demo_key) as api:
        assert len(api.get("/lead/", params={"_limit": 100}).json()["data"]) == 25
        sinks = api.get(f"{server.url}/_crmapi/orgs/{org}/sinks/").json()["data"]
    assert [s["name"] for s in sinks] == ["browser"]
