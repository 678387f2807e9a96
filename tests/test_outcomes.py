"""Outcomes (/outcome/) and the ``outcome_id`` rule on calls and meetings (core.md §10)."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api
from tests.test_activity_meeting import add as add_meeting
from tests.test_webhooks import deliver, hapi, happ, hook_settings, receiver, subscribe  # noqa: F401

Obj = dict[str, Any]


def _outcome(api: Api, **body: Any) -> Obj:
    body.setdefault("name", "Interested")
    response = api.post("outcome/", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _call(api: Api, **body: Any) -> Obj:
    lead = factories.lead(api, "Wayne Enterprises")
    return dict(api.ok("POST", "activity/call/", {"lead_id": lead["id"], **body}))


@pytest.mark.parametrize(
    ("body", "type_", "applies_to"),
    [
        ({}, "custom", ["calls", "meetings"]),
        ({"type": "custom"}, "custom", ["calls", "meetings"]),
        ({"type": "vm-dropped"}, "vm-dropped", ["calls"]),
        # applies_to is deprecated for writes: Close derives it from type.
        ({"applies_to": ["meetings"]}, "custom", ["calls", "meetings"]),
    ],
)
def test_applies_to_is_derived_from_type(
    api: Api, body: Obj, type_: str, applies_to: list[str]
) -> None:
    created = _outcome(api, **body)
    assert created["id"].startswith("outcome_")
    assert (created["type"], created["applies_to"]) == (type_, applies_to)
    assert api.ok("GET", f"outcome/{created['id']}/") == created


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": " "}, "name"), ({"name": "X", "type": "other"}, "type")],
)
def test_bad_outcomes_are_400(api: Api, body: Obj, field: str) -> None:
    response = api.post("outcome/", body)
    assert response.status_code == 400
    assert field in response.json()["field-errors"]


def test_a_put_changes_the_type_and_with_it_applies_to(api: Api) -> None:
    created = _outcome(api)
    updated = api.ok("PUT", f"outcome/{created['id']}/", {"type": "vm-dropped"})
    assert updated["applies_to"] == ["calls"]
    assert updated["name"] == "Interested"


def test_a_deleted_outcome_is_gone_but_stays_on_its_activities(api: Api) -> None:
    outcome = _outcome(api)
    call = _call(api, outcome_id=outcome["id"])
    assert call["outcome_id"] == outcome["id"]
    assert api.delete(f"outcome/{outcome['id']}/").status_code == 200
    assert api.get(f"outcome/{outcome['id']}/").status_code == 404
    assert outcome["id"] not in {o["id"] for o in api.ok("GET", "outcome/")["data"]}
    # The call keeps it, and a PUT that does not touch it still works.
    assert api.ok("GET", f"activity/call/{call['id']}/")["outcome_id"] == outcome["id"]
    assert (
        api.ok("PUT", f"activity/call/{call['id']}/", {"note": "later"})["outcome_id"]
        == (outcome["id"])
    )


def _bad_outcome(api: Api, other: Api, case: str) -> str:
    if case == "foreign":
        return _outcome(other)["id"]
    if case == "deleted":
        gone = _outcome(api)
        api.ok("DELETE", f"outcome/{gone['id']}/")
        return gone["id"]
    return "outcome_doesNotExist0000000"


@pytest.mark.parametrize("case", ["foreign", "deleted", "unknown"])
def test_a_call_put_with_an_outcome_it_cannot_have_is_400(api: Api, other: Api, case: str) -> None:
    call = _call(api)
    outcome_id = _bad_outcome(api, other, case)
    response = api.put(f"activity/call/{call['id']}/", {"outcome_id": outcome_id})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "errors": [],
        "field-errors": {"outcome_id": "Outcome does not exist."},
    }
    assert api.ok("GET", f"activity/call/{call['id']}/")["outcome_id"] is None
    assert (
        api.post(
            "activity/call/", {"lead_id": call["lead_id"], "outcome_id": outcome_id}
        ).status_code
        == 400
    )


def test_a_call_takes_its_organizations_outcomes_and_can_clear_one(api: Api) -> None:
    call = _call(api)
    for kind in ("custom", "vm-dropped"):
        outcome = _outcome(api, type=kind)
        put = api.ok("PUT", f"activity/call/{call['id']}/", {"outcome_id": outcome["id"]})
        assert put["outcome_id"] == outcome["id"]
    assert api.ok("PUT", f"activity/call/{call['id']}/", {"outcome_id": None})["outcome_id"] is None


def test_a_meeting_takes_only_outcomes_that_apply_to_meetings(app: Any, api: Api) -> None:
    lead = factories.lead(api, "Wayne Enterprises")
    meeting = add_meeting(app, api, lead_id=lead["id"])
    path = f"activity/meeting/{meeting['id']}/"
    vm = _outcome(api, type="vm-dropped")
    response = api.put(path, {"outcome_id": vm["id"]})
    assert response.status_code == 400
    assert response.json()["field-errors"] == {
        "outcome_id": "This outcome does not apply to meetings."
    }
    custom = _outcome(api)
    assert api.ok("PUT", path, {"outcome_id": custom["id"]})["outcome_id"] == custom["id"]


def test_outcome_events_reach_the_log_and_a_webhook(happ: Any, hapi: Api, receiver: Any) -> None:  # noqa: F811
    events = [{"object_type": "outcome", "action": a} for a in ("created", "updated", "deleted")]
    sub = subscribe(hapi, receiver.url, events)
    outcome = _outcome(hapi)
    hapi.ok("PUT", f"outcome/{outcome['id']}/", {"description": "Wants a demo"})
    hapi.ok("DELETE", f"outcome/{outcome['id']}/")
    logged = hapi.ok(
        "GET", "event/", params={"object_type": "outcome", "object_id": outcome["id"]}
    )["data"]
    assert sorted(e["action"] for e in logged) == ["created", "deleted", "updated"]
    assert deliver(happ) == 3
    sent = receiver.payloads(sub["signature_key"])
    assert sorted(p["event"]["id"] for p in sent) == sorted(e["id"] for e in logged)
    assert {p["event"]["object_type"] for p in sent} == {"outcome"}
