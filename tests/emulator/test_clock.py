"""The per-organization test clock: modes, what reads it, advance and the due work it fires,
and the background worker doing the same on wall time."""

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.events.worker import Worker
from crmapi.resources import accounts
from crmapi.util import dates
from tests.emulator.conftest import FROZEN, PlaneOrg, frozen_org, new_org
from tests.test_webhooks import Receiver, free_port, subscribe

T10 = "2030-01-01T10:00:00.000000+00:00"
SENT_EVENTS = [{"object_type": "activity.email", "action": "sent"}]


@pytest.fixture
def receiver() -> Any:
    r = Receiver(statuses=())
    yield r
    r.stop()


def lead_of(org: PlaneOrg) -> dict[str, Any]:
    body = {"name": "Acme", "contacts": [{"name": "Jo", "emails": [{"email": "jo@acme.example"}]}]}
    return dict(org.ok("POST", "lead/", body))


def scheduled_email(org: PlaneOrg, lead_id: str, at: str = T10, **extra: Any) -> dict[str, Any]:
    body = {
        "lead_id": lead_id,
        "status": "scheduled",
        "date_scheduled": at,
        "sender": "sales@us.example",
        "to": ["jo@acme.example"],
        "subject": "Hello",
        "body_text": "Hi Jo",
        **extra,
    }
    return dict(org.ok("POST", "activity/email/", body))


def test_a_frozen_clock_is_what_the_organization_reads(pclient: TestClient) -> None:
    org = frozen_org(pclient)
    clock = org.plane_ok("GET", "/clock")
    assert (clock["mode"], clock["now"], clock["frozen_at"]) == ("frozen", FROZEN, FROZEN)
    lead = lead_of(org)
    assert lead["date_created"] == lead["date_updated"] == FROZEN
    task = org.ok("POST", "task/", {"lead_id": lead["id"], "text": "Call"})
    assert task["date"] == "2030-01-01"
    events = org.ok("GET", "event/")["data"]
    assert {e["date_created"][:23] for e in events} == {FROZEN[:23]}


def test_offset_and_real_clocks_tick(pclient: TestClient) -> None:
    org = new_org(pclient)
    assert org.plane_ok("GET", "/clock")["mode"] == "real"
    moved = org.plane_ok("PUT", "/clock", {"mode": "offset", "offset_seconds": 86400})
    wall = dates.to_datetime(dates.now())
    assert abs((dates.to_datetime(moved["now"]) - wall).total_seconds() - 86400) < 5
    lead = lead_of(org)
    assert abs((dates.to_datetime(lead["date_created"]) - wall).total_seconds() - 86400) < 5
    real = org.plane_ok("PUT", "/clock", {"mode": "real"})
    assert abs((dates.to_datetime(real["now"]) - wall).total_seconds()) < 5


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"by": "1d"}, 200),
        ({"by": "PT1H30M"}, 200),
        ({"by": 90}, 200),
        ({"to": "2030-01-02T00:00:00Z"}, 200),
        ({"until": "idle"}, 200),
        ({}, 400),
        ({"by": "1d", "to": "2030-01-02T00:00:00Z"}, 400),
        ({"by": "soon"}, 400),
        ({"to": "2029-01-01T00:00:00Z"}, 400),
        ({"until": "done"}, 400),
    ],
)
def test_advance_takes_one_of_by_to_or_until(
    pclient: TestClient, body: dict[str, Any], status: int
) -> None:
    org = frozen_org(pclient)
    response = org.plane("POST", "/clock/advance", body)
    assert response.status_code == status, response.text


