"""Custom activity types (/custom_activity/) and their instances (/activity/custom/)."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


def _type(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Demo")
    response = api.post("custom_activity/", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _field(api: Api, type_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Field")
    body.setdefault("type", "text")
    return dict(
        api.ok("POST", "custom_field/activity/", {"custom_activity_type_id": type_id, **body})
    )


def _lead(api: Api) -> str:
    return str(factories.lead(api, "Wayne Enterprises")["id"])


@pytest.fixture
def setup(api: Api) -> dict[str, Any]:
    """A type with a required text field, an optional number and a multi-user field."""
    actitype = _type(api, name="Demo call")
    outcome = _field(api, actitype["id"], name="Outcome", required=True)
    score = _field(api, actitype["id"], name="Score", type="number")
    people = _field(api, actitype["id"], name="People", type="user", accepts_multiple_values=True)
    return {
        "type": actitype["id"],
        "outcome": f"custom.{outcome['id']}",
        "score": f"custom.{score['id']}",
        "people": f"custom.{people['id']}",
        "lead": _lead(api),
    }


# --- custom activity types ----------------------------------------------------------------


def test_it_lists_no_types_for_a_new_organization(api: Api) -> None:
    assert api.ok("GET", "custom_activity") == {"data": [], "has_more": False}


def test_it_creates_reads_updates_and_deletes_a_type(api: Api) -> None:
    created = _type(api, name="Demo", description="A product demo", api_create_only=True)
    assert created["id"].startswith("actitype_")
    assert len(created["id"]) == len("actitype_") + 22
    assert created["name"] == "Demo"
    assert created["description"] == "A product demo"
    assert created["api_create_only"] is True
    assert created["editable_with_roles"] == []
    assert created["is_archived"] is False
    assert created["fields"] == []
    assert created["organization_id"] == api.org_id
    path = f"custom_activity/{created['id']}/"
    assert api.ok("GET", path) == created
    assert api.ok("GET", "custom_activity/")["data"] == [created]
    updated = api.ok("PUT", path, {"name": "Demo v2", "is_archived": True})
    assert (updated["name"], updated["is_archived"]) == ("Demo v2", True)
    response = api.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert api.get(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({}, "name"),
        ({"name": " "}, "name"),
        ({"name": "ok"}, None),
        ({"name": 5}, "name"),
        ({"name": "x", "api_create_only": "yes"}, "api_create_only"),
    ],
)
def test_it_validates_type_bodies(api: Api, body: dict[str, Any], key: str | None) -> None:
    response = api.post("custom_activity/", body)
    if key is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert key in response.json()["field-errors"]


def test_it_shows_a_types_fields_with_metadata_and_reorders_them(
    api: Api, setup: dict[str, Any]
) -> None:
    actitype = api.ok("GET", f"custom_activity/{setup['type']}/")
    ids = [f["id"] for f in actitype["fields"]]
    assert [f"custom.{i}" for i in ids] == [setup["outcome"], setup["score"], setup["people"]]
    outcome = actitype["fields"][0]
    assert outcome == {
        "id": ids[0],
        "name": "Outcome",
        "description": None,
        "type": "text",
        "required": True,
        "accepts_multiple_values": False,
        "editable_with_roles": [],
        "converting_to_type": None,
    }
    reordered = api.ok("PUT", f"custom_activity/{setup['type']}/", {"fields": [{"id": ids[2]}]})
    # Fields left out keep their relative order after the ones named.
    assert [f["id"] for f in reordered["fields"]] == [ids[2], ids[0], ids[1]]
    bad = api.put(f"custom_activity/{setup['type']}/", {"fields": [{"id": "cf_nope"}]})
    assert bad.status_code == 400
    assert "fields" in bad.json()["field-errors"]


def test_it_refuses_to_delete_a_type_in_use(api: Api, setup: dict[str, Any]) -> None:
    body = {"lead_id": setup["lead"], "custom_activity_type_id": setup["type"], "status": "draft"}
    activity = api.ok("POST", "activity/custom/", body)
    response = api.delete(f"custom_activity/{setup['type']}/")
    assert response.status_code == 400
    assert api.ok("GET", f"custom_activity/{setup['type']}/")["id"] == setup["type"]
    api.ok("DELETE", f"activity/custom/{activity['id']}/")
    assert api.delete(f"custom_activity/{setup['type']}/").status_code == 204
    # Its fields go with it.
    assert api.ok("GET", "custom_field/activity/")["data"] == []


def test_it_hides_types_of_other_organizations(api: Api, other: Api) -> None:
    created = _type(api)
    assert other.get(f"custom_activity/{created['id']}/").status_code == 404
    assert other.ok("GET", "custom_activity/")["data"] == []
    response = other.post(
        "custom_field/activity/",
        {"name": "x", "type": "text", "custom_activity_type_id": created["id"]},
    )
    assert response.status_code == 400


# --- custom activity instances --------------------------------------------------------------


def test_it_creates_a_published_custom_activity(api: Api, setup: dict[str, Any]) -> None:
    body = {
        "lead_id": setup["lead"],
        "custom_activity_type_id": setup["type"],
        setup["outcome"]: "Booked",
        setup["score"]: "8",
        setup["people"]: ["Bruce Wayne"],
        "pinned": True,
    }
    created = api.ok("POST", "activity/custom/", body)
    assert created["_type"] == "CustomActivity"
    assert created["id"].startswith("acti_")
    assert created["custom_activity_type_id"] == setup["type"]
    assert created["status"] == "published"
    assert created["last_published_at"] is not None
    assert created["pinned"] is True
    assert created["pinned_at"] is not None
    assert created["source"] == "api"
    assert created[setup["outcome"]] == "Booked"
    assert created[setup["score"]] == 8
    assert created[setup["people"]] == [api.user_id]
    assert api.ok("GET", f"activity/custom/{created['id']}/") == created
    feed = api.ok("GET", "activity/", params={"lead_id": setup["lead"], "_type": "Custom"})
    assert feed["data"] == [created]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"lead_id": None}, {"lead"}),
        ({"lead_id": "lead_unknown"}, {"lead"}),
        ({"custom_activity_type_id": None}, {"custom_activity_type_id"}),
        (
            {"custom_activity_type_id": "actitype_0000000000000000000000"},
            {"custom_activity_type_id"},
        ),
        ({"{outcome}": None}, {"{outcome}"}),
        ({"{outcome}": ""}, {"{outcome}"}),
        ({"{score}": "lots"}, {"{score}"}),
        ({"{people}.add": "nobody"}, {"{people}.add"}),
        ({"status": "final"}, {"status"}),
        ({"custom.cf_unknown": "x"}, {"custom.cf_unknown"}),
    ],
)
def test_it_rejects_bad_custom_activities(
    api: Api, setup: dict[str, Any], body: dict[str, Any], errors: set[str]
) -> None:
    """Keys like ``{outcome}`` name the fixture's fields; ``None`` leaves the key out."""
    sent: dict[str, Any] = {
        "lead_id": setup["lead"],
        "custom_activity_type_id": setup["type"],
        setup["outcome"]: "Booked",
    }
    for key, value in body.items():
        sent[key.format(**setup)] = value
    sent = {k: v for k, v in sent.items() if v is not None}
    response = api.post("activity/custom/", sent)
    assert response.status_code == 400, response.text
    assert set(response.json()["field-errors"]) == {e.format(**setup) for e in errors}
    assert api.ok("GET", "activity/custom/")["data"] == []


