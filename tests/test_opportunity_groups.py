"""``GET /opportunity/?_group_by=``: groups of the page's objects (core.md §4.1), as data.

A fixed set of won opportunities across weeks, months, quarters and years, by two users, plus
one not won; each case names the groups (key, their date or user fields, their objects in
order) a request must answer, on both backends.
"""

from typing import Any

import pytest

from crmapi.resources import accounts
from tests import factories
from tests.conftest import Api

# (name, date_won, value in cents, by Lucius instead of the owner)
DEALS = [
    ("a", "2023-12-31", 100, False),  # a Sunday: ISO week 2023-W52
    ("b", "2024-01-01", 200, True),  # a Monday: ISO week 2024-W01
    ("c", "2024-01-07", 300, False),  # the Sunday of 2024-W01
    ("d", "2024-03-15", 400, True),
    ("e", "2024-04-01", 500, False),
    ("f", "2024-12-30", 600, False),  # a Monday in ISO year 2025 (2025-W01)
    ("g", None, 700, True),  # not won
]


@pytest.fixture
def deals(app: Any, api: Api) -> dict[str, Any]:
    with app.state.db.write() as conn:
        lucius = accounts.add_user(conn, api.org_id, "lucius@acme.example", "Lucius", "Fox")
    lead = factories.lead(api)
    ids = {}
    for name, won, value, by_lucius in DEALS:
        fields: dict[str, Any] = {"note": name, "value": value, "value_period": "one_time"}
        if won:
            fields["date_won"] = won
        if by_lucius:
            fields["user_id"] = lucius["user_id"]
        ids[name] = factories.opportunity(api, lead["id"], **fields)["id"]
    return {"ids": ids, "lucius": lucius["user_id"], "owner": api.user_id}


def _names(deals: dict[str, Any], objects: list[dict[str, Any]]) -> list[str]:
    by_id = {v: k for k, v in deals["ids"].items()}
    return [by_id[o["id"]] for o in objects]


# (query, [(key, extra group fields, object names in order)])
CASES = [
    (
        "_group_by=date_won__year&_order_by=date_won",
        [
            (None, {"year": None}, ["g"]),
            ("2023", {"year": 2023}, ["a"]),
            ("2024", {"year": 2024}, ["b", "c", "d", "e", "f"]),
        ],
    ),
    (
        "_group_by=-date_won__year&_order_by=date_won",
        [
            ("2024", {"year": 2024}, ["b", "c", "d", "e", "f"]),
            ("2023", {"year": 2023}, ["a"]),
            (None, {"year": None}, ["g"]),
        ],
    ),
    (
        "_group_by=date_won__month&_order_by=-value&_limit=3",
        [
            (None, {"year": None, "month": None}, ["g"]),
            ("2023-12", {"year": 2023, "month": 12}, ["a"]),
            ("2024-01", {"year": 2024, "month": 1}, ["c"]),  # b is on the next page
        ],
    ),
    (
        "_group_by=date_won__month&_order_by=-value&_skip=3&_limit=2",
        [
            ("2024-01", {"year": 2024, "month": 1}, ["b"]),  # the same key joins the pages
            ("2024-03", {"year": 2024, "month": 3}, ["d"]),
        ],
    ),
    (
        "_group_by=date_won__quarter&_order_by=date_won",
        [
            (None, {"year": None, "quarter": None}, ["g"]),
            ("2023-Q4", {"year": 2023, "quarter": 4}, ["a"]),
            ("2024-Q1", {"year": 2024, "quarter": 1}, ["b", "c", "d"]),
            ("2024-Q2", {"year": 2024, "quarter": 2}, ["e"]),
            ("2024-Q4", {"year": 2024, "quarter": 4}, ["f"]),
        ],
    ),
    (
        "_group_by=date_won__week&_order_by=date_won",
        [
            (None, {"weekyear": None, "week": None}, ["g"]),
            ("2023-W52", {"weekyear": 2023, "week": 52}, ["a"]),
            ("2024-W01", {"weekyear": 2024, "week": 1}, ["b", "c"]),
            ("2024-W11", {"weekyear": 2024, "week": 11}, ["d"]),
            ("2024-W14", {"weekyear": 2024, "week": 14}, ["e"]),
            ("2025-W01", {"weekyear": 2025, "week": 1}, ["f"]),
        ],
    ),
    (
        # Users by full name: Bruce Wayne (the owner) before Lucius Fox.
        "_group_by=user_id&_order_by=value",
        [
            ("owner", {"user_name": "Bruce Wayne"}, ["a", "c", "e", "f"]),
            ("lucius", {"user_name": "Lucius Fox"}, ["b", "d", "g"]),
        ],
    ),
    (
        "_group_by=-user_id&_order_by=value",
        [
            ("lucius", {"user_name": "Lucius Fox"}, ["b", "d", "g"]),
            ("owner", {"user_name": "Bruce Wayne"}, ["a", "c", "e", "f"]),
        ],
    ),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_groups_cut_the_page_as_close_does(
    api: Api, deals: dict[str, Any], query: str, expected: list[Any]
) -> None:
    page = api.ok("GET", f"opportunity/?{query}")
    got = []
    for group in page["data"]:
        extra = {k: group[k] for k in expected[0][1]}
        key = group["key"]
        if key in (deals["owner"], deals["lucius"]):
            key = "owner" if key == deals["owner"] else "lucius"
            assert group["user_id"] == deals[key]
            extra = {"user_name": group["user_name"]}
        got.append((key, extra, _names(deals, group["objects"])))
    assert got == expected
    assert page["total_results"] == len(DEALS)


def test_a_groups_totals_cover_all_its_matches_not_the_page(
    api: Api, deals: dict[str, Any]
) -> None:
    page = api.ok("GET", "opportunity/?_group_by=date_won__year&_order_by=date_won&_limit=2")
    groups = {g["key"]: g for g in page["data"]}
    assert page["has_more"] is True
    assert list(groups) == [None, "2023"]
    full = api.ok("GET", "opportunity/?_group_by=date_won__year&_order_by=date_won&_skip=2")
    year = full["data"][0]
    assert year["key"] == "2024"
    assert year["total_results"] == 5
    assert year["total_value_one_time"] == 200 + 300 + 400 + 500 + 600
    assert year["count_by_value_period"]["one_time"] == 5
    assert groups[None]["total_value_one_time"] == 700


def test_fields_apply_to_the_objects_of_each_group(api: Api, deals: dict[str, Any]) -> None:
    page = api.ok("GET", "opportunity/?_group_by=user_id&_fields=id,value")
    for group in page["data"]:
        assert group["user_name"] in ("Bruce Wayne", "Lucius Fox")
        assert all(set(o) == {"id", "value"} for o in group["objects"])


# (the _group_by value, the status)
VALUES = [
    ("user_id", 200),
    ("-date_won__week", 200),
    ("DATE_WON__MONTH", 200),  # case does not matter
    ("", 200),  # empty: not grouped
    ("date_created__week", 400),
    ("status_id", 400),
]


@pytest.mark.parametrize(("value", "status"), VALUES)
def test_only_closes_groupings_are_accepted(api: Api, value: str, status: int) -> None:
    response = api.get(f"opportunity/?_group_by={value}")
    assert response.status_code == status, response.text
    if status == 400:
        assert "_group_by" in response.json()["field-errors"]
    elif not value:
        assert response.json()["data"] == []