def test_a_scheduled_email_is_sent_exactly_at_its_time_with_events_and_webhook(
    pclient: TestClient, receiver: Receiver
) -> None:
    org = frozen_org(pclient)
    hook = subscribe(org, receiver.url, SENT_EVENTS)
    email = scheduled_email(org, lead_of(org)["id"])
    pending = org.plane_ok("GET", "/clock")["pending"]
    assert pending == [{"kind": "message.send", "id": email["id"], "due": T10}]

    assert org.advance(to="2030-01-01T09:59:59.999999Z")["fired"] == []
    assert org.ok("GET", f"activity/email/{email['id']}/")["status"] == "scheduled"

    result = org.advance(to=T10)
    assert result["fired"] == [{"kind": "email.sent", "id": email["id"], "at": T10}]
    sent = org.ok("GET", f"activity/email/{email['id']}/")
    assert (sent["status"], sent["date_sent"], sent["activity_at"]) == ("sent", T10, T10)
    assert sent["envelope"]["date"] == "Tue, 01 Jan 2030 10:00:00 +0000"
    events = [e for e in org.ok("GET", "event/")["data"] if e["object_id"] == email["id"]]
    assert [e["action"] for e in events] == ["sent", "updated", "created"]
    assert all(e["date_created"].startswith("2030-01-01T10:00:00.0000") for e in events[:2])

    # The webhook of the ``sent`` event is due right after it, on the same clock.
    fired = org.advance(by="1s")["fired"]
    assert [f["kind"] for f in fired] == ["webhook.delivered"]
    (payload,) = receiver.payloads(hook["signature_key"])
    assert payload["event"]["action"] == "sent"
    assert payload["event"]["object_id"] == email["id"]
    assert payload["event"]["data"]["status"] == "sent"


def test_the_worker_sends_on_its_own_with_a_real_clock(
    pclient: TestClient, papp: Any, receiver: Receiver
) -> None:
    org = new_org(pclient)
    hook = subscribe(org, receiver.url, SENT_EVENTS)
    at = dates.shift(dates.now(), seconds=2.0)
    email = scheduled_email(org, lead_of(org)["id"], at=at)
    # A frozen organization's overdue email waits for its own clock.
    other = frozen_org(pclient, at="2020-01-01T00:00:00Z")
    waiting = scheduled_email(other, lead_of(other)["id"], at="2021-01-01T00:00:00Z")
    worker = Worker(papp.state.db, papp.state.settings)
    worker.run_once()
    if dates.now() < at:  # (a loaded machine may already be past it)
        assert org.ok("GET", f"activity/email/{email['id']}/")["status"] == "scheduled"
    time.sleep(max(0.0, (dates.to_datetime(at) - dates.to_datetime(dates.now())).total_seconds()))
    worker.run_once()
    sent = org.ok("GET", f"activity/email/{email['id']}/")
    assert sent["status"] == "sent"
    assert sent["date_sent"] >= at
    assert [p["event"]["object_id"] for p in receiver.payloads(hook["signature_key"])] == [
        email["id"]
    ]
    assert other.ok("GET", f"activity/email/{waiting['id']}/")["status"] == "scheduled"


def test_send_in_holds_an_outbox_message_for_its_delay(pclient: TestClient) -> None:
    org = frozen_org(pclient)
    lead = lead_of(org)
    body = {"lead_id": lead["id"], "status": "outbox", "send_in": 30, "sender": "a@us.example",
            "to": ["jo@acme.example"], "subject": "Undo me"}  # fmt: skip
    email = org.ok("POST", "activity/email/", body)
    assert (email["status"], email["date_sent"]) == ("outbox", None)
    assert org.advance(by="29s")["fired"] == []
    fired = org.advance(by="1s")["fired"]
    at = "2030-01-01T09:00:30.000000+00:00"
    assert fired == [{"kind": "email.sent", "id": email["id"], "at": at}]
    sms = org.ok("POST", "activity/sms/", {"lead_id": lead["id"], "status": "scheduled",
                                           "date_scheduled": T10, "remote_phone": "+16505551234",
                                           "text": "hi"})  # fmt: skip
    assert org.advance(until="idle")["fired"] == [{"kind": "sms.sent", "id": sms["id"], "at": T10}]
    assert org.ok("GET", f"activity/sms/{sms['id']}/")["status"] == "sent"


