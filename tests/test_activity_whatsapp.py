"""WhatsApp messages (``/activity/whatsapp_message/``): sync-only messages mirrored by partners."""

from typing import Any

import pytest

from crmapi.activities.types import whatsapp
from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]


@pytest.fixture
def lead(api: Api) -> Obj:
    return factories.lead(api, "Wayne", contacts=[{"name": "Lucius"}])  # type: ignore[no-any-return]


def _body(lead: Obj, **over: Any) -> Obj:
    return {
        "lead_id": lead["id"],
        "contact_id": lead["contacts"][0]["id"],
        "direction": "outgoing",
        "external_whatsapp_message_id": "wamid.1",
        "local_phone": "16503334444",
        "remote_phone": "+1 (818) 300-4000",
        "message_markdown": "test",
        "activity_at": "2025-06-25T10:00:00Z",
        **over,
    }


def test_it_creates_reads_updates_and_deletes(api: Api, lead: Obj) -> None:
    message = api.ok(
        "POST",
        "activity/whatsapp_message/",
        _body(lead, integration_link="https://partner.example/m/1"),
    )
    assert {k: message[k] for k in ("_type", "direction", "source", "integration_name")} == {
        "_type": "WhatsAppMessage",
        "direction": "outgoing",
        "source": "api",
        "integration_name": "API",
    }
    assert (message["local_phone"], message["local_phone_formatted"]) == (
        "+16503334444",
        "+1 650-333-4444",
    )
    assert (message["remote_phone"], message["remote_phone_formatted"]) == (
        "+18183004000",
        "+1 818-300-4000",
    )
    assert (message["message_html"], message["text"]) == ("<p>test</p>", "test")
    assert message["activity_at"] == "2025-06-25T10:00:00.000000+00:00"
    assert message["attachments"] == []
    assert message["response_to_id"] is None
    assert api.ok("GET", f"activity/whatsapp_message/{message['id']}/") == message
    edited = api.ok(
        "PUT",
        f"activity/whatsapp_message/{message['id']}/",
        {"message_markdown": "*edited*", "direction": "incoming", "remote_phone": "447911123456"},
    )
    assert (edited["message_html"], edited["text"]) == ("<p><strong>edited</strong></p>", "edited")
    assert edited["direction"] == "incoming"
    assert edited["remote_phone"] == "+447911123456"
    assert edited["remote_phone_formatted"] == "+44 7911 123456"
    assert edited["external_whatsapp_message_id"] == "wamid.1"
    assert api.ok("DELETE", f"activity/whatsapp_message/{message['id']}/") == {}
    assert api.get(f"activity/whatsapp_message/{message['id']}/").status_code == 404


REQUIRED = [
    ("lead_id", "lead"),
    ("contact_id", "contact"),
    ("direction", "direction"),
    ("external_whatsapp_message_id", "external_whatsapp_message_id"),
    ("local_phone", "local_phone"),
    ("remote_phone", "remote_phone"),
    ("message_markdown", "message_markdown"),
    ("activity_at", "activity_at"),
]


@pytest.mark.parametrize(("name", "key"), REQUIRED)
def test_it_requires_what_close_requires(api: Api, lead: Obj, name: str, key: str) -> None:
    body = _body(lead)
    del body[name]
    response = api.post("activity/whatsapp_message/", body)
    assert response.status_code == 400
    assert response.json()["field-errors"] == {key: "This field is required."}
    assert api.ok("GET", "activity/whatsapp_message/")["data"] == []


BAD: list[tuple[Obj, str, str | None]] = [
    ({"direction": "inbound"}, "direction", None),
    ({"local_phone": "12"}, "local_phone", "Enter a valid phone number with its country code."),
    ({"remote_phone": "not a phone"}, "remote_phone", None),
    ({"response_to_id": "acti_nope"}, "response_to_id", None),
    ({"contact_id": "cont_nope"}, "contact", "Object does not exist."),
    ({"activity_at": "yesterday"}, "activity_at", "Not a valid datetime."),
    (
        {"attachments": [{"url": "https://f.example/a", "filename": "a.png"}]},
        "attachments",
        "Attachment 0: content_type required.",
    ),
    (
        {
            "attachments": [
                {
                    "url": "https://f.example/a",
                    "filename": "a.mp4",
                    "content_type": "video/mp4",
                    "size": 26 * 2**20,
                }
            ]
        },
        "attachments",
        "Attachments may total at most 25 MB.",
    ),
]


