"""The outbox and the outside-world test helpers, each writing what Close would."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import FROZEN, PlaneOrg, frozen_org

T10 = "2030-01-01T10:00:00.000000+00:00"


@pytest.fixture
def org(pclient: TestClient) -> PlaneOrg:
    return frozen_org(pclient)


@pytest.fixture
def lead(org: PlaneOrg) -> dict[str, Any]:
    body = {"name": "Acme", "contacts": [{"name": "Jo", "emails": [{"email": "jo@acme.example"}],
                                          "phones": [{"phone": "+16505551234"}]}]}  # fmt: skip
    return dict(org.ok("POST", "lead/", body))


def email(org: PlaneOrg, lead: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {"lead_id": lead["id"], "status": "outbox", "sender": "Sales <sales@us.example>",
            "to": ["jo@acme.example"], "cc": ["boss@acme.example"], "subject": "Offer",
            "body_text": "Our offer", "body_html": "<p>Our offer</p>", **extra}  # fmt: skip
    return dict(org.ok("POST", "activity/email/", body))


def test_the_outbox_lists_what_was_sent_and_can_be_cleared(
    org: PlaneOrg, lead: dict[str, Any]
) -> None:
    sent = email(org, lead)
    email(org, lead, status="draft")
    email(org, lead, status="scheduled", date_scheduled=T10)
    body = {"lead_id": lead["id"], "status": "outbox", "remote_phone": "+16505551234", "text": "Hi"}
    sms = org.ok("POST", "activity/sms/", body)
    box = org.plane_ok("GET", "/outbox")["data"]
    assert [(m["kind"], m["id"]) for m in box] == [("email", sent["id"]), ("sms", sms["id"])]
    first = box[0]
    assert first["to"] == ["jo@acme.example"]
    assert first["cc"] == ["boss@acme.example"]
    assert (first["subject"], first["body_html"], first["date_sent"]) == (
        "Offer",
        "<p>Our offer</p>",
        FROZEN,
    )
    assert first["message_id"] == f"<{sent['id']}@us.example>"
    assert org.plane_ok("GET", "/outbox?kind=sms")["data"][0]["remote_phone"] == "+16505551234"
    org.advance(until="idle")  # the scheduled one goes out
    assert len(org.plane_ok("GET", "/outbox?kind=email")["data"]) == 2
    org.plane_ok("DELETE", "/outbox?kind=email", status=204)
    assert [m["kind"] for m in org.plane_ok("GET", "/outbox")["data"]] == ["sms"]
    assert org.plane("GET", "/outbox?kind=fax").status_code == 400
    # Cleared from the list only: the activities are the organization's data.
    assert org.ok("GET", f"activity/email/{sent['id']}/")["status"] == "sent"


def test_an_inbound_email_threads_onto_its_parent_and_sets_has_reply(
    org: PlaneOrg, lead: dict[str, Any]
) -> None:
    sent = email(org, lead)
    org.advance(by="1h")
    reply = org.plane_ok("POST", "/test_helpers/inbound_email", {
        "in_reply_to_id": sent["id"], "from": "Jo <jo@acme.example>",
        "to": ["sales@us.example"], "body_text": "Sounds good\n> Our offer",
    })  # fmt: skip
    assert (reply["status"], reply["direction"]) == ("inbox", "incoming")
    assert reply["lead_id"] == lead["id"]
    assert reply["thread_id"] == sent["thread_id"]
    assert reply["subject"] == "Re: Offer"
    assert reply["envelope"]["in_reply_to"] == sent["message_ids"][0]
    assert reply["date_created"] == "2030-01-01T10:00:00.000000+00:00"
    parent = org.ok("GET", f"activity/email/{sent['id']}/")
    assert parent["has_reply"] is True
    thread = org.ok("GET", f"activity/emailthread/{sent['thread_id']}/")
    assert thread["n_emails"] == 2
    actions = [(e["object_id"], e["action"]) for e in org.ok("GET", "event/")["data"][:3]]
    assert (reply["id"], "created") in actions
    assert (sent["id"], "updated") in actions


def test_inbound_sms_and_call(org: PlaneOrg, lead: dict[str, Any]) -> None:
    sms = org.plane_ok(
        "POST",
        "/test_helpers/inbound_sms",
        {"lead_id": lead["id"], "remote_phone": "+16505551234", "text": "Call me"},
    )
    assert (sms["status"], sms["direction"], sms["text"]) == ("inbox", "inbound", "Call me")
    call = org.plane_ok(
        "POST",
        "/test_helpers/inbound_call",
        {"lead_id": lead["id"], "remote_phone": "+16505551234", "duration": 95},
    )
    assert (call["direction"], call["duration"], call["disposition"]) == ("inbound", 95, "answered")
    feed = org.ok("GET", "activity/", params={"lead_id": lead["id"]})["data"]
    assert {a["id"] for a in feed} >= {sms["id"], call["id"]}
    bad = org.plane("POST", "/test_helpers/inbound_sms", {"lead_id": "lead_missing", "text": "x"})
    assert bad.status_code == 400
    assert set(bad.json()) == {"errors", "field-errors"}


def test_email_opened_and_bounced(org: PlaneOrg, lead: dict[str, Any]) -> None:
    sent = email(org, lead)
    opened = org.plane_ok("POST", "/test_helpers/email_opened", {"activity_id": sent["id"]})
    assert opened["opens"][0]["opened_at"] == FROZEN
    assert opened["opens"][0]["opened_by"] == "jo@acme.example"
    assert opened["opens_summary"] == "Opened 1 time"
    bounced = org.plane_ok(
        "POST",
        "/test_helpers/email_bounced",
        {"activity_id": sent["id"], "error_message": "550 No such user"},
    )
    assert bounced["status"] == "error"
    assert bounced["send_attempts"][-1]["error_message"] == "550 No such user"
    again = org.plane("POST", "/test_helpers/email_bounced", {"activity_id": sent["id"]})
    assert again.status_code == 400
    missing = org.plane("POST", "/test_helpers/email_opened", {"activity_id": "acti_nope"})
    assert missing.status_code == 404