def test_it_rejects_fields_of_another_type(api: Api, setup: dict[str, Any]) -> None:
    other_type = _type(api, name="Other")
    foreign = _field(api, other_type["id"], name="Elsewhere")
    key = f"custom.{foreign['id']}"
    body = {"lead_id": setup["lead"], "custom_activity_type_id": setup["type"], key: "x"}
    response = api.post("activity/custom/", {**body, setup["outcome"]: "ok"})
    assert response.status_code == 400
    assert set(response.json()["field-errors"]) == {key}


def test_it_rejects_archived_types(api: Api, setup: dict[str, Any]) -> None:
    api.ok("PUT", f"custom_activity/{setup['type']}/", {"is_archived": True})
    body = {"lead_id": setup["lead"], "custom_activity_type_id": setup["type"], "status": "draft"}
    response = api.post("activity/custom/", body)
    assert response.status_code == 400
    assert "archived" in response.json()["field-errors"]["custom_activity_type_id"]


def test_it_keeps_drafts_unvalidated_until_published(api: Api, setup: dict[str, Any]) -> None:
    body = {"lead_id": setup["lead"], "custom_activity_type_id": setup["type"], "status": "draft"}
    draft = api.ok("POST", "activity/custom/", body)
    assert draft["status"] == "draft"
    assert draft["last_published_at"] is None
    path = f"activity/custom/{draft['id']}/"
    response = api.put(path, {"status": "published"})
    assert response.status_code == 400
    assert response.json()["field-errors"] == {setup["outcome"]: "This field is required."}
    assert api.ok("GET", path)["status"] == "draft"
    published = api.ok("PUT", path, {"status": "published", setup["outcome"]: "Won"})
    assert published["status"] == "published"
    assert published["last_published_at"] is not None
    # A published activity cannot lose a required value...
    assert api.put(path, {setup["outcome"]: None}).status_code == 400
    # ...but may go back to draft and then lose it.
    back = api.ok("PUT", path, {"status": "draft", setup["outcome"]: None})
    assert back["status"] == "draft"
    assert setup["outcome"] not in back
    assert back["last_published_at"] == published["last_published_at"]


