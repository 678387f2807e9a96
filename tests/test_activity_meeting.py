"""Meetings (``/activity/meeting/``): synced in through the admin path, then read and updated."""

from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from crmapi.activities import write
from crmapi.activities.types import meeting
from crmapi.cli import cli
from crmapi.domain.context import Principal
from tests.conftest import Api

Obj = dict[str, Any]


@pytest.fixture
def lead(api: Api) -> Obj:
    return api.ok(  # type: ignore[no-any-return]
        "POST",
        "lead/",
        {
            "name": "Wayne",
            "contacts": [{"name": "Lucius", "emails": [{"email": "lucius@wayne.example"}]}],
        },
    )


def add(app: Any, api: Api, **over: Any) -> Obj:
    values: dict[str, Any] = {
        "title": "Intro call",
        "starts_at": "2030-01-01T16:30:00Z",
        "ends_at": "2030-01-01T17:30:00Z",
        "attendees": ["Lucius Fox <lucius@wayne.example>", "owner@acme.example", "x@else.example"],
        **over,
    }
    with app.state.db.write() as conn:
        wc = write.WriteContext(conn=conn, principal=Principal(api.org_id, api.user_id))
        return meeting.add_meeting(wc, **values)


def test_it_stores_a_synced_meeting_as_close_shows_it(app: Any, api: Api, lead: Obj) -> None:
    created = add(app, api, lead_id=lead["id"])
    got = api.ok("GET", f"activity/meeting/{created['id']}/")
    assert got == created
    lucius = lead["contacts"][0]["id"]
    expected = {
        "_type": "Meeting",
        "title": "Intro call",
        "starts_at": "2030-01-01T16:30:00.000000+00:00",
        "ends_at": "2030-01-01T17:30:00.000000+00:00",
        "activity_at": "2030-01-01T16:30:00.000000+00:00",
        "duration": 3600,
        "status": "upcoming",
        "source": "manual",
        "contact_id": lucius,
        "user_id": api.user_id,
        "created_by": None,
        "users": [api.user_id],
        "user_note": None,
        "user_note_html": None,
        "user_note_date_updated": None,
        "outcome_id": None,
    }
    assert {k: got[k] for k in expected} == expected
    assert got["attendees"] == [
        {
            "email": "lucius@wayne.example",
            "name": "Lucius Fox",
            "status": "noreply",
            "is_organizer": False,
            "contact_id": lucius,
            "user_id": None,
        },
        {
            "email": "owner@acme.example",
            "name": None,
            "status": "noreply",
            "is_organizer": True,
            "contact_id": None,
            "user_id": api.user_id,
        },
        {
            "email": "x@else.example",
            "name": None,
            "status": "noreply",
            "is_organizer": False,
            "contact_id": None,
            "user_id": None,
        },
    ]
    assert "transcripts" not in got
    assert api.ok("GET", f"activity/meeting/{got['id']}/?_fields=id,transcripts") == {
        "id": got["id"],
        "transcripts": None,
    }


@pytest.mark.parametrize(
    ("starts", "ends", "status"),
    [
        ("2000-01-01T10:00:00Z", "2000-01-01T11:00:00Z", "completed"),
        ("2000-01-01T10:00:00Z", "2999-01-01T11:00:00Z", "in-progress"),
        ("2999-01-01T10:00:00Z", "2999-01-01T11:00:00Z", "upcoming"),
    ],
)
def test_it_derives_the_status_from_the_time(
    app: Any, api: Api, lead: Obj, starts: str, ends: str, status: str
) -> None:
    assert add(app, api, lead_id=lead["id"], starts_at=starts, ends_at=ends)["status"] == status


UPDATES: list[tuple[Obj, Obj]] = [
    (
        {"user_note_html": "<body><p>Went <b>well</b></p></body>"},
        {"user_note": "Went well", "user_note_html": "<body><p>Went <b>well</b></p></body>"},
    ),
    ({"user_note": "plain"}, {"user_note": "plain", "user_note_html": "<body><p>plain</p></body>"}),
    (
        {"user_note": "loses", "user_note_html": "<p>wins</p>"},
        {"user_note": "wins", "user_note_html": "<body><p>wins</p></body>"},
    ),
    # OUTCOME stands for a live outcome of the caller's organization, created by the test.
    ({"outcome_id": "OUTCOME"}, {"outcome_id": "OUTCOME", "outcome_reason": "user-selected"}),
    ({"status": "canceled"}, {"status": "canceled"}),
    # activity_at always follows starts_at; read-only and base fields are ignored.
    (
        {"activity_at": "2020-01-01T00:00:00Z", "title": "renamed", "starts_at": "2020-01-01"},
        {"activity_at": "2030-01-01T16:30:00.000000+00:00", "title": "Intro call"},
    ),
]


