"""Emails (``/activity/email/``): statuses, sender rules, the draft machine and derived fields."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]
OWNER = "Bruce Wayne <owner@acme.example>"
LATER = "2030-01-01T10:00:00.000000+00:00"


@pytest.fixture
def lead(api: Api) -> Obj:
    return factories.lead(api, "Wayne", contacts=[{"name": "Lucius"}])  # type: ignore[no-any-return]


def _post(api: Api, lead: Obj, **body: Any) -> Obj:
    return api.ok("POST", "activity/email/", {"lead_id": lead["id"], **body})  # type: ignore[no-any-return]


# (body, expected fields of the created email)
CREATES: list[tuple[str, Obj, Obj]] = [
    (
        "inbox is incoming and received",
        {"status": "inbox", "sender": "Lucius <lucius@wayne.example>"},
        {"status": "inbox", "direction": "incoming"},
    ),
    (
        "a draft has no sender, no date_sent",
        {"status": "draft"},
        {"direction": "outgoing", "sender": None, "date_sent": None, "message_ids": []},
    ),
    ("sent defaults the sender to the user", {"status": "sent"}, {"sender": OWNER}),
    (
        "sent keeps a given sender",
        {"status": "sent", "sender": "alfred@wayne.example"},
        {"sender": "alfred@wayne.example"},
    ),
    (
        "outbox is sent at once",
        {"status": "outbox", "sender": "b@wayne.example", "send_in": 0},
        {"status": "sent", "direction": "outgoing"},
    ),
    (
        "send_in holds it in the outbox for its undo window (sent by the clock's due work)",
        {"status": "outbox", "sender": "b@wayne.example", "send_in": 30},
        {"status": "outbox", "direction": "outgoing", "date_sent": None},
    ),
    (
        "scheduled happens at date_scheduled",
        {"status": "scheduled", "sender": "b@wayne.example", "date_scheduled": "2030-01-01T10:00Z"},
        {"status": "scheduled", "date_scheduled": LATER, "activity_at": LATER, "date_sent": None},
    ),
    ("error", {"status": "error", "sender": "b@wayne.example"}, {"date_sent": None}),
    (
        "a given direction wins",
        {"status": "inbox", "sender": "a@x.example", "direction": "outgoing"},
        {"direction": "outgoing"},
    ),
    (
        "a logged email was sent at its activity_at",
        {"status": "sent", "activity_at": "2024-03-01T09:30:00Z"},
        {
            "date_sent": "2024-03-01T09:30:00.000000+00:00",
            "activity_at": "2024-03-01T09:30:00.000000+00:00",
        },
    ),
    # template_id must name one of the organization's templates: tests/test_templates.py.
]


@pytest.mark.parametrize(("name", "body", "expected"), CREATES, ids=[c[0] for c in CREATES])
def test_it_creates_each_status_as_close_does(
    api: Api, lead: Obj, name: str, body: Obj, expected: Obj
) -> None:
    email = _post(api, lead, **body)
    assert {k: email[k] for k in expected} == expected
    assert email["_type"] == "Email"
    assert email["thread_id"].startswith("acti_")
    assert "send_in" not in email
    if email["status"] in ("sent", "inbox"):
        assert email["date_sent"] is not None
        assert email["activity_at"] == email["date_sent"]
    if email["status"] in ("draft", "error"):
        assert email["activity_at"] == email["date_created"]
    assert api.ok("GET", f"activity/email/{email['id']}/") == email


# (body, field with the error, message or None for "any")
BAD_CREATES: list[tuple[Obj, str, str | None]] = [
    ({}, "status", "This field is required."),
    ({"status": "delivered"}, "status", None),
    ({"status": "inbox"}, "sender", "This field is required when status is inbox."),
    ({"status": "outbox"}, "sender", "This field is required when status is outbox."),
    ({"status": "error"}, "sender", "This field is required when status is error."),
    (
        {"status": "scheduled", "date_scheduled": "2030-01-01"},
        "sender",
        "This field is required when status is scheduled.",
    ),
    ({"status": "scheduled", "sender": "a@x.example"}, "date_scheduled", None),
    ({"status": "sent", "sender": "not an address"}, "sender", "Enter a valid email address."),
    ({"status": "draft", "direction": "inbound"}, "direction", None),
    ({"status": "draft", "to": ["x" * 1001]}, "to", None),
    ({"status": "draft", "to": "a@x.example"}, "to", "Not a valid list."),
    ({"status": "draft", "subject": "s" * 1001}, "subject", None),
    (
        {"status": "draft", "attachments": [{"url": "https://f.example/a", "filename": "a.pdf"}]},
        "attachments",
        "Attachment 0: size required.",
    ),
    (
        {"status": "draft", "attachments": [{"url": "ftp://x", "filename": "a", "size": 1}]},
        "attachments",
        "Attachment 0: url must be an http(s) URL.",
    ),
    ({"status": "draft", "attachments": ["a.pdf"]}, "attachments", None),
    ({"status": "draft", "opens": [{"opened_at": "soon"}]}, "opens", None),
    ({"status": "outbox", "sender": "a@x.example", "send_in": 90}, "send_in", None),
    ({"status": "draft", "in_reply_to_id": "acti_nope"}, "in_reply_to_id", None),
    ({"status": "draft", "followup_sequence_delay": 60}, "followup_sequence_delay", None),
    ({"status": "draft", "contact_id": "cont_nope"}, "contact", "Object does not exist."),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_CREATES)
def test_it_rejects_bad_creates_and_stores_nothing(
    api: Api, lead: Obj, body: Obj, field: str, message: str | None
) -> None:
    response = api.post("activity/email/", {"lead_id": lead["id"], **body})
    assert response.status_code == 400, response.text
    errors = response.json()["field-errors"]
    assert field in errors
    if message is not None:
        assert errors[field] == message
    for path in ("activity/email/", "activity/emailthread/"):
        assert api.ok("GET", path)["data"] == []


def test_it_requires_a_lead(api: Api) -> None:
    response = api.post("activity/email/", {"status": "draft"})
    assert response.status_code == 400
    assert response.json()["field-errors"] == {"lead": "This field is required."}


# From a draft (with or without a sender): body -> the new status, or the refusing field.
SCHEDULE = {"status": "scheduled", "date_scheduled": "2030-01-01T10:00:00Z"}
DRAFT_MOVES: list[tuple[Obj, bool, str]] = [
    ({"subject": "edited"}, False, "draft"),
    (SCHEDULE, True, "scheduled"),
    (SCHEDULE, False, "sender"),  # 2025-12-17: a draft needs a sender to be scheduled
    ({"status": "outbox"}, True, "sent"),
    ({"status": "outbox"}, False, "sender"),
    ({"status": "outbox", "sender": "b@x.example"}, False, "sent"),
    ({"status": "sent"}, True, "status"),
    ({"status": "inbox"}, True, "status"),
    ({"status": "error"}, True, "status"),
    ({"status": "scheduled"}, True, "date_scheduled"),
]


@pytest.mark.parametrize(("body", "with_sender", "outcome"), DRAFT_MOVES)
def test_it_moves_a_draft_only_where_close_allows(
    api: Api, lead: Obj, body: Obj, with_sender: bool, outcome: str
) -> None:
    draft = _post(api, lead, status="draft", **({"sender": "b@x.example"} if with_sender else {}))
    response = api.put(f"activity/email/{draft['id']}/", body)
    if outcome in ("draft", "scheduled", "sent"):
        assert response.status_code == 200, response.text
        assert response.json()["status"] == outcome
    else:
        assert response.status_code == 400
        assert outcome in response.json()["field-errors"]
        assert api.ok("GET", f"activity/email/{draft['id']}/") == draft


def test_it_sends_a_draft_from_the_outbox(api: Api, lead: Obj) -> None:
    draft = _post(api, lead, status="draft", sender="b@wayne.example", subject="Hi")
    assert draft["envelope"]["message_id"] is None
    assert draft["envelope"]["date"] is None
    sent = api.ok("PUT", f"activity/email/{draft['id']}/", {"status": "outbox"})
    assert sent["status"] == "sent"
    assert sent["date_sent"] is not None
    assert sent["activity_at"] == sent["date_sent"] != draft["activity_at"]
    assert sent["date_created"] == draft["date_created"]
    assert sent["message_ids"] == [f"<{draft['id']}@wayne.example>"]
    assert sent["envelope"]["message_id"] == sent["message_ids"][0]
    assert sent["envelope"]["date"] is not None


def test_it_cancels_a_scheduled_email_back_to_draft(api: Api, lead: Obj) -> None:
    email = _post(
        api, lead, status="scheduled", sender="b@x.example", date_scheduled="2030-01-01T10:00Z"
    )
    refused = api.put(f"activity/email/{email['id']}/", {"subject": "changed"})
    assert refused.status_code == 400
    assert "Only drafts can be modified" in refused.json()["errors"][0]
    cancelled = api.ok("PUT", f"activity/email/{email['id']}/", {"status": "draft"})
    assert (cancelled["status"], cancelled["date_scheduled"]) == ("draft", None)
    assert cancelled["activity_at"] == cancelled["date_created"]
    assert api.ok("PUT", f"activity/email/{email['id']}/", {"subject": "ok"})["subject"] == "ok"


@pytest.mark.parametrize("status", ["sent", "inbox", "error"])
def test_it_refuses_to_modify_what_is_not_a_draft(api: Api, lead: Obj, status: str) -> None:
    email = _post(api, lead, status=status, sender="b@x.example", subject="Hi")
    for body in ({"subject": "other"}, {"status": "draft"}, {"body_text": "x"}):
        response = api.put(f"activity/email/{email['id']}/", body)
        assert response.status_code == 400, body
        assert response.json()["errors"][0].startswith("Only drafts can be modified")
    # Re-sending what is stored (an exported object) changes nothing and is fine.
    same = api.ok("PUT", f"activity/email/{email['id']}/", {"subject": "Hi", "id": email["id"]})
    assert same["subject"] == "Hi"
    assert same["status"] == status


def test_it_builds_the_envelope(api: Api, lead: Obj) -> None:
    email = _post(
        api,
        lead,
        status="sent",
        sender='"Bruce Wayne" <bruce@wayne.example>',
        to=["Lucius Fox <lucius@wayne.example>", "alfred@wayne.example"],
        cc=["robin@wayne.example"],
        bcc=["oracle@wayne.example"],
        subject="Gadgets",
        activity_at="2024-03-01T09:30:00Z",
    )
    bruce = {"email": "bruce@wayne.example", "name": "Bruce Wayne"}
    assert email["envelope"] == {
        "from": [bruce],
        "sender": [bruce],
        "to": [
            {"email": "lucius@wayne.example", "name": "Lucius Fox"},
            {"email": "alfred@wayne.example", "name": ""},
        ],
        "cc": [{"email": "robin@wayne.example", "name": ""}],
        "bcc": [{"email": "oracle@wayne.example", "name": ""}],
        "reply_to": [],
        "subject": "Gadgets",
        "date": "Fri, 01 Mar 2024 09:30:00 +0000",
        "message_id": f"<{email['id']}@wayne.example>",
        "in_reply_to": None,
        "is_autoreply": False,
    }
    assert email["message_ids"] == [email["envelope"]["message_id"]]


def test_it_keeps_a_synced_message_id(api: Api, lead: Obj) -> None:
    email = _post(
        api, lead, status="inbox", sender="l@x.example", message_ids=["<real@mail.example>"]
    )
    assert email["message_ids"] == ["<real@mail.example>"]
    assert email["envelope"]["message_id"] == "<real@mail.example>"


LONG = "word " * 100
PREVIEWS: list[tuple[Obj, str]] = [
    ({"body_text": "Hello   there\n\nfriend"}, "Hello there friend"),
    ({"body_text": "Thanks!\n> On Monday you wrote:\n> hi"}, "Thanks!"),
    ({"body_html": "<p>Rich <b>text</b></p><p>second</p>"}, "Rich text second"),
    ({"body_text": "", "body_html": ""}, ""),
    ({"body_text": LONG}, LONG[:199].rstrip() + "…"),
]


@pytest.mark.parametrize(("body", "preview"), PREVIEWS)
def test_it_previews_the_body_in_plain_text(api: Api, lead: Obj, body: Obj, preview: str) -> None:
    email = _post(api, lead, status="draft", **body)
    assert email["body_preview"] == preview
    assert len(email["body_preview"]) <= 200


def test_it_validates_and_normalises_attachments_and_opens(api: Api, lead: Obj) -> None:
    email = _post(
        api,
        lead,
        status="sent",
        attachments=[
            {"url": "https://files.example/a", "filename": "plan.pdf", "size": 10, "junk": 1},
            {
                "url": "https://files.example/b",
                "filename": "b.bin",
                "size": 0,
                "content_type": "image/png",
            },
        ],
        opens=[{"opened_at": "2024-03-01T10:00:00Z", "ip_address": "10.0.0.1"}],
    )
    assert email["has_attachments"] is True
    assert email["attachments"] == [
        {
            "url": "https://files.example/a",
            "filename": "plan.pdf",
            "size": 10,
            "content_type": "application/pdf",
        },
        {
            "url": "https://files.example/b",
            "filename": "b.bin",
            "size": 0,
            "content_type": "image/png",
        },
    ]
    assert email["opens"] == [
        {
            "opened_at": "2024-03-01T10:00:00.000000+00:00",
            "opened_by": None,
            "ip_address": "10.0.0.1",
            "user_agent": None,
        }
    ]
    assert email["opens_summary"] == "Opened 1 time"
    plain = _post(api, lead, status="draft")
    assert (plain["has_attachments"], plain["attachments"], plain["opens_summary"]) == (
        False,
        [],
        None,
    )


def test_it_lists_filters_and_deletes(api: Api, other: Api, lead: Obj) -> None:
    second = factories.lead(api, "Second")
    a = _post(api, lead, status="draft", date_created="2024-01-01T00:00:00Z")
    b = _post(api, second, status="draft", date_created="2024-01-02T00:00:00Z")
    listed = api.ok("GET", "activity/email/")["data"]
    assert [e["id"] for e in listed] == [b["id"], a["id"]]
    only = api.ok("GET", "activity/email/", params={"lead_id": lead["id"]})["data"]
    assert [e["id"] for e in only] == [a["id"]]
    fields = api.ok("GET", "activity/email/", params={"_fields": "id,status"})["data"]
    assert fields[0] == {"id": b["id"], "status": "draft"}
    assert other.get(f"activity/email/{a['id']}/").status_code == 404
    assert other.ok("GET", "activity/email/")["data"] == []
    assert other.delete(f"activity/email/{a['id']}/").status_code == 404
    assert api.ok("DELETE", f"activity/email/{a['id']}/") == {}
    assert api.get(f"activity/email/{a['id']}/").status_code == 404


def test_it_refuses_a_reply_to_another_organizations_email(api: Api, other: Api, lead: Obj) -> None:
    theirs_lead = factories.lead(other, "Globex")
    theirs = other.ok("POST", "activity/email/", {"lead_id": theirs_lead["id"], "status": "sent"})
    response = api.post(
        "activity/email/",
        {"lead_id": lead["id"], "status": "draft", "in_reply_to_id": theirs["id"]},
    )
    assert response.status_code == 400
    assert response.json()["field-errors"] == {"in_reply_to_id": "Object does not exist."}
