"""Sequences and subscriptions (/sequence/, /sequence_subscription/, more.md §5): their
declarations' rules as data, and runs advanced step by step by the organization's clock."""

from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.resources import sequence_schedule
from tests.emulator.conftest import FROZEN, PlaneOrg, frozen_org
from tests.test_webhooks import Receiver
from tests.test_webhooks import subscribe as subscribe_hook

Obj = dict[str, Any]
HOUR, DAY = 3600, 86400
T10 = "2030-01-01T10:00:00.000000+00:00"  # FROZEN is Tuesday 2030-01-01 09:00 UTC
SENDER = {
    "sender_account_id": "emailacct_0oCdWxJ9cT2sZ8HcOYDXkz8lD9ZpMPbYDV5N1zW43dv",
    "sender_name": "Sam Seller",
    "sender_email": "sam@us.example",
}


@pytest.fixture
def org(pclient: TestClient) -> PlaneOrg:
    return frozen_org(pclient)


@pytest.fixture
def lead(org: PlaneOrg) -> Obj:
    body = {
        "name": "Acme",
        "contacts": [
            {
                "name": "Jo Smith",
                "emails": [{"email": "jo@acme.example"}],
                "phones": [{"phone": "+16505551234"}],
            }
        ],
    }
    return dict(org.ok("POST", "lead/", body))


@pytest.fixture
def template(org: PlaneOrg) -> Obj:
    body = {
        "name": "Intro",
        "subject": "Hello {{ contact.first_name }}",
        "body": "Hi {{ contact.first_name }}, meet {{ lead.display_name }}.",
        "is_shared": True,
    }
    return dict(org.ok("POST", "email_template/", body))


def sequence(org: PlaneOrg, steps: list[Obj], **extra: Any) -> Obj:
    body = {"name": "Outreach", "timezone": "America/Los_Angeles", "steps": steps, **extra}
    return dict(org.ok("POST", "sequence/", body))


