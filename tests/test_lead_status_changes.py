"""LeadStatusChange: written by PUT /lead/{id}/ exactly when the status changes, by the caller."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


def _statuses(api: Api) -> dict[str, dict[str, Any]]:
    return {s["label"]: s for s in api.ok("GET", "status/lead/")["data"]}


def _changes(api: Api, lead_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", "activity/status_change/lead/", params={"lead_id": lead_id})["data"]


def test_a_new_organization_has_closes_default_lead_statuses(api: Api) -> None:
    assert list(_statuses(api)) == ["Potential", "Bad Fit", "Qualified", "Customer"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "Qualified"},  # created in a status: no change
        {"name": "X", "status_id": "QUALIFIED"},
    ],
)
def test_creating_a_lead_writes_no_status_change(api: Api, body: dict[str, Any]) -> None:
    qualified = _statuses(api)["Qualified"]["id"]
    body = {k: qualified if v == "QUALIFIED" else v for k, v in body.items()}
    lead = api.ok("POST", "lead/", body)
    assert _changes(api, lead["id"]) == []


@pytest.mark.parametrize(
    "update",
    [
        {"name": "Renamed"},
        {"status": "Potential"},  # the status it already has
        {"status_id": "POTENTIAL"},
        {"description": "x", "url": "https://x.example"},
    ],
)
def test_an_update_that_keeps_the_status_writes_none(api: Api, update: dict[str, Any]) -> None:
    potential = _statuses(api)["Potential"]["id"]
    lead = factories.lead(api, "Acme")
    update = {k: potential if v == "POTENTIAL" else v for k, v in update.items()}
    api.ok("PUT", f"lead/{lead['id']}/", update)
    assert _changes(api, lead["id"]) == []


@pytest.mark.parametrize("how", ["status_id", "status"])
def test_a_status_change_writes_one_activity_attributed_to_the_caller(
    api: Api, app: Any, client: Any, how: str
) -> None:
    from crmapi.resources import accounts

    statuses = _statuses(api)
    lead = factories.lead(api, "Acme")
    with app.state.db.write() as conn:
        added = accounts.add_user(conn, api.org_id, "robin@acme.example", "Dick", "Grayson")
    robin = Api(
        client, added["api_key"], {"organization_id": api.org_id, "user_id": added["user_id"]}
    )
    value = statuses["Qualified"]["id"] if how == "status_id" else "qualified"
    robin.ok("PUT", f"lead/{lead['id']}/", {how: value})
    (change,) = _changes(api, lead["id"])
    expected = {
        "_type": "LeadStatusChange",
        "lead_id": lead["id"],
        "contact_id": None,
        "old_status_id": statuses["Potential"]["id"],
        "old_status_label": "Potential",
        "new_status_id": statuses["Qualified"]["id"],
        "new_status_label": "Qualified",
        "user_id": added["user_id"],
        "user_name": "Dick Grayson",
        "created_by": added["user_id"],
    }
    assert {k: change[k] for k in expected} == expected
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"]})["data"]
    assert [a["_type"] for a in feed] == ["LeadStatusChange", "Created"]


def test_a_rejected_update_writes_no_status_change(api: Api) -> None:
    lead = factories.lead(api, "Acme")
    response = api.put(f"lead/{lead['id']}/", {"status": "Customer", "addresses": "nope"})
    assert response.status_code == 400
    assert api.ok("GET", f"lead/{lead['id']}/")["status_label"] == "Potential"
    assert _changes(api, lead["id"]) == []


def test_posting_or_deleting_a_status_change_does_not_change_the_lead(api: Api) -> None:
    statuses = _statuses(api)
    lead = factories.lead(api, "Acme")
    api.ok("PUT", f"lead/{lead['id']}/", {"status": "Customer"})
    (change,) = _changes(api, lead["id"])
    assert api.ok("DELETE", f"activity/status_change/lead/{change['id']}/") == {}
    assert api.ok("GET", f"lead/{lead['id']}/")["status_id"] == statuses["Customer"]["id"]


def test_get_one_lead_status(api: Api, other: Api) -> None:
    status = _statuses(api)["Customer"]
    assert api.ok("GET", f"status/lead/{status['id']}/") == status
    assert other.get(f"status/lead/{status['id']}/").status_code == 404
