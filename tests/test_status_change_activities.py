"""LeadStatusChange and OpportunityStatusChange created through the API: history only."""

from typing import Any

import pytest
from sqlalchemy import insert

from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id
from tests import factories
from tests.conftest import Api

LEAD_PATH = "activity/status_change/lead/"
OPP_PATH = "activity/status_change/opportunity/"


def _lead_statuses(api: Api) -> list[dict[str, Any]]:
    return list(api.ok("GET", "status/lead/")["data"])


def _opportunity_statuses(api: Api) -> list[dict[str, Any]]:
    return list(api.ok("GET", "status/opportunity/")["data"])


def _opportunity(app: Any, api: Api, lead_id: str, status_id: str, **extra: Any) -> str:
    """Opportunities are another helper's resource: insert the row the API would."""
    now = dates.now()
    opp_id = new_id("oppo")
    values = {
        "id": opp_id,
        "organization_id": api.org_id,
        "lead_id": lead_id,
        "status_id": status_id,
        "value": 50000,
        "value_period": "one_time",
        "confidence": 75,
        "custom": {},
        "date_created": now,
        "date_updated": now,
        **extra,
    }
    with app.state.db.write() as conn:
        conn.execute(insert(t.opportunity).values(**values))
    return opp_id


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return dict(factories.lead(api, "Wayne Enterprises"))


def test_it_logs_a_lead_status_change_without_changing_the_lead(
    api: Api, lead: dict[str, Any]
) -> None:
    old, new = _lead_statuses(api)[:2]
    assert lead["status_id"] == old["id"]
    body = {
        "lead_id": lead["id"],
        "old_status_id": new["id"],
        "new_status_id": old["id"],
        "old_status_label": "ignored",
        "date_created": "2013-08-23T20:57:45.956000+00:00",
    }
    created = api.ok("POST", LEAD_PATH, body)
    assert created["_type"] == "LeadStatusChange"
    assert (created["old_status_id"], created["old_status_label"]) == (new["id"], new["label"])
    assert (created["new_status_id"], created["new_status_label"]) == (old["id"], old["label"])
    assert created["date_created"] == "2013-08-23T20:57:45.956000+00:00"
    assert created["activity_at"] == created["date_created"]
    assert created["user_id"] == api.user_id
    assert created["_paused_subscriptions"] == []
    assert api.ok("GET", f"{LEAD_PATH}{created['id']}/") == created
    after = api.ok("GET", f"lead/{lead['id']}/")
    assert after["status_id"] == lead["status_id"]
    assert after["date_updated"] == lead["date_updated"]
    listed = api.ok("GET", LEAD_PATH, params={"lead_id": lead["id"]})
    assert [a["id"] for a in listed["data"]] == [created["id"]]
    assert api.ok("DELETE", f"{LEAD_PATH}{created['id']}/") == {}
    assert api.get(f"{LEAD_PATH}{created['id']}/").status_code == 404
    assert api.ok("GET", f"lead/{lead['id']}/")["status_id"] == lead["status_id"]


def test_it_deletes_a_real_status_change_without_reverting_the_lead(
    api: Api, lead: dict[str, Any]
) -> None:
    new = _lead_statuses(api)[2]
    api.ok("PUT", f"lead/{lead['id']}/", {"status_id": new["id"]})
    logged = api.ok("GET", LEAD_PATH, params={"lead_id": lead["id"]})["data"]
    assert len(logged) == 1
    api.ok("DELETE", f"{LEAD_PATH}{logged[0]['id']}/")
    assert api.ok("GET", f"lead/{lead['id']}/")["status_id"] == new["id"]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"lead_id": None}, {"lead": "This field is required."}),
        ({"lead_id": "lead_unknown"}, {"lead": "Object does not exist."}),
        ({"old_status_id": None}, {"old_status": "This field is required."}),
        ({"new_status_id": None}, {"new_status": "This field is required."}),
        ({"old_status_id": "stat_unknown"}, {"old_status": "Object does not exist."}),
        (
            {"old_status_id": "stat_x", "new_status_id": "stat_y"},
            {"old_status": "Object does not exist.", "new_status": "Object does not exist."},
        ),
        ({"new_status_id": "{opportunity_status}"}, {"new_status": "Object does not exist."}),
        ({"date_created": "soon"}, {"date_created": "Not a valid datetime."}),
        ({"user_id": "user_nobody"}, {"user": "Object does not exist."}),
    ],
)
def test_it_rejects_bad_lead_status_changes(
    api: Api, lead: dict[str, Any], body: dict[str, Any], errors: dict[str, str]
) -> None:
    old, new = _lead_statuses(api)[:2]
    sent = {"lead_id": lead["id"], "old_status_id": old["id"], "new_status_id": new["id"]}
    opportunity_status = _opportunity_statuses(api)[0]["id"]
    for key, value in body.items():
        sent[key] = value.format(opportunity_status=opportunity_status) if value else value
    sent = {k: v for k, v in sent.items() if v is not None}
    response = api.post(LEAD_PATH, sent)
    assert response.status_code == 400, response.text
    assert response.json()["field-errors"] == errors
    assert api.ok("GET", LEAD_PATH)["data"] == []


