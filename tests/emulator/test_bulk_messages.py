"""Bulk email and bulk sequence subscription (/bulk_action/email/,
/bulk_action/sequence_subscription/, more.md §10): a template sent to, or a sequence run for,
the contacts of the leads a search selects, with the events one-by-one changes write."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import PlaneOrg, frozen_org
from tests.emulator.test_bulk_actions import _name_is, s_query

Obj = dict[str, Any]
ACME = s_query(_name_is("acme"))
SENDER = {
    "sender_account_id": "emailacct_0oCdWxJ9cT2sZ8HcOYDXkz8lD9ZpMPbYDV5N1zW43dv",
    "sender_name": "Sam Seller",
    "sender_email": "sam@us.example",
}


@pytest.fixture
def org(pclient: TestClient) -> PlaneOrg:
    return frozen_org(pclient)


def _contact(name: str, *emails: str) -> Obj:
    return {"name": name, "emails": [{"email": e} for e in emails]}


@pytest.fixture
def board(org: PlaneOrg) -> dict[str, Obj]:
    leads = {
        "Acme Alpha": [_contact("Ann", "ann@alpha.example", "ann2@alpha.example"),
                       _contact("Bob", "bob@alpha.example")],
        "Acme Beta": [_contact("No Mail"), _contact("Cy", "cy@beta.example")],
        "Wayne Enterprises": [_contact("Bruce", "bruce@wayne.example")],
    }  # fmt: skip
    return {n: org.ok("POST", "lead/", {"name": n, "contacts": c}) for n, c in leads.items()}


@pytest.fixture
def template(org: PlaneOrg) -> Obj:
    body = {"name": "Promo", "subject": "News for {{ contact.first_name }}", "body": "Hi!",
            "is_shared": True}  # fmt: skip
    return dict(org.ok("POST", "email_template/", body))


def _run(org: PlaneOrg, kind: str, body: Obj) -> Obj:
    job = org.ok("POST", f"bulk_action/{kind}/", body)
    assert job["status"] == "created"
    org.advance(by="1m")  # the job's steps, not the day-later sequence steps it starts
    return dict(org.ok("GET", f"bulk_action/{kind}/{job['id']}/"))


@pytest.mark.parametrize(
    ("preference", "recipients"),
    [
        ("lead", ["ann@alpha.example", "cy@beta.example"]),
        ("contact", ["ann@alpha.example", "bob@alpha.example", "cy@beta.example"]),
        ("all", ["ann2@alpha.example", "ann@alpha.example", "bob@alpha.example",
                 "cy@beta.example"]),
    ],
)  # fmt: skip
def test_bulk_email_sends_the_template_to_the_selected_contacts(
    org: PlaneOrg, board: dict[str, Obj], template: Obj, preference: str, recipients: list[str]
) -> None:
    body = {"template_id": template["id"], "sender": "Sales <sales@us.example>",
            "contact_preference": preference, "s_query": ACME}  # fmt: skip
    done = _run(org, "email", body)
    assert done["id"].startswith("bulkemail_")
    shown = {"template_id": template["id"], "sender": "Sales <sales@us.example>",
             "contact_preference": preference, "email_account_id": None, "status": "done",
             "n_leads": 2, "n_objects": len(recipients),
             "n_objects_processed": len(recipients)}  # fmt: skip
    assert {k: done[k] for k in shown} == shown
    box = org.plane_ok("GET", "/outbox?kind=email")["data"]
    assert sorted(m["to"][0] for m in box) == recipients
    emails = org.ok("GET", "activity/email/")["data"]
    assert {e["bulk_email_action_id"] for e in emails} == {done["id"]}
    assert {e["subject"][:9] for e in emails} == {"News for "}
    created = [e for e in org.ok("GET", "event/")["data"]
               if e["object_type"] == "activity.email" and e["action"] == "created"]  # fmt: skip
    assert len(created) == len(recipients)
    assert {e["meta"].get("bulk_action_id") for e in created} == {done["id"]}


def test_bulk_subscribe_pause_and_resume(org: PlaneOrg, board: dict[str, Obj]) -> None:
    steps = [{"step_type": "call", "delay": 86400}]
    seq = org.ok("POST", "sequence/", {"name": "Drip", "timezone": "UTC", "steps": steps})
    body = {"action_type": "subscribe", "sequence_id": seq["id"], **SENDER,
            "contact_preference": "contact", "s_query": ACME}  # fmt: skip
    done = _run(org, "sequence_subscription", body)
    assert done["id"].startswith("bulkseqsub_")
    assert (done["action_type"], done["n_leads"], done["n_objects_processed"]) == (
        "subscribe",
        2,
        3,
    )
    subs = org.ok("GET", "sequence_subscription/", params={"sequence_id": seq["id"]})["data"]
    assert sorted(s["contact_email"] for s in subs) == [
        "ann@alpha.example", "bob@alpha.example", "cy@beta.example"]  # fmt: skip
    assert {s["status"] for s in subs} == {"active"}
    events = org.ok("GET", "event/")["data"]
    made = [e for e in events if e["object_type"] == "sequence_subscription"]
    assert {e["meta"].get("bulk_action_id") for e in made} == {done["id"]}
    # Subscribing again skips the contacts already running.
    again = _run(org, "sequence_subscription", body)
    assert (again["n_objects"], again["n_objects_processed"]) == (0, 0)

    paused = _run(org, "sequence_subscription", {"action_type": "pause", "s_query": ACME})
    assert paused["n_objects_processed"] == 3
    listed = org.ok("GET", "sequence_subscription/", params={"sequence_id": seq["id"]})["data"]
    assert {(s["status"], s["status_reason"]) for s in listed} == {("paused", "bulk-action")}
    resume = {"action_type": "resume", "sequence_id": seq["id"], "s_query": ACME}
    resumed = _run(org, "sequence_subscription", resume)
    assert resumed["n_objects_processed"] == 3
    listed = org.ok("GET", "sequence_subscription/", params={"sequence_id": seq["id"]})["data"]
    assert {(s["status"], s["status_reason"]) for s in listed} == {("active", None)}


BAD = [
    ("email", {"s_query": ACME}, {"template_id": "This field is required."}),
    ("email", {"template_id": "tmpl_nope", "s_query": ACME},
     {"template_id": "Object does not exist."}),
    ("sequence_subscription", {"action_type": "subscribe", "s_query": ACME},
     {k: "This field is required." for k in ("sequence_id", *SENDER)}),
    ("sequence_subscription", {"action_type": "pause", "sequence_id": "seq_nope",
                               "s_query": ACME}, {"sequence_id": "Object does not exist."}),
    ("sequence_subscription", {"action_type": "reassign", "s_query": ACME},
     {"action_type": "Not a valid choice. Valid choices are: subscribe, pause, resume."}),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "field_errors"), BAD)
def test_bad_bulk_message_actions_are_400(
    org: PlaneOrg, kind: str, body: Obj, field_errors: Obj
) -> None:
    response = org.post(f"bulk_action/{kind}/", body)
    assert response.status_code == 400, response.text
    assert response.json() == {"errors": [], "field-errors": field_errors}