@pytest.mark.parametrize(("body", "expected"), UPDATES)
def test_it_updates_notes_outcome_and_status(
    app: Any, api: Api, lead: Obj, body: Obj, expected: Obj
) -> None:
    created = add(app, api, lead_id=lead["id"])
    if body.get("outcome_id") == "OUTCOME":
        outcome = api.post("outcome/", {"name": "Interested"}).json()["id"]
        body = {**body, "outcome_id": outcome}
        expected = {**expected, "outcome_id": outcome}
    updated = api.ok("PUT", f"activity/meeting/{created['id']}/", body)
    assert {k: updated[k] for k in expected} == expected
    noted = "user_note" in body or "user_note_html" in body
    assert (updated["user_note_date_updated"] is not None) is noted
    assert api.ok("GET", f"activity/meeting/{created['id']}/") == updated


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"status": "postponed"}, "status"),
        ({"user_note": 5}, "user_note"),
        ({"outcome_id": ""}, "outcome_id"),
    ],
)
def test_it_rejects_bad_updates(app: Any, api: Api, lead: Obj, body: Obj, key: str) -> None:
    created = add(app, api, lead_id=lead["id"])
    response = api.put(f"activity/meeting/{created['id']}/", body)
    assert response.status_code == 400
    assert list(response.json()["field-errors"]) == [key]
    assert api.ok("GET", f"activity/meeting/{created['id']}/") == created


def test_it_has_no_api_create(api: Api, lead: Obj) -> None:
    response = api.post("activity/meeting/", {"lead_id": lead["id"], "title": "x"})
    assert response.status_code == 405
    assert set(response.json()) == {"error"}
    assert api.ok("GET", "activity/meeting/")["data"] == []


def test_it_lists_and_deletes(app: Any, api: Api, other: Api, lead: Obj) -> None:
    created = add(app, api, lead_id=lead["id"])
    assert [m["id"] for m in api.ok("GET", "activity/meeting/")["data"]] == [created["id"]]
    assert other.ok("GET", "activity/meeting/")["data"] == []
    assert (
        other.put(f"activity/meeting/{created['id']}/", {"status": "canceled"}).status_code == 404
    )
    assert other.delete(f"activity/meeting/{created['id']}/").status_code == 404
    assert api.ok("DELETE", f"activity/meeting/{created['id']}/") == {}
    assert api.ok("GET", "activity/meeting/")["data"] == []


@pytest.mark.parametrize(
    ("over", "problem"),
    [
        ({"ends_at": "2029-01-01T00:00:00Z"}, "before"),
        ({"starts_at": "soon"}, "soon"),
        ({"lead_id": "lead_nope"}, "no lead"),
    ],
)
def test_it_refuses_a_bad_admin_meeting(
    app: Any, api: Api, lead: Obj, over: Obj, problem: str
) -> None:
    values = {"lead_id": lead["id"], **over}
    with pytest.raises(ValueError, match=problem):
        add(app, api, **values)


def test_it_adds_meetings_from_the_command_line(
    api: Api, other: Api, lead: Obj, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMAPI_DATABASE_URL", database_url)
    runner = CliRunner()
    base = ["meeting", "add", "--org", api.org_id, "--lead", lead["id"], "--title", "Demo"]
    times = ["--starts-at", "2030-02-01T09:00:00Z", "--ends-at", "2030-02-01T09:30:00Z"]
    result = runner.invoke(cli, [*base, *times, "--attendee", "lucius@wayne.example"])
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.output)
    assert printed["_type"] == "Meeting"
    assert printed["duration"] == 1800
    assert printed["contact_id"] == lead["contacts"][0]["id"]
    assert api.ok("GET", f"activity/meeting/{printed['id']}/")["title"] == "Demo"
    # Another organization's lead, a non-member user and bad times are refused.
    refused = [
        ["meeting", "add", "--org", other.org_id, "--lead", lead["id"], "--title", "x", *times],
        [*base, *times, "--user", other.user_id],
        [*base, "--starts-at", "2030-02-01T09:00:00Z", "--ends-at", "2030-01-01T09:00:00Z"],
    ]
    for args in refused:
        result = runner.invoke(cli, args)
        assert result.exit_code == 1, args
        assert "error:" in result.output
    assert len(api.ok("GET", "activity/meeting/")["data"]) == 1