def test_it_rejects_another_organizations_statuses(
    api: Api, other: Api, lead: dict[str, Any]
) -> None:
    foreign = _lead_statuses(other)[0]["id"]
    mine = _lead_statuses(api)[0]["id"]
    body = {"lead_id": lead["id"], "old_status_id": mine, "new_status_id": foreign}
    response = api.post(LEAD_PATH, body)
    assert response.status_code == 400
    assert response.json()["field-errors"] == {"new_status": "Object does not exist."}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_it_does_not_update_status_changes(api: Api, lead: dict[str, Any], method: str) -> None:
    old, new = _lead_statuses(api)[:2]
    body = {"lead_id": lead["id"], "old_status_id": old["id"], "new_status_id": new["id"]}
    created = api.ok("POST", LEAD_PATH, body)
    for base in (LEAD_PATH, OPP_PATH):
        response = api.request(method, f"{base}{created['id']}/", json={"x": 1})
        assert response.status_code == 405
        assert "error" in response.json()


def test_it_logs_an_opportunity_status_change_from_the_opportunity(
    app: Any, api: Api, lead: dict[str, Any]
) -> None:
    active, won = _opportunity_statuses(api)[0], _won(api)
    opp_id = _opportunity(app, api, lead["id"], active["id"], date_won="2021-07-15")
    body = {"opportunity_id": opp_id, "old_status_id": active["id"], "new_status_id": won["id"]}
    created = api.ok("POST", OPP_PATH, body)
    pipeline = api.ok("GET", "pipeline/")["data"][0]
    expected = {
        "_type": "OpportunityStatusChange",
        "lead_id": lead["id"],
        "opportunity_id": opp_id,
        "old_status_id": active["id"],
        "old_status_label": active["label"],
        "old_status_type": "active",
        "new_status_id": won["id"],
        "new_status_label": won["label"],
        "new_status_type": "won",
        "old_pipeline_id": pipeline["id"],
        "old_pipeline_name": pipeline["name"],
        "new_pipeline_id": pipeline["id"],
        "new_pipeline_name": pipeline["name"],
        "opportunity_value": 50000,
        "opportunity_value_currency": "USD",
        "opportunity_value_formatted": "$500",
        "opportunity_value_period": "one_time",
        "opportunity_confidence": 75,
        "opportunity_date_won": "2021-07-15T00:00:00.000000+00:00",
    }
    assert {k: created[k] for k in expected} == expected
    assert api.ok("GET", f"{OPP_PATH}{created['id']}/") == created
    listed = api.ok("GET", OPP_PATH, params={"opportunity_id": opp_id})
    assert [a["id"] for a in listed["data"]] == [created["id"]]
    with app.state.db.read() as conn:
        status = conn.execute(t.opportunity.select().where(t.opportunity.c.id == opp_id)).first()
    assert status is not None
    assert status.status_id == active["id"]
    api.ok("DELETE", f"{OPP_PATH}{created['id']}/")
    with app.state.db.read() as conn:
        status = conn.execute(t.opportunity.select().where(t.opportunity.c.id == opp_id)).first()
    assert status is not None
    assert status.status_id == active["id"]


def _won(api: Api) -> dict[str, Any]:
    return next(s for s in _opportunity_statuses(api) if s["type"] == "won")


def test_it_logs_an_opportunity_status_change_for_a_lead_alone(
    api: Api, lead: dict[str, Any]
) -> None:
    active, won = _opportunity_statuses(api)[0], _won(api)
    body = {"lead_id": lead["id"], "old_status_id": active["id"], "new_status_id": won["id"]}
    created = api.ok("POST", OPP_PATH, body)
    assert created["opportunity_id"] is None
    assert created["opportunity_value"] is None
    assert created["new_status_type"] == "won"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"opportunity_id": None}, {"lead": "This field is required."}),
        ({"opportunity_id": "oppo_unknown"}, {"opportunity": "Object does not exist."}),
        ({"lead_id": "{other_lead}"}, {"lead": "The opportunity belongs to another lead."}),
        ({"new_status_id": "{lead_status}"}, {"new_status": "Object does not exist."}),
        ({"old_status_id": None}, {"old_status": "This field is required."}),
    ],
)
def test_it_rejects_bad_opportunity_status_changes(
    app: Any, api: Api, lead: dict[str, Any], body: dict[str, Any], errors: dict[str, str]
) -> None:
    active, won = _opportunity_statuses(api)[0], _won(api)
    opp_id = _opportunity(app, api, lead["id"], active["id"])
    names = {
        "other_lead": factories.lead(api, "Other")["id"],
        "lead_status": _lead_statuses(api)[0]["id"],
    }
    sent = {"opportunity_id": opp_id, "old_status_id": active["id"], "new_status_id": won["id"]}
    for key, value in body.items():
        sent[key] = value.format(**names) if value else value
    sent = {k: v for k, v in sent.items() if v is not None}
    response = api.post(OPP_PATH, sent)
    assert response.status_code == 400, response.text
    assert response.json()["field-errors"] == errors
    assert api.ok("GET", OPP_PATH)["data"] == []


def test_it_shows_created_status_changes_in_the_feed(api: Api, lead: dict[str, Any]) -> None:
    old, new = _lead_statuses(api)[:2]
    body = {"lead_id": lead["id"], "old_status_id": old["id"], "new_status_id": new["id"]}
    created = api.ok("POST", LEAD_PATH, body)
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"], "_type": "LeadStatusChange"})
    assert feed["data"] == [created]
