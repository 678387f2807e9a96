"""Notes, calls and SMS: create, read, update, delete and their write rules."""

from typing import Any

import pytest

from tests.conftest import Api


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return api.ok(
        "POST",
        "lead/",
        {"name": "A", "contacts": [{"name": "C", "phones": [{"phone": "+14155550123"}]}]},
    )  # type: ignore[no-any-return]


NOTE_PAIRING = [
    ({"note": "hello"}, "hello", "<body><p>hello</p></body>"),
    ({"note": "a\nb & c"}, "a\nb & c", "<body><p>a</p><p>b &amp; c</p></body>"),
    (
        {"note_html": "<body><p>rich <b>text</b></p></body>"},
        "rich text",
        "<body><p>rich <b>text</b></p></body>",
    ),
    ({"note_html": "<p>bare</p>"}, "bare", "<body><p>bare</p></body>"),
    (
        {"note": "loses", "note_html": "<body><p>wins</p></body>"},
        "wins",
        "<body><p>wins</p></body>",
    ),
    ({}, "", "<body><p></p></body>"),
]


class TestNotes:
    @pytest.mark.parametrize(("body", "text", "html"), NOTE_PAIRING)
    def test_it_keeps_note_and_note_html_in_sync(
        self, api: Api, lead: dict[str, Any], body: dict[str, Any], text: str, html: str
    ) -> None:
        note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], **body})
        assert (note["note"], note["note_html"]) == (text, html)

    def test_it_creates_reads_updates_and_deletes(self, api: Api, lead: dict[str, Any]) -> None:
        note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "hello"})
        assert note["_type"] == "Note"
        assert note["id"].startswith("acti_")
        assert len(note["id"]) == 48
        assert (note["user_id"], note["user_name"], note["source"]) == (
            api.user_id,
            "Bruce Wayne",
            "api",
        )
        assert api.ok("GET", f"activity/note/{note['id']}/") == note
        edited = api.ok("PUT", f"activity/note/{note['id']}/", {"note": "edited", "pinned": True})
        assert (edited["note"], edited["note_html"]) == ("edited", "<body><p>edited</p></body>")
        assert edited["pinned"] is True
        assert edited["pinned_at"] is not None
        assert edited["date_created"] == note["date_created"]
        assert api.ok("DELETE", f"activity/note/{note['id']}/") == {}
        assert api.get(f"activity/note/{note['id']}/").status_code == 404

    def test_it_accepts_import_helpers_and_ignores_read_only_keys(
        self, app: Any, api: Api, lead: dict[str, Any]
    ) -> None:
        from crmapi.resources import accounts

        with app.state.db.write() as conn:
            other = accounts.add_user(conn, api.org_id, "lucius@acme.example", "Lucius", "Fox")[
                "user_id"
            ]
        exported = {
            "id": "acti_fromelsewhere",
            "_type": "Call",
            "organization_id": "orga_elsewhere",
            "date_updated": "2000-01-01T00:00:00+00:00",
            "user_name": "Someone",
            "lead_id": lead["id"],
            "note": "imported",
            "date_created": "2020-05-05T05:05:05.5+00:00",
            "activity_at": "2020-05-04T00:00:00",
            "created_by": other,
            "user_id": other,
        }
        note = api.ok("POST", "activity/note/", exported)
        assert note["id"] != "acti_fromelsewhere"
        assert note["_type"] == "Note"
        assert note["organization_id"] == api.org_id
        assert note["date_created"] == "2020-05-05T05:05:05.500000+00:00"
        assert note["activity_at"] == "2020-05-04T00:00:00.000000+00:00"
        assert (note["created_by"], note["created_by_name"]) == (other, "Lucius Fox")
        assert (note["user_id"], note["updated_by"]) == (other, api.user_id)

    def test_it_fetches_a_note_only_through_its_own_type(
        self, api: Api, lead: dict[str, Any]
    ) -> None:
        note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "x"})
        assert api.get(f"activity/call/{note['id']}/").status_code == 404


BAD_WRITES = [
    ("activity/note/", {}, "lead", "This field is required."),
    ("activity/note/", {"lead_id": "lead_unknown"}, "lead", "Object does not exist."),
    ("activity/note/", {"LEAD": 1, "note": 5}, "note", None),
    ("activity/note/", {"pinned": "yes"}, "pinned", None),
    ("activity/note/", {"date_created": "not a date"}, "date_created", None),
    ("activity/note/", {"contact_id": "cont_unknown"}, "contact", "Object does not exist."),
    ("activity/note/", {"user_id": "user_unknown"}, "user", "Object does not exist."),
    ("activity/call/", {"direction": "incoming"}, "direction", None),
    ("activity/call/", {"status": "done"}, "status", None),
    ("activity/call/", {"disposition": "maybe"}, "disposition", None),
    ("activity/call/", {"duration": 604801}, "duration", None),
    ("activity/call/", {"duration": "long"}, "duration", None),
    ("activity/sms/", {"text": "no status"}, "status", "This field is required."),
    ("activity/sms/", {"status": "delivered"}, "status", None),
    ("activity/sms/", {"status": "sent", "direction": "outgoing"}, "direction", None),
    ("activity/sms/", {"status": "scheduled"}, "date_scheduled", None),
]