@pytest.mark.parametrize(("over", "key", "message"), BAD)
def test_it_rejects_bad_values(
    api: Api, lead: Obj, over: Obj, key: str, message: str | None
) -> None:
    response = api.post("activity/whatsapp_message/", _body(lead, **over))
    assert response.status_code == 400
    errors = response.json()["field-errors"]
    assert list(errors) == [key]
    if message is not None:
        assert errors[key] == message


def test_it_links_replies_to_whatsapp_messages_only(api: Api, other: Api, lead: Obj) -> None:
    first = api.ok("POST", "activity/whatsapp_message/", _body(lead))
    reply = api.ok(
        "POST",
        "activity/whatsapp_message/",
        _body(lead, external_whatsapp_message_id="wamid.2", response_to_id=first["id"]),
    )
    assert reply["response_to_id"] == first["id"]
    note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "n"})
    theirs_lead = factories.lead(other, "G", contacts=[{"name": "X"}])
    theirs = other.ok("POST", "activity/whatsapp_message/", _body(theirs_lead))
    for target in (note["id"], theirs["id"], reply["id"]):
        response = api.put(f"activity/whatsapp_message/{reply['id']}/", {"response_to_id": target})
        assert response.status_code == 400, target
        assert "response_to_id" in response.json()["field-errors"]
    cleared = api.ok("PUT", f"activity/whatsapp_message/{reply['id']}/", {"response_to_id": None})
    assert cleared["response_to_id"] is None


def test_it_finds_messages_by_external_id(api: Api, other: Api, lead: Obj) -> None:
    ids = {}
    for external in ("wamid.A", "wamid.B", "wamid.C"):
        created = api.ok(
            "POST", "activity/whatsapp_message/", _body(lead, external_whatsapp_message_id=external)
        )
        ids[external] = created["id"]

    def found(value: str, who: Api = api) -> set[str]:
        data = who.ok(
            "GET", "activity/whatsapp_message/", params={"external_whatsapp_message_id": value}
        )["data"]
        return {m["id"] for m in data}

    assert found("wamid.B") == {ids["wamid.B"]}
    assert found("wamid.A,wamid.C") == {ids["wamid.A"], ids["wamid.C"]}
    assert found("wamid.Z") == set()
    assert found("wamid.A", other) == set()


MARKDOWN = [
    ("test", "<p>test</p>", "test"),
    (
        "*bold* _it_ ~gone~ `code`",
        "<p><strong>bold</strong> <em>it</em> <s>gone</s> <code>code</code></p>",
        "bold it gone code",
    ),
    ("a < b & c", "<p>a &lt; b &amp; c</p>", "a < b & c"),
    (
        "line one\nline two\n\nnext",
        "<p>line one<br>line two</p><p>next</p>",
        "line one\nline two\n\nnext",
    ),
    ("- milk\n- eggs", "<ul><li>milk</li><li>eggs</li></ul>", "- milk\n- eggs"),
    ("1. first\n2. second", "<ol><li>first</li><li>second</li></ol>", "1. first\n2. second"),
    ("> quoted", "<blockquote><p>quoted</p></blockquote>", "> quoted"),
    ("2*3*4 snake_case_name", "<p>2*3*4 snake_case_name</p>", "2*3*4 snake_case_name"),
    ("", "", ""),
]


@pytest.mark.parametrize(("markdown", "html", "text"), MARKDOWN)
def test_it_renders_whatsapp_markdown(markdown: str, html: str, text: str) -> None:
    assert whatsapp.to_html(markdown) == html
    assert whatsapp.to_text(markdown) == text