def subscribe(org: PlaneOrg, seq: Obj, lead: Obj, **extra: Any) -> Obj:
    contact = lead["contacts"][0]
    body = {
        "sequence_id": seq["id"],
        "contact_id": contact["id"],
        "contact_email": contact["emails"][0]["email"],
        **SENDER,
        **extra,
    }
    response = org.post("sequence_subscription/", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def steps_fired(org: PlaneOrg, **advance: Any) -> list[Obj]:
    return [f for f in org.advance(**advance)["fired"] if f["kind"] == "sequence.step"]


def sub_of(org: PlaneOrg, sub: Obj) -> Obj:
    return dict(org.ok("GET", f"sequence_subscription/{sub['id']}/"))


def emails_of(org: PlaneOrg, lead: Obj) -> list[Obj]:
    page = org.ok("GET", "activity/email/", params={"lead_id": lead["id"]})
    return sorted(page["data"], key=lambda e: e["date_created"])


# --- the declarations' rules ----------------------------------------------------------------

CALL = {"step_type": "call", "delay": 0}
BAD_SEQUENCES = [
    # (body change, field-errors) -- Close's wording where it is known (more.md §5.1)
    ({"timezone": None}, {"timezone": "This field is required."}),
    ({"timezone": "Mars/Olympus"}, {"timezone": "Unknown time zone: Mars/Olympus."}),
    ({"name": "  "}, {"name": "This field may not be blank."}),
    ({"steps": []}, {"steps": "A sequence needs at least one step."}),
    (
        {"steps": [{"step_type": "fax", "delay": 0}]},
        {"steps": "Step 0: step_type must be one of email, call, sms."},
    ),
    ({"steps": [{"delay": 0}]}, {"steps": "Step 0: step_type must be one of email, call, sms."}),
    (
        {"steps": [CALL, {"step_type": "call", "delay": -1}]},
        {"steps": "Step 1: delay must be a whole number of seconds (0 to 315360000)."},
    ),
    (
        {"steps": [{"step_type": "email", "email_template_id": "tmpl_nope"}]},
        {"steps": "Step 0: email_template_id: Object does not exist."},
    ),
    (
        {"steps": [{"step_type": "sms", "sms_template_id": "smstmpl_nope"}]},
        {"steps": "Step 0: sms_template_id: Object does not exist."},
    ),
    (
        {"steps": [{"step_type": "call", "id": "seqstep_nope"}]},
        {"steps": "Step 0: id: Object does not exist."},
    ),
    (
        {"status": "running"},
        {"status": "Not a valid choice. Valid choices are: active, paused, draft."},
    ),
    (
        {"schedule": {"ranges": [{"weekday": 8, "start": "09:00", "end": "17:00"}]}},
        {"schedule": "Not a valid schedule: range 0: weekday must be 1 (Monday) to 7 (Sunday)."},
    ),
    (
        {"schedule": {"ranges": [{"weekday": 1, "start": "17:00", "end": "09:00"}]}},
        {"schedule": "Not a valid schedule: range 0: start must be before end."},
    ),
]


@pytest.mark.parametrize(("change", "errors"), BAD_SEQUENCES)
def test_bad_sequences_are_400(org: PlaneOrg, change: Obj, errors: Obj) -> None:
    body = {"name": "Outreach", "timezone": "US/Eastern", "steps": [CALL], **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = org.post("sequence/", body)
    assert response.status_code == 400, response.text
    got = response.json()
    assert got["errors"] == []
    assert {k: got["field-errors"][k] for k in errors} == errors


def test_a_template_must_be_shared(org: PlaneOrg) -> None:
    private = org.ok("POST", "email_template/", {"name": "P", "subject": "s", "body": "b"})
    body = {"step_type": "email", "email_template_id": private["id"]}
    response = org.post("sequence/", {"name": "S", "timezone": "UTC", "steps": [body]})
    assert response.status_code == 400
    message = f'Template "{private["id"]}" cannot be used in Workflows because it is not shared.'
    assert response.json()["field-errors"] == {"steps": f"Step 0: {message}"}


def test_a_sequence_as_close_answers_it(org: PlaneOrg, template: Obj) -> None:
    """Close's example (more.md §5.1): 200, steps with ids, a template-only step is email."""
    schedule = {"ranges": [{"weekday": 1, "start": "09:00", "end": "16:59"}]}
    steps = [
        {"step_type": "call", "delay": 0, "required": True},
        {"step_type": "email", "delay": DAY, "email_template_id": template["id"],
         "threading": "old_thread"},
        {"delay": 3 * DAY, "email_template_id": template["id"], "threading": "old_thread"},
    ]  # fmt: skip
    response = org.post(
        "sequence/",
        {"name": "My Sequence", "timezone": "America/Los_Angeles", "schedule": schedule,
         "steps": steps},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    made = response.json()
    assert made["id"].startswith("seq_")
    expected = {
        "name": "My Sequence",
        "status": "active",
        "timezone": "America/Los_Angeles",
        "schedule": schedule,
        "allow_manual_enrollment": True,
        "organization_id": org.org_id,
        "date_created": FROZEN,
    }
    assert {k: made[k] for k in expected} == expected
    assert made["created_by_id"] == made["updated_by_id"] is not None
    assert "subscription_counts_by_status" not in made
    step = made["steps"][0]
    assert step["id"].startswith("seqstep_")
    assert {k: step[k] for k in ("step_type", "email_template_id", "sms_template_id",
                                 "threading", "required", "step_allowed_delay")} == {
        "step_type": "call", "email_template_id": None, "sms_template_id": None,
        "threading": None, "required": True, "step_allowed_delay": None,
    }  # fmt: skip
    assert [s["step_type"] for s in made["steps"]] == ["call", "email", "email"]
    got = org.ok("GET", f"sequence/{made['id']}/")
    counts = {"active": 0, "paused": 0, "finished": 0, "goal": 0, "error": 0}
    assert got["subscription_counts_by_status"] == counts
    listed = org.ok("GET", "sequence/", params={"_limit": 1000})["data"]
    assert [s["id"] for s in listed] == [made["id"]]
    assert "subscription_counts_by_status" not in listed[0]


def test_a_put_with_steps_keeps_reorders_adds_and_removes(org: PlaneOrg, template: Obj) -> None:
    made = sequence(org, [CALL, {"step_type": "call", "delay": DAY}])
    first, second = made["steps"]
    new = {"step_type": "email", "email_template_id": template["id"], "delay": HOUR}
    body = {"steps": [{"id": second["id"]}, new], "name": "Renamed"}
    updated = org.ok("PUT", f"sequence/{made['id']}/", body)
    assert updated["name"] == "Renamed"
    assert [s["id"] for s in updated["steps"]][:1] == [second["id"]]
    assert updated["steps"][0] == second  # kept as it was
    assert updated["steps"][1]["step_type"] == "email"
    assert first["id"] not in {s["id"] for s in updated["steps"]}
    assert "subscription_counts_by_status" in updated


CASES_SUBSCRIBE = [
    # (body change, status, errors, field-errors)
    ({"sequence_id": "seq_nope"}, 400, [], {"sequence_id": "Object does not exist."}),
    ({"contact_id": "cont_nope"}, 400, [], {"contact_id": "Object does not exist."}),
    (
        {"contact_email": "other@acme.example"},
        400,
        [],
        {"contact_email": "This email address does not exist on the contact."},
    ),
    ({"sender_email": None}, 400, [], {"sender_email": "This field is required."}),
    (
        {"calls_assigned_to": ["user_nope"]},
        400,
        [],
        {"calls_assigned_to": "User user_nope does not exist."},
    ),
]


@pytest.mark.parametrize(("change", "status", "errors", "field_errors"), CASES_SUBSCRIBE)
def test_bad_subscriptions_are_400(
    org: PlaneOrg, lead: Obj, change: Obj, status: int, errors: list[str], field_errors: Obj
) -> None:
    seq = sequence(org, [CALL])
    contact = lead["contacts"][0]
    body = {"sequence_id": seq["id"], "contact_id": contact["id"],
            "contact_email": "jo@acme.example", **SENDER, **change}  # fmt: skip
    response = org.post("sequence_subscription/", {k: v for k, v in body.items() if v is not None})
    assert response.status_code == status, response.text
    assert response.json() == {"errors": errors, "field-errors": field_errors}


def test_a_subscription_as_close_answers_it(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": DAY}])
    sub = subscribe(org, seq, lead, calls_assigned_to=[org.ok("GET", "me/")["id"]])
    assert sub["id"].startswith("sub_")
    expected = {
        "sequence_id": seq["id"],
        "contact_id": lead["contacts"][0]["id"],
        "lead_id": lead["id"],
        "organization_id": org.org_id,
        "contact_email": "jo@acme.example",
        **SENDER,
        "status": "active",
        "status_reason": None,
        "start_date": None,
        "date_created": FROZEN,
    }
    assert {k: sub[k] for k in expected} == expected
    again = org.post("sequence_subscription/", {
        "sequence_id": seq["id"], "contact_id": sub["contact_id"],
        "contact_email": "jo@acme.example", **SENDER})  # fmt: skip
    assert again.status_code == 400
    assert again.json()["errors"] == ["The contact is already subscribed to this sequence."]
    pending = org.plane_ok("GET", "/clock")["pending"]
    assert {
        "kind": "sequence.step",
        "id": sub["id"],
        "due": "2030-01-02T09:00:00.000000+00:00",
    } in pending


LISTS = [
    ({}, 400),
    ({"sequence_id": "SEQ"}, 200),
    ({"contact_id": "CONTACT"}, 200),
    ({"lead_id": "LEAD"}, 200),
    ({"lead_id": "lead_other"}, 200),
]


@pytest.mark.parametrize(("params", "status"), LISTS)
def test_a_subscription_list_needs_a_filter(
    org: PlaneOrg, lead: Obj, params: dict[str, str], status: int
) -> None:
    seq = sequence(org, [CALL])
    sub = subscribe(org, seq, lead)
    ids = {"SEQ": seq["id"], "CONTACT": sub["contact_id"], "LEAD": lead["id"]}
    response = org.get(
        "sequence_subscription/", params={k: ids.get(v, v) for k, v in params.items()}
    )
    assert response.status_code == status, response.text
    if status == 400:
        message = "Filter the subscriptions by at least one of sequence_id, contact_id or lead_id."
        assert response.json() == {"errors": [message], "field-errors": {}}
    else:
        expected = [] if params.get("lead_id") == "lead_other" else [sub["id"]]
        assert [s["id"] for s in response.json()["data"]] == expected


# --- runs on the clock -----------------------------------------------------------------------


def test_the_clock_writes_the_step_email_and_a_reply_pauses_the_run(
    org: PlaneOrg, lead: Obj, template: Obj
) -> None:
    email_step = {"step_type": "email", "delay": HOUR, "email_template_id": template["id"]}
    follow_up = {**email_step, "delay": 2 * DAY, "threading": "old_thread"}
    seq = sequence(org, [email_step, follow_up])
    sub = subscribe(org, seq, lead)
    assert steps_fired(org, to="2030-01-01T09:59:59Z") == []
    assert emails_of(org, lead) == []

    (fired,) = steps_fired(org, to=T10)
    (email,) = emails_of(org, lead)
    assert fired == {"kind": "sequence.step", "id": sub["id"], "at": T10,
                     "step_id": seq["steps"][0]["id"], "step_type": "email",
                     "email_id": email["id"], "status": "active"}  # fmt: skip
    expected = {
        "sequence_id": seq["id"],
        "sequence_name": "Outreach",
        "sequence_subscription_id": sub["id"],
        "status": "sent",
        "direction": "outgoing",
        "subject": "Hello Jo",
        "body_text": "Hi Jo, meet Acme.",
        "sender": "Sam Seller <sam@us.example>",
        "to": ["Jo Smith <jo@acme.example>"],
        "template_id": template["id"],
        "contact_id": lead["contacts"][0]["id"],
        "date_sent": T10,
    }
    assert {k: email[k] for k in expected} == expected
    (sent,) = org.plane_ok("GET", "/outbox")["data"]
    assert (sent["id"], sent["subject"]) == (email["id"], "Hello Jo")
    assert sub_of(org, sub)["start_date"] == T10

    org.advance(by="1h")
    reply = {"in_reply_to_id": email["id"], "from": "jo@acme.example", "body_text": "Yes!"}
    org.plane_ok("POST", "/test_helpers/inbound_email", reply)
    paused = sub_of(org, sub)
    assert (paused["status"], paused["status_reason"]) == ("paused", "reply-received")
    assert steps_fired(org, by="5d") == []
    assert len([e for e in emails_of(org, lead) if e["direction"] == "outgoing"]) == 1
    listed = org.ok("GET", "event/", params={"lead_id": lead["id"]})["data"]
    events = [e for e in listed if e["object_id"] == sub["id"]]
    actions = [e["action"] for e in reversed(events)]
    assert actions == ["created", "updated", "updated"]  # the step, then the pause
    assert {"status", "status_reason"} <= set(events[0]["changed_fields"])
    assert events[0]["data"]["status"] == "paused"


REPLIES = [
    # (the inbound helper, its body, does it pause the run)
    ("inbound_sms", {"remote_phone": "+16505551234", "text": "Stop"}, True),
    ("inbound_sms", {"remote_phone": "+16505550000", "text": "Who?"}, False),
    ("inbound_email", {"from": "jo@acme.example", "subject": "Hi", "body_text": "Yes"}, True),
    ("inbound_email", {"from": "cfo@acme.example", "subject": "Hi", "body_text": "?"}, False),
]


@pytest.mark.parametrize(("helper", "body", "pauses"), REPLIES)
def test_a_reply_from_the_contact_pauses_the_run(
    org: PlaneOrg, lead: Obj, helper: str, body: Obj, pauses: bool
) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": DAY}])
    sub = subscribe(org, seq, lead)
    org.plane_ok("POST", f"/test_helpers/{helper}", {"lead_id": lead["id"], **body})
    after = sub_of(org, sub)
    expected = ("paused", "reply-received") if pauses else ("active", None)
    assert (after["status"], after["status_reason"]) == expected


def test_a_run_goes_through_every_step_and_finishes(
    org: PlaneOrg, lead: Obj, template: Obj
) -> None:
    made = org.post("sms_template/", {"name": "Ping", "text": "Hi {{ contact.first_name }}"})
    sms_template = made.json()
    steps = [
        {"step_type": "email", "delay": 0, "email_template_id": template["id"]},
        {"step_type": "email", "delay": DAY, "email_template_id": template["id"],
         "threading": "old_thread"},
        {"step_type": "sms", "delay": DAY, "sms_template_id": sms_template["id"]},
        {"step_type": "call", "delay": DAY},
    ]  # fmt: skip
    seq = sequence(org, steps)
    sub = subscribe(org, seq, lead)
    fired = steps_fired(org, by="10d")
    assert [f["step_type"] for f in fired] == ["email", "email", "sms", "call"]
    assert [f["status"] for f in fired] == ["active", "active", "active", "finished"]
    assert [f["at"][:10] for f in fired] == ["2030-01-01", "2030-01-02", "2030-01-03", "2030-01-04"]
    first, second = emails_of(org, lead)
    assert second["thread_id"] == first["thread_id"]
    assert second["subject"] == "Re: Hello Jo"
    assert second["envelope"]["in_reply_to"] == first["envelope"]["message_id"]
    tags = {
        "sequence_id": seq["id"],
        "sequence_name": "Outreach",
        "sequence_subscription_id": sub["id"],
    }
    (sms,) = org.ok("GET", "activity/sms/", params={"lead_id": lead["id"]})["data"]
    assert {k: sms[k] for k in tags} == tags
    assert (sms["text"], sms["remote_phone"], sms["status"]) == ("Hi Jo", "+16505551234", "sent")
    (task,) = org.ok("GET", "task/", params={"_type": "outgoing_call"})["data"]
    assert {k: task[k] for k in tags} == tags
    assert (task["lead_id"], task["contact_id"]) == (lead["id"], lead["contacts"][0]["id"])
    done = sub_of(org, sub)
    assert (done["status"], done["status_reason"]) == ("finished", None)
    counts = org.ok("GET", f"sequence/{seq['id']}/")["subscription_counts_by_status"]
    assert counts == {"active": 0, "paused": 0, "finished": 1, "goal": 0, "error": 0}
    assert org.plane_ok("GET", "/clock")["pending"] == []


def test_a_manual_pause_holds_the_run_and_a_resume_goes_on(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(
        org, [{"step_type": "call", "delay": HOUR}, {"step_type": "call", "delay": HOUR}]
    )
    sub = subscribe(org, seq, lead)
    paused = org.ok("PUT", f"sequence_subscription/{sub['id']}/", {"status": "paused"})
    assert (paused["status"], paused["status_reason"]) == ("paused", "manual")
    assert steps_fired(org, by="1d") == []
    resumed = org.ok("PUT", f"sequence_subscription/{sub['id']}/", {"status": "active"})
    assert (resumed["status"], resumed["status_reason"]) == ("active", None)
    # The step that came due while paused runs at once, the next one an hour later.
    fired = steps_fired(org, by="2h")
    assert [f["status"] for f in fired] == ["active", "finished"]
    finished = org.put(f"sequence_subscription/{sub['id']}/", {"status": "active"})
    assert finished.status_code == 400
    assert finished.json()["errors"] == ["A finished subscription cannot be changed to active."]


def _remove_email(org: PlaneOrg, lead: Obj) -> None:
    org.ok(
        "PUT", f"contact/{lead['contacts'][0]['id']}/", {"emails": [{"email": "new@acme.example"}]}
    )


def _delete_contact(org: PlaneOrg, lead: Obj) -> None:
    org.ok("DELETE", f"contact/{lead['contacts'][0]['id']}/")


def _pause_sequence(org: PlaneOrg, lead: Obj) -> None:
    (seq,) = org.ok("GET", "sequence/")["data"]
    org.ok("PUT", f"sequence/{seq['id']}/", {"status": "paused"})


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_remove_email, "filter-not-matched"),
        (_delete_contact, "filter-not-matched"),
        (_pause_sequence, "workflow-paused"),
    ],
)
def test_a_run_whose_contact_or_sequence_no_longer_matches_pauses(
    org: PlaneOrg, lead: Obj, change: Any, reason: str
) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": HOUR}])
    sub = subscribe(org, seq, lead)
    change(org, lead)
    org.advance(by="2h")
    after = sub_of(org, sub)
    assert (after["status"], after["status_reason"]) == ("paused", reason)
    assert org.ok("GET", "task/", params={"_type": "outgoing_call"})["data"] == []


def test_activating_a_sequence_resumes_the_runs_its_pause_held(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": HOUR}])
    sub = subscribe(org, seq, lead)
    org.ok("PUT", f"sequence/{seq['id']}/", {"status": "paused"})
    assert sub_of(org, sub)["status_reason"] == "workflow-paused"
    assert steps_fired(org, by="2h") == []
    org.ok("PUT", f"sequence/{seq['id']}/", {"status": "active"})
    assert [f["status"] for f in steps_fired(org, by="1m")] == ["finished"]


def test_deleting_a_sequence_ends_its_runs(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": HOUR}])
    sub = subscribe(org, seq, lead)
    org.ok("DELETE", f"sequence/{seq['id']}/")
    after = sub_of(org, sub)
    assert (after["status"], after["status_reason"]) == ("finished", "sequence-deleted")
    assert steps_fired(org, by="2h") == []
    kinds = [(e["object_type"], e["action"]) for e in org.ok("GET", "event/")["data"]]
    assert ("sequence", "deleted") in kinds


def test_a_lead_delete_takes_its_subscriptions(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(org, [{"step_type": "call", "delay": HOUR}])
    sub = subscribe(org, seq, lead)
    org.ok("DELETE", f"lead/{lead['id']}/")
    assert org.get(f"sequence_subscription/{sub['id']}/").status_code == 404
    assert steps_fired(org, by="2h") == []


# --- the sending window ----------------------------------------------------------------------

WEEKDAYS = {"ranges": [{"weekday": d, "start": "09:00", "end": "16:59"} for d in range(1, 6)]}
WINDOWS = [
    # (UTC instant, schedule, when the step may run) -- the sequence is in Los Angeles (UTC-8)
    ("2030-01-01T18:00:00+00:00", WEEKDAYS, "2030-01-01T18:00:00+00:00"),  # Tue 10:00 local
    ("2030-01-01T16:00:00+00:00", WEEKDAYS, "2030-01-01T17:00:00+00:00"),  # Tue 08:00 -> 09:00
    ("2030-01-02T01:00:00+00:00", WEEKDAYS, "2030-01-02T17:00:00+00:00"),  # Tue 17:00 -> Wed
    ("2030-01-05T18:00:00+00:00", WEEKDAYS, "2030-01-07T17:00:00+00:00"),  # Sat -> Mon 09:00
    ("2030-01-02T00:59:30+00:00", WEEKDAYS, "2030-01-02T00:59:30+00:00"),  # 16:59:30: inside
    ("2030-01-05T18:00:00+00:00", None, "2030-01-05T18:00:00+00:00"),  # no window: any time
    ("2030-01-05T18:00:00+00:00", {"ranges": []}, "2030-01-05T18:00:00+00:00"),
]


@pytest.mark.parametrize(("at", "schedule", "expected"), WINDOWS)
def test_a_step_waits_for_the_sending_window(at: str, schedule: Any, expected: str) -> None:
    got = sequence_schedule.next_open(datetime.fromisoformat(at), "America/Los_Angeles", schedule)
    assert got == datetime.fromisoformat(expected)


def test_a_subscription_waits_for_the_window(org: PlaneOrg, lead: Obj) -> None:
    seq = sequence(org, [CALL], schedule=WEEKDAYS)  # 09:00 UTC Tuesday is 01:00 in LA
    sub = subscribe(org, seq, lead)
    pending = org.plane_ok("GET", "/clock")["pending"]
    due = "2030-01-01T17:00:00.000000+00:00"
    assert {"kind": "sequence.step", "id": sub["id"], "due": due} in pending


# --- webhooks --------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Any:
    r = Receiver(statuses=())
    yield r
    r.stop()


def test_sequence_and_subscription_events_reach_a_webhook(
    org: PlaneOrg, lead: Obj, template: Obj, receiver: Receiver
) -> None:
    wanted = [
        {"object_type": "sequence", "action": "created"},
        {"object_type": "sequence_subscription", "action": "created"},
        {"object_type": "sequence_subscription", "action": "updated"},
    ]
    hook = subscribe_hook(org, receiver.url, wanted)
    seq = sequence(
        org, [{"step_type": "email", "delay": HOUR, "email_template_id": template["id"]}]
    )
    sub = subscribe(org, seq, lead)
    steps_fired(org, by="2h")
    org.advance(by="1m")  # the deliveries come due right after their events
    got = [(p["event"]["object_type"], p["event"]["action"], p["event"]["object_id"])
           for p in receiver.payloads(hook["signature_key"])]  # fmt: skip
    assert got == [
        ("sequence", "created", seq["id"]),
        ("sequence_subscription", "created", sub["id"]),
        ("sequence_subscription", "updated", sub["id"]),
    ]