@pytest.mark.parametrize(("path", "body", "key", "message"), BAD_WRITES)
def test_it_rejects_bad_writes_naming_the_field(
    api: Api, lead: dict[str, Any], path: str, body: dict[str, Any], key: str, message: str | None
) -> None:
    full = {"lead_id": lead["id"], **body} if key != "lead" else body
    response = api.post(path, full)
    assert response.status_code == 400, response.text
    errors = response.json()["field-errors"]
    assert key in errors
    if message:
        assert errors[key] == message
    assert [a["_type"] for a in api.ok("GET", "activity/")["data"]] == ["Created"]


class TestCalls:
    def test_it_logs_a_call_with_closes_defaults(self, api: Api, lead: dict[str, Any]) -> None:
        call = api.ok(
            "POST",
            "activity/call/",
            {"lead_id": lead["id"], "phone": "4155550199", "duration": 60, "note": "Discovery"},
        )
        assert (call["status"], call["direction"], call["source"]) == (
            "completed",
            "outbound",
            "External",
        )
        assert call["disposition"] == "answered"
        assert (call["phone"], call["remote_phone_formatted"]) == (
            "+14155550199",
            "+1 415-555-0199",
        )
        assert call["note_html"] == "<body><p>Discovery</p></body>"
        assert call["voicemail_duration"] == 0
        assert call["has_recording"] is False
        assert "recording_transcript" not in call

    def test_it_finds_the_lead_from_the_phone_number(self, api: Api, lead: dict[str, Any]) -> None:
        call = api.ok("POST", "activity/call/", {"phone": "+14155550123", "direction": "inbound"})
        assert call["lead_id"] == lead["id"]
        assert call["contact_id"] == lead["contacts"][0]["id"]
        missing = api.post("activity/call/", {"phone": "+14155559999"})
        assert missing.json()["field-errors"] == {"lead": "This field is required."}

    def test_it_returns_transcripts_only_when_asked(self, api: Api, lead: dict[str, Any]) -> None:
        call = api.ok("POST", "activity/call/", {"lead_id": lead["id"]})
        asked = api.ok(
            "GET", f"activity/call/{call['id']}/", params={"_fields": "id,recording_transcript"}
        )
        assert asked == {"id": call["id"], "recording_transcript": None}

    def test_it_updates_only_what_is_sent(self, api: Api, lead: dict[str, Any]) -> None:
        call = api.ok(
            "POST", "activity/call/", {"lead_id": lead["id"], "duration": 10, "note": "a"}
        )
        updated = api.ok(
            "PUT", f"activity/call/{call['id']}/", {"note_html": "<body><p>b</p></body>"}
        )
        assert (updated["duration"], updated["note"]) == (10, "b")


class TestSMS:
    @pytest.mark.parametrize(
        ("status", "direction"), [("inbox", "inbound"), ("sent", "outbound"), ("draft", "outbound")]
    )
    def test_it_derives_the_direction_from_the_status(
        self, api: Api, lead: dict[str, Any], status: str, direction: str
    ) -> None:
        sms = api.ok(
            "POST", "activity/sms/", {"lead_id": lead["id"], "status": status, "text": "hi"}
        )
        assert sms["direction"] == direction

    def test_it_sends_from_the_outbox_at_once(self, api: Api, lead: dict[str, Any]) -> None:
        sms = api.ok(
            "POST",
            "activity/sms/",
            {"lead_id": lead["id"], "status": "outbox", "text": "x", "remote_phone": "4155550100"},
        )
        assert sms["status"] == "sent"
        assert sms["date_sent"] is not None
        assert sms["activity_at"] == sms["date_sent"]
        assert sms["remote_phone"] == "+14155550100"

    def test_it_edits_only_drafts(self, api: Api, lead: dict[str, Any]) -> None:
        draft = api.ok(
            "POST", "activity/sms/", {"lead_id": lead["id"], "status": "draft", "text": "d"}
        )
        edited = api.ok("PUT", f"activity/sms/{draft['id']}/", {"text": "better"})
        assert edited["text"] == "better"
        scheduled = api.ok(
            "PUT",
            f"activity/sms/{draft['id']}/",
            {"status": "scheduled", "date_scheduled": "2030-01-01T09:00:00+00:00"},
        )
        assert scheduled["activity_at"] == "2030-01-01T09:00:00.000000+00:00"
        cancelled = api.ok("PUT", f"activity/sms/{draft['id']}/", {"status": "draft"})
        assert cancelled["status"] == "draft"
        sent = api.ok("PUT", f"activity/sms/{draft['id']}/", {"status": "outbox"})
        assert sent["status"] == "sent"
        refused = api.put(f"activity/sms/{draft['id']}/", {"text": "too late"})
        assert refused.status_code == 400
        assert "Only drafts can be modified" in refused.json()["errors"][0]
        assert api.ok("GET", f"activity/sms/{draft['id']}/")["text"] == "better"
