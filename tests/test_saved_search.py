"""Smart views (``/saved_search/``, more.md §6): CRUD, validation through the search layer,
where views are referenced (``in:``, ``lead_saved_search_id``), tenancy and events."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api, case_id

Obj = dict[str, Any]


def _and(object_type: str, *queries: Obj) -> Obj:
    return {
        "type": "and",
        "queries": [{"type": "object_type", "object_type": object_type}, *queries],
    }


def _text(object_type: str, field: str, value: str, mode: str = "full_words") -> Obj:
    return {
        "type": "field_condition",
        "field": {"type": "regular_field", "object_type": object_type, "field_name": field},
        "condition": {"type": "text", "mode": mode, "value": value},
    }


LEAD_ACME = {"query": _and("lead", _text("lead", "name", "Acme"))}
# Close's own example (more.md §6.2): a contact view of CEOs.
CEOS = {
    "name": "CEOs",
    "type": "contact",
    "s_query": {"query": _and("contact", _text("contact", "title", "CEO"))},
}


def _view(api: Api, **body: Any) -> Obj:
    body.setdefault("name", "Acme leads")
    if "query" not in body:
        body.setdefault("s_query", LEAD_ACME)
    return dict(api.ok("POST", "saved_search/", body))


def _events(api: Api, object_id: str) -> list[tuple[str, str]]:
    params = {"object_type": "saved_search", "object_id": object_id}
    page = api.ok("GET", "event/", params=params)
    return sorted((e["object_type"], e["action"]) for e in page["data"])


# --- create / get -----------------------------------------------------------------------------


def test_a_contact_view_is_created_as_close_shows_it(api: Api) -> None:
    created = api.ok("POST", "saved_search/", CEOS)
    assert created["id"].startswith("save_")
    expected = {
        "name": "CEOs",
        "type": "contact",
        "description": "",
        "is_shared": False,
        "is_user_dependent": False,
        "organization_id": api.org_id,
        "user_id": api.user_id,
        "query": None,
        "shared_with": None,
        "selected_fields": None,
    }
    assert {k: created[k] for k in expected} == expected
    # Stored normalised: every node with its negate, results_limit and sort present.
    negated = {"negate": False}
    assert created["s_query"] == {
        "query": {
            **_and("contact", _text("contact", "title", "CEO")),
            "queries": [
                {"type": "object_type", "object_type": "contact", **negated},
                {**_text("contact", "title", "CEO"), **negated},
            ],
            **negated,
        },
        "results_limit": None,
        "sort": [],
    }
    assert created["sharing_settings"]["whole_org"] is False
    assert created["date_created"] == created["date_updated"]
    assert api.ok("GET", f"saved_search/{created['id']}/") == created


def test_a_legacy_text_view_keeps_its_query(api: Api) -> None:
    created = _view(api, name="every lead", query="called > 0 or name:acme")
    assert (created["query"], created["s_query"], created["type"]) == (
        "called > 0 or name:acme",
        None,
        "lead",
    )


@pytest.mark.parametrize(
    ("query", "dependent"),
    [("opportunity_user:me", True), ("status:potential", False), ("*", False)],
)
def test_a_text_view_naming_me_is_user_dependent(api: Api, query: str, dependent: bool) -> None:
    assert _view(api, query=query)["is_user_dependent"] is dependent


def test_read_only_fields_of_a_cloned_view_are_accepted_and_ignored(api: Api) -> None:
    # clone_organization re-posts a whole view minus id/organization_id/user_id.
    original = api.ok("POST", "saved_search/", CEOS)
    copy = {k: v for k, v in original.items() if k not in ("id", "organization_id", "user_id")}
    cloned = api.ok("POST", "saved_search/", {**copy, "date_created": "2020-01-01T00:00:00"})
    assert cloned["s_query"] == original["s_query"]
    assert cloned["date_created"] != "2020-01-01T00:00:00+00:00"


def test_a_view_shared_with_members_names_their_users(api: Api) -> None:
    membership = api.ok("GET", "me/")["memberships"][0]["id"]
    created = _view(api, is_shared=True, shared_with=[membership])
    assert created["shared_with"] == [membership]
    assert created["sharing_settings"]["user_ids"] == [api.user_id]
    assert created["sharing_settings"]["whole_org"] is True
    # sharing_settings dates the last change of sharing, not of the view.
    renamed = api.ok("PUT", f"saved_search/{created['id']}/", {"name": "Renamed"})
    assert renamed["sharing_settings"] == created["sharing_settings"]
    private = api.ok("PUT", f"saved_search/{created['id']}/", {"is_shared": False})
    assert private["sharing_settings"]["whole_org"] is False
    assert private["sharing_settings"]["updated_at"] == private["date_updated"]


# (body, the field the 400 names, words of its message)
BAD_CREATES = [
    ({"s_query": LEAD_ACME}, "name", "required"),
    ({"name": " ", "s_query": LEAD_ACME}, "name", "blank"),
    ({"name": "x"}, "s_query", "required"),
    ({"name": "x", "s_query": "name:acme"}, "s_query", "Not a valid object"),
    ({"name": "x", "s_query": {"query": {"type": "match_all"}}}, "s_query", "object_type"),
    ({"name": "x", "type": "contact", "s_query": LEAD_ACME}, "s_query", "'contact' for a contact"),
    ({"name": "x", "s_query": {"query": _and("lead", {"type": "bogus"})}}, "s_query", "bogus"),
    (
        {"name": "x", "s_query": {"query": _and("lead", _text("lead", "colour", "red"))}},
        "s_query",
        "unknown field lead.colour",
    ),
    (
        {"name": "x", "s_query": {"query": _and("lead", _text("contact", "title", "CEO"))}},
        "s_query",
        "cannot search lead",
    ),
    ({"name": "x", "s_query": {**LEAD_ACME, "results_limit": 0}}, "s_query", "results_limit"),
    (
        {"name": "x", "s_query": {"query": {**LEAD_ACME["query"], "negate": True}}},
        "s_query",
        "cannot be negated",
    ),
    ({"name": "x", "type": "deal", "s_query": LEAD_ACME}, "type", "Not a valid choice"),
    ({"name": "x", "query": 'name:"acme'}, "query", "Invalid query: unterminated"),
    ({"name": "x", "query": "in:save_nope"}, "query", "smart view 'save_nope' does not exist"),
    ({"name": "x", "type": "form_submission", "query": "*"}, "query", "use s_query"),
    ({"name": "x", "query": 5}, "query", "Not a valid string"),
    ({"name": "x", "s_query": LEAD_ACME, "shared_with": ["memb_x"]}, "shared_with", "memb_x"),
    ({"name": "x", "s_query": LEAD_ACME, "is_shared": None}, "is_shared", "null"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_CREATES, ids=case_id)
def test_a_bad_view_is_a_400_naming_the_field(api: Api, body: Obj, field: str, words: str) -> None:
    response = api.post("saved_search/", body)
    assert response.status_code == 400, response.text
    assert words in response.json()["field-errors"][field]
    assert (
        api.ok("GET", "saved_search/", params={"type__in": ",".join(("lead", "contact", "call"))})[
            "data"
        ]
        == []
    )


# --- list ---------------------------------------------------------------------------------------


def test_the_list_shows_lead_views_unless_type_says_otherwise(api: Api) -> None:
    lead_view = _view(api)
    contact_view = api.ok("POST", "saved_search/", CEOS)

    def ids(**params: str) -> list[str]:
        page = api.ok("GET", "saved_search/", params=params)
        assert page["has_more"] is False
        return [v["id"] for v in page["data"]]

    assert ids() == [lead_view["id"]]
    assert ids(type="contact") == [contact_view["id"]]
    assert ids(type__in="lead,contact") == [lead_view["id"], contact_view["id"]]
    assert ids(type="call") == []
    fields = api.ok("GET", "saved_search/", params={"_fields": "id,name", "type__in": "contact"})
    assert fields["data"] == [{"id": contact_view["id"], "name": "CEOs"}]
    paged = api.ok("GET", "saved_search/", params={"type__in": "lead,contact", "_limit": 1})
    assert paged["has_more"] is True
    assert api.get("saved_search/", params={"type": "deal"}).status_code == 400


# --- update / delete ---------------------------------------------------------------------------


def test_a_put_changes_what_it_sends_and_keeps_the_rest(api: Api) -> None:
    created = _view(api, description="the Acmes")
    updated = api.ok("PUT", f"saved_search/{created['id']}/", {"name": "every lead"})
    assert updated["name"] == "every lead"
    assert updated["description"] == "the Acmes"
    assert updated["s_query"] == created["s_query"]
    assert updated["date_updated"] >= created["date_updated"]
    # type is fixed at creation: a PUT of it is ignored (its query is about that type).
    assert api.ok("PUT", f"saved_search/{created['id']}/", {"type": "contact"})["type"] == "lead"


BAD_UPDATES = [
    ({"s_query": CEOS["s_query"]}, "s_query", "'lead' for a lead view"),
    ({"s_query": None}, "s_query", "required"),
    ({"name": ""}, "name", "blank"),
    ({"query": "status:"}, "query", "Invalid query"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_UPDATES, ids=case_id)
def test_a_bad_put_is_a_400_and_changes_nothing(
    api: Api, body: Obj, field: str, words: str
) -> None:
    created = _view(api)
    response = api.put(f"saved_search/{created['id']}/", body)
    assert response.status_code == 400, response.text
    assert words in response.json()["field-errors"][field]
    assert api.ok("GET", f"saved_search/{created['id']}/") == created


def test_a_view_cannot_name_itself_through_in(api: Api) -> None:
    first = _view(api, name="First", query="name:acme")
    second = _view(api, name="Second", query=f"in:{first['id']}")
    # First -> Second -> First would never end.
    response = api.put(f"saved_search/{first['id']}/", {"query": 'in:"Second"'})
    assert response.status_code == 400
    assert "refers to itself" in response.json()["field-errors"]["query"]
    response = api.put(f"saved_search/{second['id']}/", {"query": f"in:{second['id']}"})
    assert "refers to itself" in response.json()["field-errors"]["query"]


def test_a_delete_answers_200_then_404(api: Api) -> None:
    created = _view(api)
    response = api.delete(f"saved_search/{created['id']}/")
    assert (response.status_code, response.json()) == (200, {})
    gone = api.get(f"saved_search/{created['id']}/")
    assert gone.status_code == 404
    assert gone.json() == {"error": "Empty query: SavedSearch matching query does not exist."}
    assert api.delete(f"saved_search/{created['id']}/").status_code == 404


def test_every_write_is_an_event(api: Api) -> None:
    created = _view(api)
    api.ok("PUT", f"saved_search/{created['id']}/", {"name": "Renamed"})
    api.ok("DELETE", f"saved_search/{created['id']}/")
    assert _events(api, created["id"]) == [
        ("saved_search", "created"),
        ("saved_search", "deleted"),
        ("saved_search", "updated"),
    ]


# --- where views are referenced ------------------------------------------------------------------


@pytest.fixture
def deals(api: Api) -> dict[str, str]:
    """An opportunity on each of three leads, by lead name."""
    out = {}
    for name in ("Acme", "Acme Two", "Globex"):
        lead = factories.lead(api, name)
        out[name] = factories.opportunity(api, lead["id"])["id"]
    return out


def _opportunities(api: Api, deals: dict[str, str], **params: str) -> set[str]:
    page = api.ok("GET", "opportunity/", params=params)
    names = {v: k for k, v in deals.items()}
    return {names[o["id"]] for o in page["data"]}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"s_query": LEAD_ACME}, {"Acme", "Acme Two"}),
        ({"query": "name:globex"}, {"Globex"}),
        ({"query": "*"}, {"Acme", "Acme Two", "Globex"}),
        (
            {"s_query": {"query": _and("lead", _text("lead", "name", "Acme Two", "exact_value"))}},
            {"Acme Two"},
        ),
        (
            {"s_query": {"query": _and("lead", {**_text("lead", "name", "Acme"), "negate": True})}},
            {"Globex"},
        ),
    ],
    ids=case_id,
)
def test_lead_saved_search_id_lists_the_opportunities_of_the_views_leads(
    api: Api, deals: dict[str, str], body: Obj, expected: set[str]
) -> None:
    view = _view(api, **body)
    assert _opportunities(api, deals, lead_saved_search_id=view["id"]) == expected
    both = _opportunities(api, deals, lead_saved_search_id=view["id"], lead_query="name:two")
    assert both == expected & {"Acme Two"}
    counted = api.ok("GET", "opportunity/", params={"lead_saved_search_id": view["id"]})
    assert counted["total_results"] == len(expected)


def test_a_view_edited_later_changes_what_the_filter_matches(
    api: Api, deals: dict[str, str]
) -> None:
    view = _view(api)
    api.ok("PUT", f"saved_search/{view['id']}/", {"s_query": None, "query": "name:globex"})
    assert _opportunities(api, deals, lead_saved_search_id=view["id"]) == {"Globex"}


def _refusal(response: Any, param: str) -> str:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"errors", "field-errors"}
    return str(body["field-errors"][param])


def test_lead_saved_search_id_refuses_what_is_not_a_lead_view_of_the_org(
    api: Api, other: Api, deals: dict[str, str]
) -> None:
    contacts = api.ok("POST", "saved_search/", CEOS)
    theirs = _view(other)
    named = _view(api, name="By name")
    cases = {
        "save_nope": "smart view 'save_nope' does not exist",
        theirs[
            "id"
        ]: f"smart view {theirs['id']!r} does not exist",  # another org's: as absent as none
        "By name": "smart view 'By name' does not exist",  # the parameter names an id, never a name
        contacts["id"]: "selects contacts, not leads",
    }
    for value, words in cases.items():
        response = api.get("opportunity/", params={"lead_saved_search_id": value})
        assert words in _refusal(response, "lead_saved_search_id")
    assert named["id"]
    # An empty value is an absent one (as an empty lead_query is).
    assert _opportunities(api, deals, lead_saved_search_id="") == set(deals)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('in:"Acme leads"', {"Acme", "Acme Two"}),
        ('in:"acme LEADS"', {"Acme", "Acme Two"}),  # names match case-insensitively
        ("in:{id}", {"Acme", "Acme Two"}),
        ("in:{id} name:two", {"Acme Two"}),
        ("not in:{id}", {"Globex"}),
        ('in:"Acme leads" or name:globex', {"Acme", "Acme Two", "Globex"}),
        ('in:"Via a view"', {"Acme Two"}),  # a view naming a view
    ],
)
def test_in_searches_the_leads_of_a_view(
    api: Api, deals: dict[str, str], query: str, expected: set[str]
) -> None:
    view = _view(api)
    _view(api, name="Via a view", query=f"in:{view['id']} name:two")
    page = api.ok("GET", "lead/", params={"query": query.format(id=view["id"])})
    assert {lead["display_name"] for lead in page["data"]} == expected


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("in:save_nope", "smart view 'save_nope' does not exist"),
        ('in:"CEOs"', "selects contacts, not leads"),
        ("in>save_x", "in takes ':'"),
        ("in:{theirs}", "does not exist"),
    ],
)
def test_in_refuses_what_is_not_a_lead_view_of_the_org(
    api: Api, other: Api, query: str, words: str
) -> None:
    api.ok("POST", "saved_search/", CEOS)
    theirs = _view(other)
    response = api.get("lead/", params={"query": query.format(theirs=theirs["id"])})
    text = _refusal(response, "query")
    assert text.startswith("Invalid query: ")
    assert words in text


def test_a_deleted_view_leaves_references_dangling(api: Api) -> None:
    inner = _view(api, name="Inner")
    outer = _view(api, name="Outer", query='in:"Inner"')
    api.ok("DELETE", f"saved_search/{inner['id']}/")
    response = api.get("opportunity/", params={"lead_saved_search_id": outer["id"]})
    assert "smart view 'Outer': smart view 'Inner' does not exist" in _refusal(
        response, "lead_saved_search_id"
    )


def test_a_bulk_action_selects_by_a_view_through_in(api: Api, deals: dict[str, str]) -> None:
    view = _view(api)
    job = api.ok(
        "POST", "bulk_action/delete/", {"bulk_object_type": "lead", "query": f"in:{view['id']}"}
    )
    assert job["query"] == f"in:{view['id']}"
    bad = api.post("bulk_action/delete/", {"bulk_object_type": "lead", "query": "in:save_nope"})
    assert "does not exist" in _refusal(bad, "query")


# --- tenancy --------------------------------------------------------------------------------------


def test_another_organizations_views_are_absent(api: Api, other: Api) -> None:
    mine = _view(api)
    assert other.get(f"saved_search/{mine['id']}/").status_code == 404
    assert other.put(f"saved_search/{mine['id']}/", {"name": "x"}).status_code == 404
    assert other.delete(f"saved_search/{mine['id']}/").status_code == 404
    assert other.ok("GET", "saved_search/", params={"type__in": "lead,contact"})["data"] == []
    # A view of theirs with the same name is never what my in:"name" finds.
    _view(other, query="*")
    factories.lead(api, "Globex")
    page = api.ok("GET", "lead/", params={"query": 'in:"Acme leads"'})
    assert page["data"] == []
    assert api.ok("GET", f"saved_search/{mine['id']}/")["name"] == "Acme leads"


# --- POST /data/search/ (Advanced Filtering, more.md §1.9) -------------------------------------


def _data_search(api: Api, **body: Any) -> Obj:
    return dict(api.ok("POST", "data/search/", body))


def test_data_search_pages_a_smart_views_query_with_a_cursor(
    api: Api, deals: dict[str, str]
) -> None:
    # home-iq's pattern: read a view, then page its s_query until the cursor is null.
    view = _view(api)
    s_query = api.ok("GET", f"saved_search/{view['id']}/")["s_query"]
    sort = [
        {
            "direction": "asc",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
        }
    ]
    first = _data_search(api, query=s_query["query"], sort=sort, _limit=1, include_counts=True)
    assert [hit["__object_type"] for hit in first["data"]] == ["lead"]
    assert set(first["data"][0]) == {"__object_type", "id"}
    assert first["count"] == {"total": 2, "limited": 2}
    second = _data_search(api, query=s_query["query"], sort=sort, _limit=1, cursor=first["cursor"])
    assert second["cursor"] is None
    names = {lead["id"]: lead["display_name"] for lead in api.ok("GET", "lead/")["data"]}
    assert [names[h["id"]] for h in first["data"] + second["data"]] == ["Acme", "Acme Two"]


def test_data_search_returns_the_fields_asked_for_and_honours_results_limit(
    api: Api, deals: dict[str, str]
) -> None:
    everything = _and("lead")
    found = _data_search(
        api, query=everything, _fields={"lead": ["display_name", "status_label"]}, results_limit=2
    )
    assert len(found["data"]) == 2
    assert found["cursor"] is None
    assert all(
        set(hit) == {"__object_type", "id", "display_name", "status_label"} for hit in found["data"]
    )
    opportunities = _data_search(api, query=_and("opportunity"), include_counts=True)
    assert opportunities["count"]["total"] == 3
    assert {hit["id"] for hit in opportunities["data"]} == set(deals.values())


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "query", "required"),
        ({"query": {"type": "match_all"}}, "query", "object_type"),
        ({"query": _and("activity.call")}, "query", "object_type must be one of"),
        ({"query": _and("lead", _text("contact", "title", "CEO"))}, "query", "cannot search lead"),
        ({"query": _and("lead"), "cursor": "nope"}, "cursor", "Invalid cursor"),
        ({"query": _and("lead"), "_limit": 201}, "_limit", "at most 200"),
        ({"query": _and("lead"), "_fields": {"lead": "name"}}, "_fields", "field names"),
    ],
    ids=case_id,
)
def test_a_bad_data_search_is_a_400_naming_the_field(
    api: Api, body: Obj, field: str, words: str
) -> None:
    response = api.post("data/search/", body)
    assert response.status_code == 400, response.text
    assert words in response.json()["field-errors"][field]


def test_data_search_sees_only_the_callers_organization(
    api: Api, other: Api, deals: dict[str, str]
) -> None:
    assert other.ok("POST", "data/search/", {"query": _and("lead")})["data"] == []
    mine = {hit["id"] for hit in _data_search(api, query=_and("lead"))["data"]}
    assert len(mine) == 3


# Airbyte's smart_views stream pages with _limit=600: (the _limit, the status it gets)
LIMITS = [("600", 200), ("1000", 200), ("1001", 400)]


@pytest.mark.parametrize(("limit", "status"), LIMITS)
def test_the_list_takes_a_limit_of_up_to_a_thousand(api: Api, limit: str, status: int) -> None:
    response = api.get(f"saved_search/?_limit={limit}")
    assert response.status_code == status, response.text
    if status == 400:
        assert "_limit" in response.json()["field-errors"]
