"""An email's ``followup_date``: Close creates an ``email_followup`` task when the date comes
and no reply has arrived (activities.md, create rules). Due work of the organization's clock."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import PlaneOrg, frozen_org
from tests.emulator.test_clock import T10, lead_of

T11 = "2030-01-01T11:00:00.000000+00:00"
FOLLOW = "2030-01-03T09:00:00.000000+00:00"


def email(org: PlaneOrg, lead: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead["id"],
        "contact_id": lead["contacts"][0]["id"],
        "status": status,
        "sender": "sales@us.example",
        "to": ["jo@acme.example"],
        "subject": "Pricing",
        "body_text": "Hi Jo, here is our pricing.",
        **extra,
    }
    if status == "scheduled":
        body.setdefault("date_scheduled", T10)
    return dict(org.ok("POST", "activity/email/", body))


def followups(org: PlaneOrg) -> list[dict[str, Any]]:
    listed = org.ok("GET", "task/", params={"_type": "email_followup"})
    return list(listed["data"])


@pytest.mark.parametrize("status", ["sent", "outbox", "scheduled"])
def test_no_reply_by_the_date_makes_a_follow_up_task(pclient: TestClient, status: str) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    sent = email(org, lead, status, followup_date=FOLLOW)
    assert "followup_date" not in sent  # write-only: Close's Email object has no such field
    pending = org.plane_ok("GET", "/clock")["pending"]
    assert {"kind": "email.followup", "id": sent["id"], "due": FOLLOW} in pending
    early = org.advance(to="2030-01-03T08:59:59Z")["fired"]
    assert [f for f in early if f["kind"] == "email.followup"] == []
    assert followups(org) == []

    fired = org.advance(to=FOLLOW)["fired"]
    (made,) = [f for f in fired if f["kind"] == "email.followup"]
    (task,) = followups(org)
    assert made == {"kind": "email.followup", "id": sent["id"], "at": FOLLOW, "task_id": task["id"]}
    expected = {
        "_type": "email_followup",
        "lead_id": lead["id"],
        "contact_id": lead["contacts"][0]["id"],
        "assigned_to": sent["user_id"],
        "date": FOLLOW,
        "is_complete": False,
        "is_dateless": False,
        "view": "inbox",
        "email_id": sent["id"],
        "body_preview": sent["body_preview"],
        "object_type": "emailthread",
        "object_id": sent["thread_id"],
        "date_created": FOLLOW,
    }
    assert {k: task[k] for k in expected} == expected
    events = [e for e in org.ok("GET", "event/")["data"] if e["object_id"] == task["id"]]
    assert [(e["object_type"], e["action"]) for e in events] == [("task.email_followup", "created")]
    # It fires once.
    assert org.plane_ok("GET", "/clock")["pending"] == []
    later = org.advance(by="30d")["fired"]
    assert [f for f in later if f["kind"] == "email.followup"] == []
    assert len(followups(org)) == 1


def reply_by_helper(org: PlaneOrg, sent: dict[str, Any], lead: dict[str, Any]) -> None:
    org.plane_ok(
        "POST",
        "/test_helpers/inbound_email",
        {"in_reply_to_id": sent["id"], "from": "jo@acme.example", "body_text": "Thanks!"},
    )


def reply_in_thread(org: PlaneOrg, sent: dict[str, Any], lead: dict[str, Any]) -> None:
    org.ok(
        "POST",
        "activity/email/",
        {
            "lead_id": lead["id"],
            "status": "inbox",
            "sender": "jo@acme.example",
            "to": ["sales@us.example"],
            "subject": "Re: Pricing",
            "body_text": "Thanks!",
            "in_reply_to_id": sent["id"],
        },
    )


@pytest.mark.parametrize("reply", [reply_by_helper, reply_in_thread])
def test_a_reply_before_the_date_means_no_task(pclient: TestClient, reply: Any) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    sent = email(org, lead, "sent", followup_date=FOLLOW)
    org.advance(by="1h")
    reply(org, sent, lead)
    fired = [f for f in org.advance(to=FOLLOW)["fired"] if f["kind"] == "email.followup"]
    skipped = {"kind": "email.followup", "id": sent["id"], "at": FOLLOW, "skipped": "replied"}
    assert fired == [skipped]
    assert followups(org) == []


CHANGES = [
    # (status on create, the update, what the follow-up comes to)
    ("scheduled", {"status": "draft"}, None),  # a cancelled schedule follows nothing up
    ("draft", {"status": "outbox", "followup_date": FOLLOW}, FOLLOW),
    ("draft", {"status": "scheduled", "date_scheduled": T11, "followup_date": FOLLOW}, FOLLOW),
    ("draft", {"followup_date": FOLLOW}, None),  # a draft: Close documents it for sends only
]


@pytest.mark.parametrize(("status", "change", "due"), CHANGES)
def test_the_follow_up_follows_the_email(
    pclient: TestClient, status: str, change: dict[str, Any], due: str | None
) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    extra = {"followup_date": FOLLOW} if status != "draft" else {}
    created = email(org, lead, status, **extra)
    org.ok("PUT", f"activity/email/{created['id']}/", change)
    pending = [p for p in org.plane_ok("GET", "/clock")["pending"] if p["kind"] == "email.followup"]
    assert pending == ([{"kind": "email.followup", "id": created["id"], "due": due}] if due else [])


def test_deleting_the_email_or_its_lead_drops_the_follow_up(pclient: TestClient) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    first = email(org, lead, "sent", followup_date=FOLLOW)
    email(org, lead, "sent", followup_date=FOLLOW)
    org.ok("DELETE", f"activity/email/{first['id']}/")
    assert len(org.plane_ok("GET", "/clock")["pending"]) == 1
    org.ok("DELETE", f"lead/{lead['id']}/")
    assert org.plane_ok("GET", "/clock")["pending"] == []


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"followup_date": "soon"}, "followup_date"),
        ({"followup_date": 12}, "followup_date"),
    ],
)
def test_a_bad_followup_date_is_400_and_writes_nothing(
    pclient: TestClient, body: dict[str, Any], key: str
) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    response = org.post("activity/email/", {"lead_id": lead["id"], "status": "sent", **body})
    assert response.status_code == 400, response.text
    assert key in response.json()["field-errors"]
    assert org.ok("GET", "activity/email/", params={"lead_id": lead["id"]})["data"] == []
    assert org.plane_ok("GET", "/clock")["pending"] == []
