"""Opportunities: fields, defaults, status rules, date_won, list filters and aggregates, and the
OpportunityStatusChange activity written exactly when the status changes."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


def _statuses(api: Api) -> dict[str, dict[str, Any]]:
    return {s["label"]: s for s in api.ok("GET", "status/opportunity/")["data"]}


def _changes(api: Api, lead_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", "activity/status_change/opportunity/", params={"lead_id": lead_id})["data"]


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return factories.lead(api, "Wayne Enterprises", contacts=[{"name": "Bruce"}])


def test_it_creates_an_opportunity_with_close_fields(api: Api, lead: dict[str, Any]) -> None:
    opp = api.ok(
        "POST",
        "opportunity/",
        {"lead_id": lead["id"], "value": 50000, "confidence": 75, "note": "Bat cave"},
    )
    active = _statuses(api)["Active"]
    assert opp["id"].startswith("oppo_")
    expected = {
        "lead_id": lead["id"],
        "lead_name": "Wayne Enterprises",
        "status_id": active["id"],
        "status_label": "Active",
        "status_display_name": "Active",
        "status_type": "active",
        "pipeline_id": active["pipeline_id"],
        "pipeline_name": "Sales",
        "user_id": api.user_id,
        "user_name": "Bruce Wayne",
        "contact_id": None,
        "contact_name": None,
        "value": 50000,
        "value_period": "one_time",
        "value_currency": "USD",
        "value_formatted": "$500",
        "expected_value": 37500,
        "annualized_value": 50000,
        "annualized_expected_value": 37500,
        "confidence": 75,
        "note": "Bat cave",
        "date_won": None,
        "date_lost": None,
        "created_by": api.user_id,
        "organization_id": api.org_id,
    }
    assert {k: opp[k] for k in expected} == expected
    assert api.ok("GET", f"opportunity/{opp['id']}/") == opp


@pytest.mark.parametrize(
    ("value", "period", "formatted", "annualized"),
    [
        (500, "monthly", "$5 monthly", 6000),
        (123456, "annual", "$1,234.56 annual", 123456),
        (None, "one_time", None, None),
        (0, "one_time", "$0", 0),
    ],
)
def test_it_formats_and_annualizes_values(
    api: Api,
    lead: dict[str, Any],
    value: int | None,
    period: str,
    formatted: str | None,
    annualized: int | None,
) -> None:
    opp = api.ok(
        "POST",
        "opportunity/",
        {"lead_id": lead["id"], "value": value, "value_period": period, "confidence": 50},
    )
    assert opp["value_formatted"] == formatted
    assert opp["annualized_value"] == annualized


def test_it_creates_an_untitled_lead_when_no_lead_is_given(api: Api) -> None:
    opp = api.ok("POST", "opportunity/", {"value": 100})
    lead = api.ok("GET", f"lead/{opp['lead_id']}/")
    assert lead["name"] is None
    assert lead["display_name"] == "Untitled"
    assert [o["id"] for o in lead["opportunities"]] == [opp["id"]]
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"]})["data"]
    assert [a["_type"] for a in feed] == ["Created"]


def test_it_defaults_to_the_first_status_of_the_given_pipeline(
    api: Api, lead: dict[str, Any]
) -> None:
    pipe = api.post("pipeline/", {"name": "Renewals"}).json()
    first = api.ok(
        "POST",
        "status/opportunity/",
        {"label": "Up for renewal", "type": "active", "pipeline_id": pipe["id"]},
    )
    api.ok(
        "POST",
        "status/opportunity/",
        {"label": "Renewed", "type": "won", "pipeline_id": pipe["id"]},
    )
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"], "pipeline_id": pipe["id"]})
    assert (opp["status_id"], opp["pipeline_id"], opp["pipeline_name"]) == (
        first["id"],
        pipe["id"],
        "Renewals",
    )


@pytest.mark.parametrize(
    ("body", "field_errors", "errors"),
    [
        ({"lead_id": "lead_nope"}, {"lead": "Object does not exist."}, []),
        ({"status_id": "stat_nope"}, {"status": "Object does not exist."}, []),
        ({"pipeline_id": "pipe_nope"}, {"pipeline": "Object does not exist."}, []),
        ({"confidence": 101}, {"confidence": "Number must be at most 100."}, []),
        ({"confidence": -1}, {"confidence": "Number must be at least 0."}, []),
        ({"value": "lots"}, {"value": "Not a valid integer."}, []),
        (
            {"value_period": "weekly"},
            {"value_period": "Not a valid choice. Valid choices are: one_time, monthly, annual."},
            [],
        ),
        ({"user_id": "user_nope"}, {"user": "Object does not exist."}, []),
        ({"contact_id": "cont_nope", "lead_id": "LEAD"}, {"contact": "Object does not exist."}, []),
        ({"date_won": "yesterday"}, {"date_won": "Not a valid date."}, []),
    ],
)
def test_it_rejects_bad_input_and_writes_nothing(
    api: Api,
    lead: dict[str, Any],
    body: dict[str, Any],
    field_errors: dict[str, str],
    errors: list[str],
) -> None:
    body = {k: (lead["id"] if v == "LEAD" else v) for k, v in body.items()}
    response = api.post("opportunity/", body)
    assert response.status_code == 400
    assert response.json() == {"errors": errors, "field-errors": field_errors}
    assert api.ok("GET", "opportunity/")["total_results"] == 0
    assert api.ok("GET", "lead/")["total_results"] == 1  # no Untitled lead left behind


def test_it_rejects_a_status_outside_the_given_pipeline(api: Api, lead: dict[str, Any]) -> None:
    pipe = api.post("pipeline/", {"name": "Other"}).json()
    api.ok(
        "POST",
        "status/opportunity/",
        {"label": "Open", "type": "active", "pipeline_id": pipe["id"]},
    )
    won = _statuses(api)["Won"]
    response = api.post(
        "opportunity/", {"lead_id": lead["id"], "status_id": won["id"], "pipeline_id": pipe["id"]}
    )
    assert response.status_code == 400
    assert response.json()["field-errors"] == {
        "status": "The status does not belong to the given pipeline."
    }


def test_it_rejects_a_contact_of_another_lead(api: Api, lead: dict[str, Any]) -> None:
    other = factories.lead(api, "Other", contacts=[{"name": "X"}])
    response = api.post(
        "opportunity/", {"lead_id": lead["id"], "contact_id": other["contacts"][0]["id"]}
    )
    assert response.status_code == 400
    assert response.json()["field-errors"] == {"contact": "The contact belongs to another lead."}


def test_it_names_the_contact(api: Api, lead: dict[str, Any]) -> None:
    contact = lead["contacts"][0]
    opp = api.ok("POST", "opportunity/", {"contact_id": contact["id"]})
    assert (opp["lead_id"], opp["contact_id"], opp["contact_name"]) == (
        lead["id"],
        contact["id"],
        "Bruce",
    )


def test_another_organizations_opportunity_is_not_found(
    api: Api, other: Api, lead: dict[str, Any]
) -> None:
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    for method in ("GET", "PUT", "DELETE"):
        response = other.request(method, f"opportunity/{opp['id']}/", json={})
        assert response.status_code == 404
        assert response.json() == {
            "error": "Empty query: Opportunity matching query does not exist."
        }
    response = other.post("opportunity/", {"lead_id": lead["id"]})
    assert response.json()["field-errors"] == {"lead": "Object does not exist."}
    assert other.ok("GET", "opportunity/")["data"] == []


# --- status changes --------------------------------------------------------------------------


def test_creation_writes_no_status_change(api: Api, lead: dict[str, Any]) -> None:
    api.ok(
        "POST", "opportunity/", {"lead_id": lead["id"], "status_id": _statuses(api)["Won"]["id"]}
    )
    assert _changes(api, lead["id"]) == []


@pytest.mark.parametrize(
    "body",
    [{"value": 1000}, {"confidence": 90}, {"note": "x"}, {"value_period": "monthly"}, {}],
)
def test_a_change_that_keeps_the_status_writes_no_activity(
    api: Api, lead: dict[str, Any], body: dict[str, Any]
) -> None:
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    api.ok("PUT", f"opportunity/{opp['id']}/", {**body, "status_id": opp["status_id"]})
    assert _changes(api, lead["id"]) == []


def test_a_status_change_writes_one_activity_with_every_field(
    api: Api, lead: dict[str, Any], app: Any, client: Any
) -> None:
    statuses = _statuses(api)
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"], "value": 50000, "confidence": 75})
    # Someone else moves it: the activity is attributed to them.
    with app.state.db.write() as conn:
        from crmapi.resources import accounts

        added = accounts.add_user(conn, api.org_id, "robin@acme.example", "Dick", "Grayson")
    robin = Api(
        client, added["api_key"], {"organization_id": api.org_id, "user_id": added["user_id"]}
    )
    moved = robin.ok(
        "PUT",
        f"opportunity/{opp['id']}/",
        {"status_id": statuses["Won"]["id"], "date_won": "2021-07-15"},
        headers={"x-tz-offset": "0"},
    )
    assert moved["updated_by"] == added["user_id"]
    (change,) = _changes(api, lead["id"])
    expected = {
        "_type": "OpportunityStatusChange",
        "lead_id": lead["id"],
        "contact_id": None,
        "user_id": added["user_id"],
        "user_name": "Dick Grayson",
        "created_by": added["user_id"],
        "opportunity_id": opp["id"],
        "old_status_id": statuses["Active"]["id"],
        "old_status_label": "Active",
        "old_status_type": "active",
        "new_status_id": statuses["Won"]["id"],
        "new_status_label": "Won",
        "new_status_type": "won",
        "old_pipeline_id": statuses["Active"]["pipeline_id"],
        "old_pipeline_name": "Sales",
        "new_pipeline_id": statuses["Won"]["pipeline_id"],
        "new_pipeline_name": "Sales",
        "opportunity_value": 50000,
        "opportunity_value_currency": "USD",
        "opportunity_value_formatted": "$500",
        "opportunity_value_period": "one_time",
        "opportunity_confidence": 75,
        "opportunity_date_won": "2021-07-15T00:00:00.000000+00:00",
    }
    assert {k: change[k] for k in expected} == expected
    listed = api.ok(
        "GET", "activity/status_change/opportunity/", params={"opportunity_id": opp["id"]}
    )["data"]
    assert [a["id"] for a in listed] == [change["id"]]


def test_each_status_change_writes_its_own_activity(api: Api, lead: dict[str, Any]) -> None:
    statuses = _statuses(api)
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    for label in ("Lost", "Active", "Won"):
        api.ok("PUT", f"opportunity/{opp['id']}/", {"status_id": statuses[label]["id"]})
    changes = _changes(api, lead["id"])
    pairs = [(c["old_status_label"], c["new_status_label"]) for c in reversed(changes)]
    assert pairs == [("Active", "Lost"), ("Lost", "Active"), ("Active", "Won")]


def test_it_accepts_the_deprecated_status_label(api: Api, lead: dict[str, Any]) -> None:
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    moved = api.ok("PUT", f"opportunity/{opp['id']}/", {"status": "lost"})
    assert moved["status_label"] == "Lost"
    assert len(_changes(api, lead["id"])) == 1


# --- date_won / date_lost ---------------------------------------------------------------------


def _today(offset_hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=offset_hours)).date().isoformat()


@pytest.mark.parametrize("offset", ["0", "-11", "13.5"])
def test_winning_sets_date_won_to_the_callers_today(
    api: Api, lead: dict[str, Any], offset: str
) -> None:
    won = _statuses(api)["Won"]
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    moved = api.ok(
        "PUT",
        f"opportunity/{opp['id']}/",
        {"status_id": won["id"]},
        headers={"x-tz-offset": offset},
    )
    assert moved["date_won"] == _today(float(offset))


@pytest.mark.parametrize(
    ("create", "update", "date_won"),
    [
        ({"date_won": "2020-01-02"}, {}, "2020-01-02"),  # already set: kept
        ({}, {"date_won": "2019-05-06"}, "2019-05-06"),  # given in the request: used
    ],
)
def test_winning_keeps_a_date_won_that_is_set_or_given(
    api: Api, lead: dict[str, Any], create: dict[str, Any], update: dict[str, Any], date_won: str
) -> None:
    won = _statuses(api)["Won"]
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"], **create})
    moved = api.ok("PUT", f"opportunity/{opp['id']}/", {"status_id": won["id"], **update})
    assert moved["date_won"] == date_won


def test_leaving_won_keeps_date_won_and_losing_dates_the_loss(
    api: Api, lead: dict[str, Any]
) -> None:
    statuses = _statuses(api)
    opp = api.ok(
        "POST", "opportunity/", {"lead_id": lead["id"], "status_id": statuses["Won"]["id"]}
    )
    assert opp["date_won"] == _today(0)
    lost = api.ok("PUT", f"opportunity/{opp['id']}/", {"status_id": statuses["Lost"]["id"]})
    assert lost["date_won"] == opp["date_won"]
    assert lost["date_lost"] is not None


# --- lists --------------------------------------------------------------------------------------


@pytest.fixture
def book(api: Api, lead: dict[str, Any]) -> dict[str, dict[str, Any]]:
    statuses = _statuses(api)
    other = factories.lead(api, "Globex")
    specs = {
        "a": {"lead_id": lead["id"], "value": 10000, "confidence": 50},
        "b": {"lead_id": lead["id"], "value": 500, "value_period": "monthly", "confidence": 100},
        "c": {
            "lead_id": other["id"],
            "value": 120000,
            "value_period": "annual",
            "confidence": 10,
            "status_id": statuses["Won"]["id"],
            "date_won": "2024-02-10",
        },
        "d": {"lead_id": other["id"], "status_id": statuses["Lost"]["id"]},
    }
    return {name: api.ok("POST", "opportunity/", body) for name, body in specs.items()}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({}, "dcba"),
        ({"status_type": "won"}, "c"),
        ({"status_type__in": "won,lost"}, "dc"),
        ({"status_label": "Active"}, "ba"),
        ({"status_label__in": "Active,Lost"}, "dba"),
        ({"value_period": "monthly"}, "b"),
        ({"value_period__in": "annual,monthly"}, "cb"),
        ({"date_won__gte": "2024-02-10"}, "c"),
        ({"date_won__gt": "2024-02-10"}, ""),
        ({"date_won__lt": "2024-02-11", "date_won__gte": "2024-02-01"}, "c"),
        ({"_order_by": "value"}, "dbac"),
        ({"_order_by": "-annualized_value"}, "cabd"),
        ({"_order_by": "confidence"}, "dcab"),
        ({"_order_by": "-annualized_expected_value"}, "cbad"),
    ],
)
def test_it_filters_and_orders(
    api: Api, book: dict[str, dict[str, Any]], params: dict[str, str], names: str
) -> None:
    ids = {o["id"]: n for n, o in book.items()}
    listed = api.ok("GET", "opportunity/", params=params)
    got = "".join(ids[o["id"]] for o in listed["data"])
    assert got == names
    assert listed["total_results"] == len(names) or "_order_by" in params


def test_it_filters_by_lead_and_user(
    api: Api, book: dict[str, dict[str, Any]], lead: dict[str, Any]
) -> None:
    listed = api.ok("GET", "opportunity/", params={"lead_id": lead["id"], "user_id": api.user_id})
    assert {o["id"] for o in listed["data"]} == {book["a"]["id"], book["b"]["id"]}
    assert api.ok("GET", "opportunity/", params={"user_id__in": "user_x"})["data"] == []


def test_aggregates_cover_every_match_regardless_of_paging(
    api: Api, book: dict[str, dict[str, Any]]
) -> None:
    listed = api.ok("GET", "opportunity/", params={"_limit": 1})
    assert (len(listed["data"]), listed["has_more"]) == (1, True)
    expected = {
        "total_results": 4,
        "count_by_value_period": {"one_time": 2, "monthly": 1, "annual": 1},
        "total_value_one_time": 10000,
        "total_value_monthly": 500,
        "total_value_annual": 120000,
        "total_value_annualized": 10000 + 120000 + 6000,
        "expected_value_one_time": 5000,
        "expected_value_monthly": 500,
        "expected_value_annual": 12000,
        "expected_value_annualized": 5000 + 12000 + 6000,
    }
    assert {k: listed[k] for k in expected} == expected
    won = api.ok("GET", "opportunity/", params={"status_type": "won", "_limit": 0})
    assert (won["data"], won["total_results"]) == ([], 1)
    assert (won["total_value_annual"], won["total_value_one_time"]) == (120000, 0)


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"status_type": "pending"}, "status_type"),
        ({"value_period": "weekly"}, "value_period"),
        ({"date_won__gte": "nope"}, "date_won__gte"),
        ({"_order_by": "lead_name"}, "_order_by"),
        ({"_limit": "1001"}, "_limit"),
    ],
)
def test_bad_list_parameters_are_400(api: Api, params: dict[str, str], key: str) -> None:
    response = api.get("opportunity/", params=params)
    assert response.status_code == 400
    assert key in response.json()["field-errors"]


def test_airbyte_incremental_read_works(api: Api, book: dict[str, dict[str, Any]]) -> None:
    listed = api.ok(
        "GET",
        "opportunity",
        params={"_limit": 250, "_order_by": "date_updated", "date_updated__gte": "2000-01-01"},
    )
    assert len(listed["data"]) == 4


# --- delete and embedding ------------------------------------------------------------------------


def test_deleting_an_opportunity_keeps_its_status_history(api: Api, lead: dict[str, Any]) -> None:
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    api.ok("PUT", f"opportunity/{opp['id']}/", {"status": "Won"})
    assert api.ok("DELETE", f"opportunity/{opp['id']}/") == {}
    assert api.get(f"opportunity/{opp['id']}/").status_code == 404
    assert [c["opportunity_id"] for c in _changes(api, lead["id"])] == [opp["id"]]
    assert api.ok("GET", f"lead/{lead['id']}/")["opportunities"] == []


def test_leads_embed_all_their_opportunities(api: Api, book: dict[str, dict[str, Any]]) -> None:
    listed = api.ok("GET", "lead/")["data"]
    embedded = {lead["name"]: {o["id"] for o in lead["opportunities"]} for lead in listed}
    assert embedded == {
        "Wayne Enterprises": {book["a"]["id"], book["b"]["id"]},
        "Globex": {book["c"]["id"], book["d"]["id"]},
    }


def test_custom_values_round_trip(api: Api, lead: dict[str, Any]) -> None:
    field = api.ok("POST", "custom_field/opportunity/", {"name": "Source", "type": "text"})
    key = f"custom.{field['id']}"
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"], key: "a"})
    assert opp[key] == "a"
    cleared = api.ok("PUT", f"opportunity/{opp['id']}/", {key: None})
    assert key not in cleared
    unknown = api.post("opportunity/", {"lead_id": lead["id"], "custom.cf_unknown": "a"})
    assert unknown.status_code == 400


def test_every_write_emits_an_event(api: Api, lead: dict[str, Any], app: Any) -> None:
    from sqlalchemy import select

    from crmapi.storage import tables as t

    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"]})
    api.ok("PUT", f"opportunity/{opp['id']}/", {"status": "Won"})
    api.ok("DELETE", f"opportunity/{opp['id']}/")
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_type, t.event.c.action)
            .where(t.event.c.object_id == opp["id"])
            .order_by(t.event.c.date_created, t.event.c.id)
        ).all()
    assert sorted(tuple(r) for r in rows) == sorted(
        [("opportunity", "created"), ("opportunity", "updated"), ("opportunity", "deleted")]
    )