def test_two_organizations_clocks_do_not_touch(pclient: TestClient) -> None:
    a, b = frozen_org(pclient), frozen_org(pclient)
    email_b = scheduled_email(b, lead_of(b)["id"])
    a.advance(by="2d")
    assert a.plane_ok("GET", "/clock")["now"] == "2030-01-03T09:00:00.000000+00:00"
    assert b.plane_ok("GET", "/clock")["now"] == FROZEN
    assert b.ok("GET", f"activity/email/{email_b['id']}/")["status"] == "scheduled"
    b.plane_ok("PUT", "/clock", {"mode": "frozen", "now": "2040-01-01T00:00:00Z"})
    assert a.plane_ok("GET", "/clock")["now"] == "2030-01-03T09:00:00.000000+00:00"


def test_webhook_retries_back_off_then_drop_and_a_dead_subscription_pauses(
    pclient: TestClient,
) -> None:
    # Nothing listens on this port: every try fails at once (connection refused).
    dead = f"http://127.0.0.1:{free_port()}/hook"
    org = frozen_org(pclient)
    hook = subscribe(org, dead, [{"object_type": "lead", "action": "created"}])
    org.ok("POST", "lead/", {"name": "First"})
    fired = org.advance(by="73h")["fired"]
    tries = [f for f in fired if f["kind"].startswith("webhook.")]
    assert [f["kind"] for f in tries[:-1]] == ["webhook.retrying"] * (len(tries) - 1)
    assert tries[-1]["kind"] == "webhook.dropped"
    assert [f["attempts"] for f in tries] == list(range(1, len(tries) + 1))
    gaps = [
        (dates.to_datetime(b["at"]) - dates.to_datetime(a["at"])).total_seconds()
        for a, b in zip(tries, tries[1:], strict=False)
    ]
    assert gaps[:8] == [10, 20, 40, 80, 160, 320, 640, 1200]
    assert set(gaps[8:]) == {1200}
    # Failing for three days now: the next failure pauses the subscription.
    org.ok("POST", "lead/", {"name": "Second"})
    fired = org.advance(by="1s")["fired"]
    assert [f["kind"] for f in fired][-1] == "webhook.paused"
    got = org.ok("GET", f"webhook/{hook['id']}/")
    assert (got["status"], got["pause_reason"]) == ("paused", "failing")


def test_events_expire_after_30_days_of_org_time(pclient: TestClient) -> None:
    org = frozen_org(pclient)
    lead_of(org)
    assert org.ok("GET", "event/")["data"]
    assert org.advance(by="29d")["fired"] == []
    # Older than 30 days: the first event is exactly 30 days old at 30 days.
    fired = org.advance(by="P1DT1S")["fired"]
    assert [f["kind"] for f in fired] == ["event.retention"]
    assert org.ok("GET", "event/")["data"] == []


def test_tokens_expire_on_the_org_clock(pclient: TestClient, papp: Any) -> None:
    org = frozen_org(pclient)
    with dates.clock(FROZEN), papp.state.db.write() as conn:
        token = accounts.create_access_token(conn, org.org_id, org.user_id, 3600)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert pclient.get("/api/v1/me/", headers=bearer).status_code == 200
    org.advance(by="59m")
    assert pclient.get("/api/v1/me/", headers=bearer).status_code == 200
    org.advance(by="1m")
    assert pclient.get("/api/v1/me/", headers=bearer).status_code == 401


def test_a_message_that_cannot_be_sent_ends_in_error_and_stops_coming_due(
    pclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from crmapi.activities.registry import BY_TYPE
    from crmapi.domain.errors import InvalidRequest

    org = frozen_org(pclient)
    email = scheduled_email(org, lead_of(org)["id"])

    def refuse(*args: Any) -> None:
        raise InvalidRequest(["The sending account is disconnected."])

    monkeypatch.setitem(BY_TYPE, "Email", dataclasses.replace(BY_TYPE["Email"], prepare=refuse))
    fired = org.advance(until="idle")["fired"]
    assert [(f["kind"], f["id"]) for f in fired] == [("message.failed", email["id"])]
    monkeypatch.undo()
    failed = org.ok("GET", f"activity/email/{email['id']}/")
    assert failed["status"] == "error"
    assert failed["send_attempts"][-1]["error_message"] == "The sending account is disconnected."
    assert org.plane_ok("GET", "/clock")["pending"] == []
