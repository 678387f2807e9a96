"""Custom field definitions (/custom_field/...) and typed custom.cf_ values on leads/contacts."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api

OBJECT_TYPES = ["lead", "contact", "opportunity", "activity"]


def _actitype(api: Api, name: str = "Meeting notes") -> str:
    response = api.post("custom_activity/", {"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _field(api: Api, object_type: str, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Field")
    body.setdefault("type", "text")
    if object_type == "activity":
        body.setdefault("custom_activity_type_id", _actitype(api))
    return dict(api.ok("POST", f"custom_field/{object_type}/", body))


def _lead(api: Api, **body: Any) -> dict[str, Any]:
    return factories.lead(api, **body)


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
@pytest.mark.parametrize("base", ["custom_field", "custom_fields", "/custom_field"])
def test_it_lists_no_fields_for_a_new_organization(api: Api, base: str, object_type: str) -> None:
    assert api.ok("GET", f"{base}/{object_type}/") == {"data": [], "has_more": False}


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_it_creates_reads_updates_and_deletes_a_field(api: Api, object_type: str) -> None:
    created = _field(api, object_type, name="Source", description="Where from")
    assert created["id"].startswith("cf_")
    assert created["name"] == "Source"
    assert created["type"] == "text"
    assert created["choices"] is None
    assert created["accepts_multiple_values"] is False
    assert created["editable_with_roles"] == []
    assert created["organization_id"] == api.org_id
    assert created["created_by"] == api.user_id
    assert ("required" in created) is (object_type == "activity")
    path = f"custom_field/{object_type}/{created['id']}/"
    assert api.ok("GET", path) == created
    # The legacy plural path is the same resource.
    assert api.ok("GET", f"custom_fields/{object_type}/{created['id']}/") == created
    listed = api.ok("GET", f"custom_field/{object_type}/")
    assert listed == {"data": [created], "has_more": False}
    updated = api.ok("PUT", path, {"name": "Lead source", "description": None})
    assert (updated["name"], updated["description"]) == ("Lead source", None)
    assert api.ok("DELETE", path) == {}
    assert api.get(path).status_code == 404
    assert api.ok("GET", f"custom_field/{object_type}/")["data"] == []


def test_it_keeps_each_object_types_fields_apart(api: Api) -> None:
    lead_field = _field(api, "lead")
    assert api.ok("GET", "custom_field/contact/")["data"] == []
    assert api.get(f"custom_field/contact/{lead_field['id']}/").status_code == 404


def test_it_pages_fields_in_creation_order(api: Api) -> None:
    ids = [_field(api, "lead", name=f"F{i}")["id"] for i in range(3)]
    first = api.ok("GET", "custom_field/lead/", params={"_limit": 2})
    assert [f["id"] for f in first["data"]] == ids[:2]
    assert first["has_more"] is True
    rest = api.ok("GET", "custom_field/lead/", params={"_limit": 2, "_skip": 2})
    assert [f["id"] for f in rest["data"]] == ids[2:]
    assert rest["has_more"] is False
    projected = api.ok("GET", "custom_field/lead/", params={"_fields": "id,name"})
    assert projected["data"][0] == {"id": ids[0], "name": "F0"}


@pytest.mark.parametrize(
    ("object_type", "body", "errors"),
    [
        ("lead", {"type": "text"}, {"name": "This field is required."}),
        ("lead", {"name": "X"}, {"type": "This field is required."}),
        ("lead", {"name": "X", "type": "float"}, {"type": "Not a valid choice."}),
        ("lead", {"name": "X", "type": "textarea"}, {"type": "custom activities"}),
        ("lead", {"name": "X", "type": "choices"}, {"choices": "at least one choice"}),
        ("lead", {"name": "X", "type": "choices", "choices": ["a", "a"]}, {"choices": "unique"}),
        ("lead", {"name": "X", "type": "text", "choices": ["a"]}, {"choices": "Only choices"}),
        (
            "contact",
            {"name": "X", "type": "text", "accepts_multiple_values": True},
            {"accepts_multiple_values": "Only user, choices and contact"},
        ),
        ("lead", {"name": "X", "type": "text", "description": "d" * 281}, {"description": "long"}),
        ("lead", {"name": None, "type": "text"}, {"name": "may not be null"}),
        ("lead", {"name": "", "type": "text"}, {"name": "may not be blank"}),
        ("activity", {"name": "X", "type": "text"}, {"custom_activity_type_id": "required"}),
        (
            "activity",
            {"name": "X", "type": "text", "custom_activity_type_id": "actitype_nope"},
            {"custom_activity_type_id": "Object does not exist."},
        ),
    ],
)
def test_it_rejects_bad_definitions(
    api: Api, object_type: str, body: dict[str, Any], errors: dict[str, str]
) -> None:
    response = api.post(f"custom_field/{object_type}/", body)
    assert response.status_code == 400, response.text
    field_errors = response.json()["field-errors"]
    assert set(field_errors) == set(errors)
    for key, fragment in errors.items():
        assert fragment in field_errors[key]
    assert api.ok("GET", f"custom_field/{object_type}/")["data"] == []


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"type": "number"}, "type"),
        ({"custom_activity_type_id": "actitype_other"}, "custom_activity_type_id"),
    ],
)
def test_it_keeps_type_and_activity_type_fixed(api: Api, body: dict[str, Any], key: str) -> None:
    created = _field(api, "activity")
    response = api.put(f"custom_field/activity/{created['id']}/", body)
    assert response.status_code == 400
    assert key in response.json()["field-errors"]
    # Re-posting the same values (an exported object) is fine.
    same = {"type": "text", "custom_activity_type_id": created["custom_activity_type_id"]}
    assert api.ok("PUT", f"custom_field/activity/{created['id']}/", same)["type"] == "text"


def test_it_hides_fields_of_other_organizations(api: Api, other: Api) -> None:
    created = _field(api, "lead")
    assert other.get(f"custom_field/lead/{created['id']}/").status_code == 404
    assert other.put(f"custom_field/lead/{created['id']}/", {"name": "x"}).status_code == 404
    assert other.delete(f"custom_field/lead/{created['id']}/").status_code == 404
    assert other.ok("GET", "custom_field/lead/")["data"] == []


# --- typed values -------------------------------------------------------------------------

CHOICES = {"type": "choices", "choices": ["Gold", "Silver"]}


@pytest.mark.parametrize(
    ("definition", "value", "stored"),
    [
        ({"type": "text"}, "hello", "hello"),
        ({"type": "text"}, 42, "42"),
        ({"type": "number"}, 12, 12),
        ({"type": "number"}, 2.5, 2.5),
        ({"type": "number"}, "7", 7),
        ({"type": "date"}, "2024-03-03", "2024-03-03"),
        ({"type": "date"}, "2024-03-03T10:00:00", "2024-03-03"),
        ({"type": "datetime"}, "2024-03-03T10:00:00Z", "2024-03-03T10:00:00.000000+00:00"),
        ({"type": "datetime"}, "2024-03-03T12:00:00+02:00", "2024-03-03T10:00:00.000000+00:00"),
        (CHOICES, "Gold", "Gold"),
        ({**CHOICES, "accepts_multiple_values": True}, ["Gold", "Silver"], ["Gold", "Silver"]),
        ({**CHOICES, "accepts_multiple_values": True}, "Gold", ["Gold"]),
        ({**CHOICES, "accepts_multiple_values": True}, ["Gold", "Gold"], ["Gold"]),
        ({"type": "hidden"}, "secret", "secret"),
    ],
)
def test_it_types_values_by_field_type(
    api: Api, definition: dict[str, Any], value: Any, stored: Any
) -> None:
    field = _field(api, "lead", **definition)
    key = f"custom.{field['id']}"
    lead = _lead(api, **{key: value})
    assert lead[key] == stored
    assert api.ok("GET", f"lead/{lead['id']}/")[key] == stored


@pytest.mark.parametrize(
    ("definition", "value", "fragment"),
    [
        ({"type": "number"}, "many", "Not a valid number."),
        ({"type": "number"}, True, "Not a valid number."),
        ({"type": "date"}, "03/03/2024", "YYYY-MM-DD"),
        ({"type": "date"}, 20240303, "YYYY-MM-DD"),
        ({"type": "datetime"}, "yesterday", "Not a valid datetime."),
        (CHOICES, "Bronze", "not one of the field's choices"),
        (CHOICES, ["Gold"], "single value"),
        ({"type": "user"}, "user_nobody", "not a user of this organization"),
        ({"type": "contact"}, "cont_nobody", "not a contact of this organization"),
        ({"type": "text"}, {"a": 1}, "Not a valid value"),
        ({"type": "text"}, True, "Not a valid string."),
    ],
)
def test_it_rejects_badly_typed_values(
    api: Api, definition: dict[str, Any], value: Any, fragment: str
) -> None:
    field = _field(api, "lead", **definition)
    key = f"custom.{field['id']}"
    response = api.post("lead/", {"name": "Bad", key: value})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["field-errors"][key]
    assert api.ok("GET", "lead/")["data"] == []


@pytest.mark.parametrize("object_type", ["lead", "contact"])
def test_it_rejects_unknown_custom_field_ids(api: Api, object_type: str) -> None:
    other_type = _field(api, "contact" if object_type == "lead" else "lead")
    body: dict[str, Any] = {"name": "X", "custom.cf_missing": 1}
    body[f"custom.{other_type['id']}"] = "x"
    response = api.post(f"{object_type}/", body)
    assert response.status_code == 400
    errors = response.json()["field-errors"]
    assert set(errors) == {"custom.cf_missing", f"custom.{other_type['id']}"}


def test_it_accepts_a_users_id_or_exact_name_and_stores_the_id(api: Api) -> None:
    field = _field(api, "lead", type="user")
    key = f"custom.{field['id']}"
    assert _lead(api, **{key: api.user_id})[key] == api.user_id
    assert _lead(api, **{key: "Bruce Wayne"})[key] == api.user_id


def test_it_only_accepts_contacts_of_the_organization(api: Api, other: Api) -> None:
    field = _field(api, "lead", type="contact", accepts_multiple_values=True)
    key = f"custom.{field['id']}"
    lead = _lead(api, contacts=[{"name": "Alfred"}])
    contact_id = lead["contacts"][0]["id"]
    updated = api.ok("PUT", f"lead/{lead['id']}/", {key: [contact_id]})
    assert updated[key] == [contact_id]
    foreign = other.ok("POST", "contact/", {"name": "Hans"})["id"]
    response = api.put(f"lead/{lead['id']}/", {key: [contact_id, foreign]})
    assert response.status_code == 400
    assert api.ok("GET", f"lead/{lead['id']}/")[key] == [contact_id]


@pytest.mark.parametrize(
    ("start", "body", "expected"),
    [
        (["Gold"], {"": None}, None),
        (["Gold"], {"": []}, None),
        (["Gold"], {".add": "Silver"}, ["Gold", "Silver"]),
        (["Gold"], {".add": ["Gold", "Silver"]}, ["Gold", "Silver"]),
        (None, {".add": "Silver"}, ["Silver"]),
        (["Gold", "Silver"], {".remove": "Gold"}, ["Silver"]),
        (["Gold"], {".remove": "Gold"}, None),
        (["Gold"], {".remove": "Retired"}, ["Gold"]),
        (["Gold"], {"": ["Silver"]}, ["Silver"]),
    ],
)
def test_it_edits_multi_value_fields_on_update(
    api: Api, start: Any, body: dict[str, Any], expected: Any
) -> None:
    field = _field(api, "lead", **CHOICES, accepts_multiple_values=True)
    key = f"custom.{field['id']}"
    lead = _lead(api, **({key: start} if start else {}))
    sent = {f"{key}{suffix}": value for suffix, value in body.items()}
    updated = api.ok("PUT", f"lead/{lead['id']}/", sent)
    assert updated.get(key) == expected
    assert api.ok("GET", f"lead/{lead['id']}/").get(key) == expected


@pytest.mark.parametrize(
    ("suffix", "value", "fragment"),
    [(".add", "x", "multiple values"), (".remove", "x", "multiple values")],
)
def test_it_rejects_add_and_remove_on_single_value_fields(
    api: Api, suffix: str, value: Any, fragment: str
) -> None:
    field = _field(api, "lead", type="text")
    key = f"custom.{field['id']}"
    lead = _lead(api, **{key: "before"})
    response = api.put(f"lead/{lead['id']}/", {key + suffix: value})
    assert response.status_code == 400
    assert fragment in response.json()["field-errors"][key + suffix]
    assert api.ok("GET", f"lead/{lead['id']}/")[key] == "before"


def test_it_clears_a_value_with_null_and_omits_it(api: Api) -> None:
    field = _field(api, "contact", type="number")
    key = f"custom.{field['id']}"
    contact = api.ok("POST", "contact/", {"name": "Lucius", key: 3})
    assert contact[key] == 3
    cleared = api.ok("PUT", f"contact/{contact['id']}/", {key: None})
    assert key not in cleared
    assert key not in api.ok("GET", f"contact/{contact['id']}/")


def test_it_writes_nested_contacts_custom_values(api: Api) -> None:
    field = _field(api, "contact", **CHOICES, accepts_multiple_values=True)
    key = f"custom.{field['id']}"
    lead = _lead(api, contacts=[{"name": "Alfred", f"{key}.add": "Gold"}])
    assert lead["contacts"][0][key] == ["Gold"]


def test_it_removes_a_deleted_fields_values_everywhere(api: Api) -> None:
    lead_field = _field(api, "lead", name="Tier")
    keep = _field(api, "lead", name="Keep")
    contact_field = _field(api, "contact", name="Role")
    lk, kk, ck = (f"custom.{f['id']}" for f in (lead_field, keep, contact_field))
    lead = _lead(api, **{lk: "A", kk: "B"}, contacts=[{"name": "Alfred", ck: "Butler"}])
    api.ok("DELETE", f"custom_field/lead/{lead_field['id']}/")
    api.ok("DELETE", f"custom_field/contact/{contact_field['id']}/")
    after = api.ok("GET", f"lead/{lead['id']}/")
    assert lk not in after
    assert after[kk] == "B"
    assert ck not in after["contacts"][0]
    # A new field never sees an old value.
    response = api.put(f"lead/{lead['id']}/", {lk: "again"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("multiple", "before", "after"),
    [(True, "Gold", ["Gold"]), (False, ["Silver", "Gold"], "Silver")],
)
def test_it_reshapes_values_when_multiple_values_is_switched(
    api: Api, multiple: bool, before: Any, after: Any
) -> None:
    field = _field(api, "lead", **CHOICES, accepts_multiple_values=not multiple)
    key = f"custom.{field['id']}"
    lead = _lead(api, **{key: before})
    api.ok("PUT", f"custom_field/lead/{field['id']}/", {"accepts_multiple_values": multiple})
    assert api.ok("GET", f"lead/{lead['id']}/")[key] == after


def test_it_resolves_a_field_by_its_exact_name(api: Api) -> None:
    field = _field(api, "lead", name="Industry")
    lead = _lead(api, **{"custom.Industry": "Defense"})
    assert lead[f"custom.{field['id']}"] == "Defense"
    assert "custom.Industry" not in lead


def test_it_logs_custom_field_events(api: Api, app: Any) -> None:
    from sqlalchemy import select

    from crmapi.storage import tables as t

    field = _field(api, "lead")
    api.ok("PUT", f"custom_field/lead/{field['id']}/", {"name": "Renamed"})
    api.ok("DELETE", f"custom_field/lead/{field['id']}/")
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_type, t.event.c.action)
            .where(t.event.c.object_id == field["id"])
            .order_by(t.event.c.date_created)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("custom_fields.lead", "created"),
        ("custom_fields.lead", "updated"),
        ("custom_fields.lead", "deleted"),
    ]


def test_it_removes_a_deleted_fields_values_from_opportunities(api: Api, app: Any) -> None:
    from sqlalchemy import insert, select

    from crmapi.storage import tables as t
    from crmapi.util import dates

    field = _field(api, "opportunity", name="Deal source")
    keep = _field(api, "opportunity", name="Keep")
    lead = _lead(api)
    status_id = api.ok("GET", "status/opportunity/")["data"][0]["id"]
    now = dates.now()
    custom = {field["id"]: "Referral", keep["id"]: "yes"}
    with app.state.db.write() as conn:
        conn.execute(
            insert(t.opportunity).values(
                id="oppo_1",
                organization_id=api.org_id,
                lead_id=lead["id"],
                status_id=status_id,
                custom=custom,
                date_created=now,
                date_updated=now,
            )
        )
    api.ok("DELETE", f"custom_field/opportunity/{field['id']}/")
    with app.state.db.read() as conn:
        stored = conn.execute(
            select(t.opportunity.c.custom).where(t.opportunity.c.id == "oppo_1")
        ).scalar()
    assert stored == {keep["id"]: "yes"}
