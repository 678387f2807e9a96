"""Documented filters that used to be ignored: each is applied, or a 400 that names it.

Opportunities: ``lead_query`` (the lead search language), ``is_stalled``, exact
``date_created``/``date_updated``, ``lead_saved_search_id``; tasks: exact ``date``/``due_date``.
"""

from typing import Any

import pytest

from crmapi.util import dates
from tests.conftest import Api, case_id


@pytest.fixture
def deals(api: Api) -> dict[str, str]:
    acme = api.ok(
        "POST", "lead/", {"name": "Acme", "contacts": [{"emails": [{"email": "a@acme.example"}]}]}
    )
    globex = api.ok("POST", "lead/", {"name": "Globex"})
    made = {
        "acme": api.ok(
            "POST",
            "opportunity/",
            {"lead_id": acme["id"], "value": 1000, "date_created": "2024-01-05T10:00:00+00:00"},
        ),
        "globex": api.ok("POST", "opportunity/", {"lead_id": globex["id"], "value": 500}),
    }
    return {name: opp["id"] for name, opp in made.items()}


def _ids(api: Api, deals: dict[str, str], **params: Any) -> set[str]:
    body = api.ok("GET", "opportunity/", params={"_fields": "id", **params})
    names = {v: k for k, v in deals.items()}
    assert body["total_results"] == len(body["data"])
    return {names[item["id"]] for item in body["data"]}


OPPORTUNITY_FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({"lead_query": "name:acme"}, {"acme"}),
    ({"lead_query": "email:a@acme.example"}, {"acme"}),
    ({"lead_query": "not name:acme"}, {"globex"}),
    ({"lead_query": ""}, {"acme", "globex"}),
    ({"lead_query": "name:acme", "status_type": "active"}, {"acme"}),
    ({"lead_query": "name:acme", "lead_id": "lead_nope"}, set()),
    ({"is_stalled": "false"}, {"acme", "globex"}),
    ({"is_stalled": "true"}, set()),
    ({"is_stalled": "True"}, set()),
    ({"date_created": "2024-01-05"}, {"acme"}),
    ({"date_created": "2024-01-05T10:00"}, {"acme"}),
    ({"date_created": "2024-01-05T10:00:00+00:00"}, {"acme"}),
    ({"date_created": "2024-01-05T10:00:00.000000+00:00"}, {"acme"}),
    ({"date_created": "2024-01-05T10:01"}, set()),
    ({"date_created": "2024-01-06"}, set()),
    ({"date_updated": "2024-01-05"}, set()),
]


@pytest.mark.parametrize(("params", "expected"), OPPORTUNITY_FILTERS, ids=case_id)
def test_opportunity_filters_apply(
    api: Api, deals: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    assert _ids(api, deals, **params) == expected


def test_exact_date_updated_is_the_whole_day(api: Api, deals: dict[str, str]) -> None:
    assert _ids(api, deals, date_updated=dates.today()) == {"acme", "globex"}


def test_lead_query_narrows_the_aggregates_too(api: Api, deals: dict[str, str]) -> None:
    body = api.ok("GET", "opportunity/", params={"lead_query": "name:globex", "_limit": 0})
    assert (body["total_results"], body["total_value_one_time"]) == (1, 500)


def test_lead_query_is_scoped_to_the_organization(
    api: Api, other: Api, deals: dict[str, str]
) -> None:
    other.ok("POST", "opportunity/", {"lead_id": other.ok("POST", "lead/", {"name": "Acme"})["id"]})
    assert _ids(api, deals, lead_query="name:acme") == {"acme"}
    assert len(other.ok("GET", "opportunity/", params={"lead_query": "name:acme"})["data"]) == 1


# (params, the parameter the 400 names, words of its message)
OPPORTUNITY_REFUSALS = [
    ({"lead_query": 'name:"acme'}, "lead_query", "Invalid query: unterminated quoted string"),
    ({"lead_query": "sort:created"}, "lead_query", "apply to lead lists only"),
    ({"lead_query": "slice:1/2"}, "lead_query", "apply to lead lists only"),
    (
        {"lead_saved_search_id": "save_abc"},
        "lead_saved_search_id",
        "smart view 'save_abc' does not exist",
    ),
    ({"_group_by": "status_id"}, "_group_by", "is not valid; use one of user_id"),
    ({"is_stalled": "maybe"}, "is_stalled", "not a valid boolean"),
    ({"date_created": "yesterday-ish"}, "date_created", "not a date"),
]


@pytest.mark.parametrize(("params", "param", "words"), OPPORTUNITY_REFUSALS, ids=case_id)
def test_opportunity_filters_we_cannot_apply_are_a_400_naming_them(
    api: Api, deals: dict[str, str], params: dict[str, str], param: str, words: str
) -> None:
    response = api.get("opportunity/", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"errors", "field-errors"}
    assert words in body["field-errors"][param]


@pytest.fixture
def tasks(api: Api) -> dict[str, str]:
    lead = api.ok("POST", "lead/", {"name": "Tasks"})
    bodies = {
        "day": {"date": "2024-05-01", "due_date": "2024-05-03"},
        "moment": {"date": "2024-05-02T10:00:00+00:00", "due_date": "2024-05-03T23:00:00+00:00"},
        "dateless": {},
    }
    return {
        name: api.ok("POST", "task/", {"lead_id": lead["id"], "text": name, **body})["id"]
        for name, body in bodies.items()
    }


TASK_FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({"date": "2024-05-01"}, {"day"}),
    ({"date": "2024-05-02"}, {"moment"}),
    ({"date": "2024-05-02T10:00"}, {"moment"}),
    ({"date": "2024-05-02T10:00:00+00:00"}, {"moment"}),
    ({"date": "2024-05-03"}, set()),
    ({"due_date": "2024-05-03"}, {"day", "moment"}),
    ({"due_date": "2024-05-03T23:00"}, {"moment"}),
    ({"date": "2024-05-01", "due_date": "2024-05-03"}, {"day"}),
]


@pytest.mark.parametrize(("params", "expected"), TASK_FILTERS, ids=case_id)
def test_task_exact_dates_apply(
    api: Api, tasks: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    body = api.ok("GET", "task/", params={"_fields": "id", **params})
    names = {v: k for k, v in tasks.items()}
    assert {names[item["id"]] for item in body["data"]} == expected


def test_task_exact_date_rejects_what_is_not_a_date(api: Api, tasks: dict[str, str]) -> None:
    response = api.get("task/", params={"date": "soon"})
    assert response.status_code == 400
    assert "date" in response.json()["field-errors"]
