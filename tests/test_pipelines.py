"""Pipelines and opportunity statuses: CRUD, ordering, moves between pipelines, delete rules."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


def _sales(api: Api) -> dict[str, Any]:
    (pipe,) = [p for p in api.ok("GET", "pipeline/")["data"] if p["name"] == "Sales"]
    return pipe


def test_a_new_organization_has_closes_default_pipeline(api: Api) -> None:
    pipe = _sales(api)
    assert pipe["id"].startswith("pipe_")
    assert pipe["name"] == "Sales"
    assert [(s["label"], s["type"]) for s in pipe["statuses"]] == [
        ("Active", "active"),
        ("Won", "won"),
        ("Lost", "lost"),
    ]
    statuses = api.ok("GET", "status/opportunity/")["data"]
    assert [s["pipeline_id"] for s in statuses] == [pipe["id"]] * 3
    assert set(statuses[0]) == {"id", "label", "type", "pipeline_id", "organization_id"}


def test_it_creates_a_pipeline_with_201_and_no_statuses(api: Api) -> None:
    response = api.post("pipeline/", {"name": "Renewals"})
    assert response.status_code == 201
    pipe = response.json()
    assert (pipe["name"], pipe["statuses"], pipe["organization_id"]) == (
        "Renewals",
        [],
        api.org_id,
    )
    assert response.headers["location"].endswith(f"/pipeline/{pipe['id']}/")
    assert api.ok("GET", f"pipeline/{pipe['id']}/") == pipe
    assert [p["name"] for p in api.ok("GET", "pipeline/")["data"]] == ["Sales", "Renewals"]


@pytest.mark.parametrize(
    ("body", "field_errors"),
    [
        ({}, {"name": "This field is required."}),
        ({"name": None}, {"name": "This field may not be null."}),
        ({"name": 5}, {"name": "Not a valid string."}),
    ],
)
def test_it_rejects_a_bad_pipeline(
    api: Api, body: dict[str, Any], field_errors: dict[str, str]
) -> None:
    response = api.post("pipeline/", body)
    assert response.status_code == 400
    assert response.json() == {"errors": [], "field-errors": field_errors}


def test_it_renames_and_reorders_a_pipeline(api: Api) -> None:
    pipe = _sales(api)
    active, won, lost = (s["id"] for s in pipe["statuses"])
    updated = api.ok(
        "PUT", f"pipeline/{pipe['id']}/", {"name": "New business", "statuses": [{"id": lost}]}
    )
    assert updated["name"] == "New business"
    assert [s["id"] for s in updated["statuses"]] == [lost, active, won]


def test_it_moves_a_status_in_from_another_pipeline(api: Api) -> None:
    sales = _sales(api)
    other = api.post("pipeline/", {"name": "Other"}).json()
    lost = sales["statuses"][2]["id"]
    moved = api.ok("PUT", f"pipeline/{other['id']}/", {"statuses": [{"id": lost}]})
    assert [s["id"] for s in moved["statuses"]] == [lost]
    assert [s["label"] for s in _sales(api)["statuses"]] == ["Active", "Won"]
    assert api.ok("GET", f"status/opportunity/{lost}/")["pipeline_id"] == other["id"]


def test_it_rejects_an_unknown_status_in_a_pipeline(api: Api, other: Api) -> None:
    foreign = _sales(other)["statuses"][0]["id"]
    response = api.put(f"pipeline/{_sales(api)['id']}/", {"statuses": [{"id": foreign}]})
    assert response.status_code == 400
    assert response.json()["field-errors"] == {"statuses": "Object does not exist."}


def test_a_pipeline_is_deleted_with_204_only_when_it_has_no_statuses(api: Api) -> None:
    sales = _sales(api)
    response = api.delete(f"pipeline/{sales['id']}/")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "A pipeline can only be deleted when it has no opportunity statuses; delete them or "
        "move them to another pipeline first."
    ]
    empty = api.post("pipeline/", {"name": "Empty"}).json()
    response = api.delete(f"pipeline/{empty['id']}/")
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(f"pipeline/{empty['id']}/").status_code == 404


def test_another_organizations_pipeline_is_not_found(api: Api, other: Api) -> None:
    pipe = _sales(other)
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, f"pipeline/{pipe['id']}/", json={"name": "x"})
        assert response.status_code == 404
    assert _sales(other)["name"] == "Sales"


# --- opportunity statuses ------------------------------------------------------------------------


def test_it_creates_renames_and_deletes_an_opportunity_status(api: Api) -> None:
    pipe = _sales(api)
    created = api.ok(
        "POST",
        "status/opportunity/",
        {"label": "Negotiation", "type": "active", "pipeline_id": pipe["id"]},
    )
    assert created["id"].startswith("stat_")
    assert (created["label"], created["type"], created["pipeline_id"]) == (
        "Negotiation",
        "active",
        pipe["id"],
    )
    assert _sales(api)["statuses"][-1]["id"] == created["id"]
    renamed = api.ok(
        "PUT", f"status/opportunity/{created['id']}/", {"label": "Negotiating", "type": "won"}
    )
    assert (renamed["label"], renamed["type"]) == ("Negotiating", "active")  # type is fixed
    assert api.ok("DELETE", f"status/opportunity/{created['id']}/") == {}
    assert api.get(f"status/opportunity/{created['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field_errors"),
    [
        ({"type": "active", "pipeline_id": "PIPE"}, {"label": "This field is required."}),
        ({"label": "X", "pipeline_id": "PIPE"}, {"type": "This field is required."}),
        ({"label": "X", "type": "active"}, {"pipeline": "This field is required."}),
        (
            {"label": "X", "type": "pending", "pipeline_id": "PIPE"},
            {"type": "Not a valid choice. Valid choices are: active, won, lost."},
        ),
        (
            {"label": "X", "type": "won", "pipeline_id": "pipe_nope"},
            {"pipeline": "Object does not exist."},
        ),
    ],
)
def test_it_rejects_a_bad_opportunity_status(
    api: Api, body: dict[str, Any], field_errors: dict[str, str]
) -> None:
    pipe = _sales(api)
    body = {k: pipe["id"] if v == "PIPE" else v for k, v in body.items()}
    response = api.post("status/opportunity/", body)
    assert response.status_code == 400
    assert response.json() == {"errors": [], "field-errors": field_errors}
    assert len(api.ok("GET", "status/opportunity/")["data"]) == 3


def test_a_status_in_use_cannot_be_deleted(api: Api) -> None:
    lead = factories.lead(api, None)
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    response = api.delete(f"status/opportunity/{opp['status_id']}/")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "This status is used by 1 opportunity(ies); move them to another status first."
    ]


def test_renaming_a_status_shows_on_its_opportunities(api: Api) -> None:
    lead = factories.lead(api, None)
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    api.ok("PUT", f"status/opportunity/{opp['status_id']}/", {"label": "Open"})
    assert api.ok("GET", f"opportunity/{opp['id']}/")["status_label"] == "Open"