def test_it_updates_and_clears_values(api: Api, setup: dict[str, Any]) -> None:
    body = {
        "lead_id": setup["lead"],
        "custom_activity_type_id": setup["type"],
        setup["outcome"]: "Booked",
        setup["score"]: 3,
    }
    created = api.ok("POST", "activity/custom/", body)
    path = f"activity/custom/{created['id']}/"
    updated = api.ok(
        "PUT",
        path,
        {
            setup["outcome"]: "Won",
            setup["score"]: None,
            setup["people"] + ".add": api.user_id,
            "custom_activity_type_id": "actitype_ignored",
            "pinned": True,
        },
    )
    assert updated[setup["outcome"]] == "Won"
    assert setup["score"] not in updated
    assert updated[setup["people"]] == [api.user_id]
    assert updated["custom_activity_type_id"] == setup["type"]
    assert updated["pinned_at"] is not None
    assert api.ok("GET", path) == updated
    unpinned = api.ok("PUT", path, {"pinned": False, setup["people"] + ".remove": api.user_id})
    assert unpinned["pinned_at"] is None
    assert setup["people"] not in unpinned


def test_it_accepts_the_custom_fields_object_spelling(api: Api, setup: dict[str, Any]) -> None:
    outcome_id = setup["outcome"].removeprefix("custom.")
    body = {
        "lead_id": setup["lead"],
        "custom_activity_type_id": setup["type"],
        "custom_fields": {outcome_id: "Booked"},
    }
    assert api.ok("POST", "activity/custom/", body)[setup["outcome"]] == "Booked"


def test_it_removes_a_deleted_fields_values_from_activities(
    api: Api, setup: dict[str, Any]
) -> None:
    body = {
        "lead_id": setup["lead"],
        "custom_activity_type_id": setup["type"],
        setup["outcome"]: "Booked",
        setup["score"]: 3,
    }
    created = api.ok("POST", "activity/custom/", body)
    api.ok("DELETE", f"custom_field/activity/{setup['score'].removeprefix('custom.')}/")
    after = api.ok("GET", f"activity/custom/{created['id']}/")
    assert setup["score"] not in after
    assert after[setup["outcome"]] == "Booked"


def test_it_filters_by_type_only_for_one_lead(api: Api, setup: dict[str, Any]) -> None:
    other_type = _type(api, name="Other")
    base = {"lead_id": setup["lead"], "status": "draft"}
    mine = api.ok("POST", "activity/custom/", {**base, "custom_activity_type_id": setup["type"]})
    theirs = api.ok(
        "POST", "activity/custom/", {**base, "custom_activity_type_id": other_type["id"]}
    )
    note = api.ok("POST", "activity/note/", {"lead_id": setup["lead"], "note": "hi"})
    lead = setup["lead"]
    cases: list[tuple[str, dict[str, str], list[str]]] = [
        (
            "activity/custom/",
            {"lead_id": lead, "custom_activity_type_id": setup["type"]},
            [mine["id"]],
        ),
        (
            "activity/custom/",
            {"lead_id": lead, "custom_activity_type_id__in": f"{setup['type']},{other_type['id']}"},
            [theirs["id"], mine["id"]],
        ),
        ("activity/", {"lead_id": lead, "_type": setup["type"]}, [mine["id"]]),
        ("activity/", {"lead_id": lead, "_type": "Custom"}, [theirs["id"], mine["id"]]),
        (
            "activity/",
            {"lead_id": lead, "_type__in": f"Note,{other_type['id']}"},
            [note["id"], theirs["id"]],
        ),
    ]
    for path, params, expected in cases:
        found = api.ok("GET", path, params=params)
        assert [a["id"] for a in found["data"]] == expected, (path, params)
    response = api.get("activity/custom/", params={"custom_activity_type_id": setup["type"]})
    assert response.status_code == 400
    assert api.get("activity/", params={"_type": "Custom"}).status_code == 400


def test_it_hides_custom_activities_of_other_organizations(
    api: Api, other: Api, setup: dict[str, Any]
) -> None:
    body = {"lead_id": setup["lead"], "custom_activity_type_id": setup["type"], "status": "draft"}
    created = api.ok("POST", "activity/custom/", body)
    assert other.get(f"activity/custom/{created['id']}/").status_code == 404
    other_lead = _lead(other)
    response = other.post(
        "activity/custom/",
        {"lead_id": other_lead, "custom_activity_type_id": setup["type"], "status": "draft"},
    )
    assert response.status_code == 400
    assert "custom_activity_type_id" in response.json()["field-errors"]
