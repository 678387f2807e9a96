"""The event log: one correct event per write, Close's filters, cursor paging, retention."""

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.events import retention
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.util import dates
from tests import factories
from tests.conftest import Api, make_org


def all_events(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Every event the filters select, following cursor_next to the end."""
    out: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api.ok("GET", "event/", params={**params, "_cursor": cursor})
        out.extend(page["data"])
        cursor = page["cursor_next"]
        if cursor is None:
            return out


def new_events(api: Api, known: set[str]) -> list[dict[str, Any]]:
    return [e for e in all_events(api) if e["id"] not in known]


def ids(events: list[dict[str, Any]]) -> set[str]:
    return {e["id"] for e in events}


def the_event(api: Api, known: set[str], object_type: str, action: str) -> dict[str, Any]:
    """The single event this write produced for its object (and no other kind)."""
    fresh = new_events(api, known)
    matching = [e for e in fresh if (e["object_type"], e["action"]) == (object_type, action)]
    assert len(matching) == 1, [(e["object_type"], e["action"]) for e in fresh]
    return matching[0]


def check_common(api: Api, event: dict[str, Any], method: str, path: str) -> None:
    assert event["id"].startswith("ev_")
    assert event["organization_id"] == api.org_id
    assert event["user_id"] == api.user_id
    assert event["request_id"].startswith("req_")
    assert event["api_key_id"] is not None
    assert event["oauth_client_id"] is None
    assert event["date_created"] == event["date_updated"]
    assert event["meta"] == {"request_method": method, "request_path": "/api/v1/" + path}
    assert api.ok("GET", f"event/{event['id']}/") == event


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return factories.lead(api, "Wayne Enterprises")


# (path, create body, update body, object_type): every activity type clients write.
ACTIVITIES = [
    ("activity/note/", {"note": "first"}, {"note": "second"}, "activity.note"),
    ("activity/call/", {"note": "rang", "duration": 5}, {"duration": 60}, "activity.call"),
]


@pytest.mark.parametrize(("path", "create", "change", "object_type"), ACTIVITIES)
def test_it_writes_one_event_per_activity_write(
    api: Api,
    lead: dict[str, Any],
    path: str,
    create: dict[str, Any],
    change: dict[str, Any],
    object_type: str,
) -> None:
    known = ids(all_events(api))
    created = api.ok("POST", path, {**create, "lead_id": lead["id"]})
    event = the_event(api, known, object_type, "created")
    assert len(new_events(api, known)) == 1
    check_common(api, event, "POST", path)
    assert (event["object_id"], event["lead_id"]) == (created["id"], lead["id"])
    assert (event["data"], event["previous_data"], event["changed_fields"]) == (created, {}, [])

    known |= ids([event])
    updated = api.ok("PUT", f"{path}{created['id']}/", change)
    event = the_event(api, known, object_type, "updated")
    assert len(new_events(api, known)) == 1
    check_common(api, event, "PUT", f"{path}{created['id']}/")
    assert event["data"] == updated
    assert set(change) <= set(event["changed_fields"])
    assert "date_updated" in event["changed_fields"]
    assert event["previous_data"] == {k: created[k] for k in event["changed_fields"]}

    known |= ids([event])
    api.ok("DELETE", f"{path}{created['id']}/")
    event = the_event(api, known, object_type, "deleted")
    assert len(new_events(api, known)) == 1
    check_common(api, event, "DELETE", f"{path}{created['id']}/")
    assert (event["data"], event["previous_data"], event["changed_fields"]) == (None, updated, [])


def test_it_writes_lead_events_with_their_children(api: Api) -> None:
    lead = factories.lead(api, "Acme", contacts=[{"name": "Ann"}])
    events = all_events(api)
    kinds = sorted((e["object_type"], e["action"]) for e in events)
    assert kinds == [
        ("activity.created", "created"),
        ("contact", "created"),
        ("lead", "created"),
    ]
    assert len({e["request_id"] for e in events}) == 1
    lead_event = next(e for e in events if e["object_type"] == "lead")
    assert (lead_event["object_id"], lead_event["lead_id"]) == (lead["id"], lead["id"])
    assert lead_event["data"] == lead

    known = ids(events)
    updated = api.ok("PUT", f"lead/{lead['id']}/", {"description": "Big"})
    event = the_event(api, known, "lead", "updated")
    assert len(new_events(api, known)) == 1
    assert event["previous_data"]["description"] is None
    assert event["data"] == updated

    known |= ids([event])
    api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "hi"})
    known = ids(all_events(api))
    api.ok("DELETE", f"lead/{lead['id']}/")
    deleted = new_events(api, known)
    assert sorted((e["object_type"], e["action"]) for e in deleted) == [
        ("activity.created", "deleted"),
        ("activity.note", "deleted"),
        ("contact", "deleted"),
        ("lead", "deleted"),
    ]
    assert {e["lead_id"] for e in deleted} == {lead["id"]}
    assert all(e["data"] is None and e["previous_data"]["id"] for e in deleted)


def test_it_writes_contact_events(api: Api, lead: dict[str, Any]) -> None:
    known = ids(all_events(api))
    contact = api.ok("POST", "contact/", {"lead_id": lead["id"], "name": "Ann"})
    event = the_event(api, known, "contact", "created")
    # Close also reports the lead's changed contact_ids as lead.updated.
    kinds = sorted((e["object_type"], e["action"]) for e in new_events(api, known))
    assert kinds == [("contact", "created"), ("lead", "updated")]
    assert (event["object_id"], event["lead_id"], event["data"]) == (
        contact["id"],
        lead["id"],
        contact,
    )
    known |= ids([event])
    api.ok("PUT", f"contact/{contact['id']}/", {"title": "CEO"})
    event = the_event(api, known, "contact", "updated")
    assert event["previous_data"]["title"] is None
    assert event["data"]["title"] == "CEO"
    known |= ids([event])
    api.ok("DELETE", f"contact/{contact['id']}/")
    event = the_event(api, known, "contact", "deleted")
    assert event["previous_data"]["title"] == "CEO"


def test_it_writes_lead_events_for_a_contact_without_a_lead(api: Api) -> None:
    contact = api.ok("POST", "contact/", {"name": "Solo"})
    kinds = sorted((e["object_type"], e["action"]) for e in all_events(api))
    assert kinds == [("activity.created", "created"), ("contact", "created"), ("lead", "created")]
    assert all_events(api, object_type="contact", object_id=contact["id"])[0]["data"] == contact


@pytest.mark.parametrize(
    ("path_of", "body"),
    [
        (lambda lead, note: f"lead/{lead}/", {}),
        (lambda lead, note: f"lead/{lead}/", {"name": "Wayne Enterprises"}),
        (lambda lead, note: f"activity/note/{note}/", {}),
        (lambda lead, note: f"activity/note/{note}/", {"note": "same"}),
    ],
)
def test_it_writes_no_event_for_an_update_that_changes_nothing(
    api: Api, lead: dict[str, Any], path_of: Any, body: dict[str, Any]
) -> None:
    note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "same"})
    known = ids(all_events(api))
    api.ok("PUT", path_of(lead["id"], note["id"]), body)
    assert new_events(api, known) == []


def test_it_writes_no_event_when_a_write_is_rejected(api: Api, lead: dict[str, Any]) -> None:
    known = ids(all_events(api))
    assert api.post("activity/note/", {"lead_id": "lead_nope", "note": "x"}).status_code == 400
    assert new_events(api, known) == []


def test_it_groups_the_events_of_one_request(api: Api) -> None:
    factories.lead(api, "One")
    lead = factories.lead(api, "Two", contacts=[{"name": "A"}, {"name": "B"}])
    event = all_events(api, object_type="lead", object_id=lead["id"])[0]
    grouped = all_events(api, request_id=event["request_id"])
    assert len(grouped) == 4
    assert {e["lead_id"] for e in grouped} == {lead["id"]}


def test_it_keeps_events_of_one_object_in_order(api: Api, lead: dict[str, Any]) -> None:
    note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "0"})
    for i in range(1, 6):
        api.ok("PUT", f"activity/note/{note['id']}/", {"note": str(i)})
    events = all_events(api, object_type="activity.note", object_id=note["id"])
    assert [e["action"] for e in events] == ["updated"] * 5 + ["created"]
    assert [e["data"]["note"] for e in events] == ["5", "4", "3", "2", "1", "0"]


# --- filters --------------------------------------------------------------------------------

ALLOWED = [
    {},
    {"object_type": "lead", "object_id": "x"},
    {"object_type": "lead", "action": "created"},
    {"object_id": "x", "action": "created"},
    {"lead_id": "x", "object_type": "lead"},
    {"lead_id": "x", "object_type": "lead", "action": "created"},
    {"lead_id": "x", "user_id": "u", "object_type": "lead"},
    {"lead_id": "x", "user_id": "u", "object_type": "lead", "action": "created"},
    {"lead_id": "x", "user_id": "u"},
    {"user_id": "u", "object_id": "x"},
    {"user_id": "u", "object_id": "x", "action": "created"},
    {"user_id": "u", "object_type": "lead"},
    {"user_id": "u", "object_type": "lead", "action": "created"},
    {"lead_id": "x"},
    {"user_id": "u"},
    {"request_id": "r"},
    {"request_id": "r", "date_updated__gte": "2024-01-01"},
    {"date_updated__gte": "2024-01-01T00:00:00"},
    {"lead_id": "", "_cursor": "", "object_type": "lead", "action": "deleted"},
    {"_limit": "50", "_skip": "0", "unknown": "ignored"},
]

REJECTED = [
    ({"object_type": "lead"}, "object_type"),
    ({"action": "created"}, "action"),
    ({"object_id": "x"}, "object_id"),
    ({"request_id": "r", "lead_id": "x"}, "lead_id + request_id"),
    (
        {"object_type": "lead", "object_id": "x", "action": "created"},
        "action + object_id + object_type",
    ),
    ({"lead_id": "x", "action": "created"}, "action + lead_id"),
]


@pytest.mark.parametrize("params", ALLOWED)
def test_it_accepts_the_documented_filter_combinations(api: Api, params: dict[str, str]) -> None:
    body = api.ok("GET", "event/", params=params)
    assert set(body) == {"data", "cursor_next", "cursor_previous"}


@pytest.mark.parametrize(("params", "named"), REJECTED)
def test_it_rejects_other_filter_combinations(api: Api, params: dict[str, str], named: str) -> None:
    response = api.get("event/", params=params)
    assert response.status_code == 400
    (message,) = response.json()["errors"]
    assert f"Unsupported combination of event filters: {named}." in message
    assert "lead_id + object_type + action" not in message  # combinations list sorted names
    assert "action + lead_id + object_type" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"_limit": "51"}, "_limit"),
        ({"_limit": "0"}, "_limit"),
        ({"_limit": "many"}, "_limit"),
        ({"_skip": "10"}, "_skip"),
        ({"_cursor": "not-a-cursor"}, "_cursor"),
        ({"date_updated__gt": "yesterday"}, "date_updated__gt"),
    ],
)
def test_it_rejects_bad_paging_and_dates(api: Api, params: dict[str, str], field: str) -> None:
    response = api.get("event/", params=params)
    assert response.status_code == 400
    assert field in response.json()["field-errors"]


def test_it_answers_discovery_without_parameters(api: Api) -> None:
    assert api.ok("GET", "event/") == {"data": [], "cursor_next": None, "cursor_previous": None}


def test_it_filters_by_lead_user_object_and_action(api: Api, lead: dict[str, Any]) -> None:
    other_lead = factories.lead(api, "Other")
    note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "n"})
    api.ok("DELETE", f"activity/note/{note['id']}/")

    def kinds(**params: str) -> list[tuple[str, str]]:
        return [(e["object_type"], e["action"]) for e in all_events(api, **params)]

    assert kinds(lead_id=lead["id"]) == [
        ("activity.note", "deleted"),
        ("activity.note", "created"),
        ("lead", "created"),
        ("activity.created", "created"),
    ]
    assert kinds(lead_id=other_lead["id"], object_type="lead") == [("lead", "created")]
    assert kinds(object_type="activity.note", action="deleted") == [("activity.note", "deleted")]
    assert kinds(object_id=note["id"], action="created") == [("activity.note", "created")]
    assert kinds(user_id=api.user_id, object_type="lead", action="created") == [
        ("lead", "created"),
        ("lead", "created"),
    ]
    assert kinds(user_id="user_nobody") == []


def test_it_filters_by_date_updated(api: Api, lead: dict[str, Any]) -> None:
    events = all_events(api)
    oldest, newest = events[-1]["date_updated"], events[0]["date_updated"]
    assert ids(all_events(api, date_updated__gt=oldest)) == ids(events[:-1])
    assert ids(all_events(api, date_updated__gte=oldest)) == ids(events)
    assert ids(all_events(api, date_updated__lt=newest)) == ids(events[1:])
    assert ids(all_events(api, date_updated__lte=newest, lead_id=lead["id"])) == ids(events)
    assert all_events(api, date_updated__gt="2999-01-01") == []


def test_it_scopes_events_to_the_organization(api: Api, other: Api, lead: dict[str, Any]) -> None:
    mine = all_events(api)
    assert all_events(other) == []
    assert all_events(other, lead_id=lead["id"]) == []
    response = other.get(f"event/{mine[0]['id']}/")
    assert response.status_code == 404
    assert response.json() == {"error": "Empty query: Event matching query does not exist."}


# --- cursor paging --------------------------------------------------------------------------


def test_it_pages_with_cursors_without_skips_or_repeats_under_writes(
    api: Api, lead: dict[str, Any]
) -> None:
    for i in range(9):
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": f"n{i}"})
    before = all_events(api)  # 2 lead events + 9 notes
    assert len(before) == 11

    seen: list[dict[str, Any]] = []
    first = api.ok("GET", "event/", params={"_limit": "3"})
    assert first["cursor_previous"] is None
    pages = [first]
    page = first
    while page["cursor_next"]:
        # Writes between fetches: new (newer) events must not shift what the cursor returns.
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "during"})
        page = api.ok("GET", "event/", params={"_limit": "3", "_cursor": page["cursor_next"]})
        pages.append(page)
    for p in pages:
        seen.extend(p["data"])
    assert [e["id"] for e in seen] == [e["id"] for e in before]
    assert len(pages) == 4
    assert len(pages[-1]["data"]) == 2

    # Going back from the last page returns exactly the page before it.
    back = api.ok("GET", "event/", params={"_limit": "3", "_cursor": pages[-1]["cursor_previous"]})
    assert [e["id"] for e in back["data"]] == [e["id"] for e in pages[-2]["data"]]

    # From the first page, cursor_previous-style paging reaches the events written meanwhile.
    newer = api.ok("GET", "event/", params={"_limit": "3"})
    assert newer["cursor_previous"] is None
    assert newer["data"][0]["data"]["note"] == "during"
    fresh: list[dict[str, Any]] = []
    page = api.ok("GET", "event/", params={"_limit": "3", "_cursor": pages[1]["cursor_previous"]})
    fresh.extend(page["data"])
    while page["cursor_previous"]:
        page = api.ok("GET", "event/", params={"_limit": "3", "_cursor": page["cursor_previous"]})
        fresh = page["data"] + fresh
    assert [e["id"] for e in fresh] == [
        e["id"] for e in all_events(api) if e["id"] not in ids(before[3:])
    ]


def test_it_pages_filtered_lists_with_the_same_filters(api: Api, lead: dict[str, Any]) -> None:
    other_lead = factories.lead(api, "Noise")
    for i in range(5):
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": f"n{i}"})
        api.ok("POST", "activity/note/", {"lead_id": other_lead["id"], "note": f"x{i}"})
    params = {"lead_id": lead["id"], "object_type": "activity.note", "_limit": "2"}
    page = api.ok("GET", "event/", params=params)
    got = list(page["data"])
    while page["cursor_next"]:
        page = api.ok("GET", "event/", params={**params, "_cursor": page["cursor_next"]})
        got.extend(page["data"])
    assert [e["data"]["note"] for e in got] == ["n4", "n3", "n2", "n1", "n0"]


# --- restore (close-api-scripts restore_deleted_leads.py pattern) ---------------------------


def test_it_restores_a_deleted_note_from_its_event(api: Api, lead: dict[str, Any]) -> None:
    note = api.ok(
        "POST",
        "activity/note/",
        {"lead_id": lead["id"], "note": "Remember the milk", "date_created": "2024-03-01"},
    )
    api.ok("DELETE", f"activity/note/{note['id']}/")
    page = api.ok(
        "GET",
        "event/",
        params={"object_type": "activity.note", "action": "deleted", "_cursor": ""},
    )
    (event,) = page["data"]
    restored = api.ok("POST", "activity/note/", event["previous_data"])
    assert restored["id"] != note["id"]
    same = ("note", "lead_id", "user_id", "date_created", "_type", "contact_id")
    assert {k: restored[k] for k in same} == {k: note[k] for k in same}
    assert api.ok("GET", f"activity/note/{restored['id']}/")["note"] == "Remember the milk"


# --- retention ------------------------------------------------------------------------------


def _age_events(app: Any, days: int) -> None:
    old = dates.canonical(dates.to_datetime(dates.now()) - timedelta(days=days))
    with app.state.db.write() as conn:
        conn.execute(update(t.event).values(date_created=old, date_updated=old))


def test_it_deletes_events_older_than_the_retention(app: Any, api: Api, other: Api) -> None:
    factories.lead(api, "Old")
    factories.lead(other, "Old too")
    _age_events(app, 31)
    fresh = factories.lead(api, "New")
    assert retention.cleanup(app.state.db, 30) == 4
    assert [e["object_id"] for e in all_events(api, object_type="lead", action="created")] == [
        fresh["id"]
    ]
    assert all_events(other) == []
    assert retention.cleanup(app.state.db, 30) == 0


def test_it_keeps_events_inside_the_retention(app: Any, api: Api) -> None:
    factories.lead(api, "Recent")
    _age_events(app, 29)
    assert retention.cleanup(app.state.db, 30) == 0
    assert len(all_events(api)) == 2


def test_it_reads_the_retention_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMAPI_EVENT_RETENTION_DAYS", "7")
    assert Settings.from_env().event_retention_days == 7


def test_the_server_enforces_retention_itself(database_url: str) -> None:
    quiet = Settings(database_url=database_url, auth_cache_seconds=0, background_workers=False)
    app = create_app(quiet, migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        factories.lead(api, "Old")
        _age_events(app, 40)
    app.state.db.dispose()

    running = Settings(database_url=database_url, auth_cache_seconds=0, event_retention_days=30)
    app = create_app(running, migrate_schema=False)
    with TestClient(app) as client:  # the lifespan starts the worker, which cleans up at once
        api.client = client
        for _ in range(200):
            if all_events(api) == []:
                break
            time.sleep(0.05)
        assert all_events(api) == []
    app.state.db.dispose()


class TestSpecialActions:
    """Close's type-specific actions: a message sent from the outbox also emits ``sent``."""

    def _actions(self, api: Api, path: str, object_id: str) -> list[str]:
        object_type = "activity." + path.split("/")[1]
        params = {"object_type": object_type, "object_id": object_id}
        return sorted(e["action"] for e in api.ok("GET", "event/", params=params)["data"])

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("activity/sms/", {"text": "hi"}),
            ("activity/email/", {"subject": "Hi", "sender": "a@x.example", "to": ["b@y.example"]}),
        ],
    )
    def test_it_emits_sent_when_the_outbox_sends(
        self, api: Api, path: str, body: dict[str, Any]
    ) -> None:
        lead = factories.lead(api, "A")
        sent = api.ok("POST", path, {"lead_id": lead["id"], "status": "outbox", **body})
        assert self._actions(api, path, sent["id"]) == ["created", "sent"]
        logged = api.ok("POST", path, {"lead_id": lead["id"], "status": "sent", **body})
        assert self._actions(api, path, logged["id"]) == ["created"]
        draft = api.ok("POST", path, {"lead_id": lead["id"], "status": "draft", **body})
        api.ok("PUT", f"{path}{draft['id']}/", {"status": "outbox"})
        assert self._actions(api, path, draft["id"]) == ["created", "sent", "updated"]


def test_adding_or_removing_a_contact_updates_its_lead(api: Api) -> None:
    lead = factories.lead(api, "A")
    contact = api.ok("POST", "contact/", {"lead_id": lead["id"], "name": "C"})
    api.ok("DELETE", f"contact/{contact['id']}/")
    params = {"object_type": "lead", "object_id": lead["id"]}
    events = api.ok("GET", "event/", params=params)["data"]
    updates = [e for e in events if e["action"] == "updated"]
    assert len(updates) == 2
    assert all("contact_ids" in e["changed_fields"] for e in updates)
    assert [e["previous_data"]["contact_ids"] for e in reversed(updates)] == [[], [contact["id"]]]
