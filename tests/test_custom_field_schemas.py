"""Custom field schemas (/custom_field_schema/...) and shared custom fields with associations."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api

FIXED = [("lead", "Lead"), ("contact", "Contact"), ("opportunity", "Opportunity")]
NOT_IN_SCHEMA = "is not a field of this schema."


def _actitype(api: Api, name: str = "Demo review") -> str:
    response = api.post("custom_activity/", {"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _field(api: Api, kind: str, **body: Any) -> str:
    body.setdefault("name", f"{kind} field")
    body.setdefault("type", "text")
    return str(api.ok("POST", f"custom_field/{kind}/", body)["id"])


def _shared(api: Api, *targets: dict[str, Any], **body: Any) -> str:
    field_id = _field(api, "shared", **body)
    for target in targets:
        response = api.post(f"custom_field/shared/{field_id}/association/", target)
        assert response.status_code == 201, response.text
    return field_id


def _ids(schema: dict[str, Any]) -> list[str]:
    return [f["id"] for f in schema["fields"]]


# --- schemas -------------------------------------------------------------------------------


@pytest.mark.parametrize(("object_type", "name"), FIXED)
def test_a_new_organization_has_empty_schemas(api: Api, object_type: str, name: str) -> None:
    assert api.ok("GET", f"custom_field_schema/{object_type}/") == {
        "object_type": object_type,
        "name": name,
        "organization_id": api.org_id,
        "fields": [],
    }


def test_a_schema_holds_regular_and_shared_fields_in_display_order(api: Api) -> None:
    first = _field(api, "lead", name="Source")
    shared = _shared(api, {"object_type": "lead"}, {"object_type": "contact"}, name="Owner")
    last = _field(api, "lead", name="Tier")
    on_contacts = _field(api, "contact", name="Not on leads")
    schema = api.ok("GET", "custom_field_schema/lead/")
    assert _ids(schema) == [first, shared, last]
    regular, owner = schema["fields"][0], schema["fields"][1]
    # A regular field is its normal object; a shared one carries every association.
    assert regular == api.ok("GET", f"custom_field/lead/{first}/")
    assert "associations" not in regular
    assert owner == api.ok("GET", f"custom_field/shared/{shared}/")
    assert owner["associations"] == [
        {"object_type": "lead", "editable_with_roles": [], "required": False},
        {"object_type": "contact", "editable_with_roles": [], "required": False},
    ]
    assert _ids(api.ok("GET", "custom_field_schema/contact/")) == [shared, on_contacts]


def test_put_reorders_and_appends_the_ids_left_out(api: Api) -> None:
    a, b, c = (_field(api, "lead", name=n) for n in "ABC")
    s = _shared(api, {"object_type": "lead"})
    body = {"fields": [{"id": s}, {"id": b}, {"id": s}]}  # a repeated id counts once
    put = api.ok("PUT", "custom_field_schema/lead/", body)
    assert _ids(put) == [s, b, a, c]
    assert _ids(api.ok("GET", "custom_field_schema/lead/")) == [s, b, a, c]
    # The kind's own list follows the display order; new fields go last.
    listed = api.ok("GET", "custom_field/lead/")["data"]
    assert [f["id"] for f in listed] == [b, a, c]
    d = _field(api, "lead", name="D")
    assert _ids(api.ok("GET", "custom_field_schema/lead/")) == [s, b, a, c, d]
    # Reordering changes no field.
    assert put["fields"][1] == api.ok("GET", f"custom_field/lead/{b}/")


@pytest.mark.parametrize(
    ("body", "field_error"),
    [
        ({}, "This field is required."),
        ({"fields": None}, "This field may not be null."),
        ({"fields": "cf_x"}, "Not a valid list."),
        ({"fields": ["cf_x"]}, "Not a valid list of objects."),
        ({"fields": [{}]}, 'Each item needs an "id".'),
        ({"fields": [{"name": "Source"}]}, 'Each item needs an "id".'),
        ({"fields": [{"id": "cf_unknown"}]}, f"'cf_unknown' {NOT_IN_SCHEMA}"),
        ({"fields": [{"id": "CONTACT"}]}, f"'CONTACT' {NOT_IN_SCHEMA}"),
        ({"fields": [{"id": "UNASSOCIATED"}]}, f"'UNASSOCIATED' {NOT_IN_SCHEMA}"),
        ({"fields": [{"id": "OTHER_ORG"}]}, f"'OTHER_ORG' {NOT_IN_SCHEMA}"),
    ],
)
def test_put_refuses_ids_the_schema_lacks(
    api: Api, other: Api, body: dict[str, Any], field_error: str
) -> None:
    own = _field(api, "lead")
    names = {
        "CONTACT": _field(api, "contact"),
        "UNASSOCIATED": _shared(api, {"object_type": "contact"}),
        "OTHER_ORG": _field(other, "lead"),
    }
    for placeholder, real in names.items():
        body = _replace(body, placeholder, real)
        field_error = field_error.replace(placeholder, real)
    before = api.ok("GET", "custom_field_schema/lead/")
    response = api.put("custom_field_schema/lead/", body)
    assert response.status_code == 400, response.text
    assert response.json() == {"errors": [], "field-errors": {"fields": field_error}}
    assert api.ok("GET", "custom_field_schema/lead/") == before
    assert _ids(before) == [own]


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return new if value == old else value
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "error"),
    [
        ("GET", "custom_field_schema/custom_object/cotype_x/", None),
        ("GET", "custom_field_schema/task/", None),
        ("GET", "custom_field_schema/activity/actitype_nope/", "CustomActivityType"),
        ("PUT", "custom_field_schema/activity/actitype_nope/", "CustomActivityType"),
        ("GET", "custom_field_schema/activity/OTHER/", "CustomActivityType"),
        ("PUT", "custom_field_schema/activity/OTHER/", "CustomActivityType"),
    ],
)
def test_unknown_object_types_are_404(
    api: Api, other: Api, method: str, path: str, error: str | None
) -> None:
    path = path.replace("OTHER", _actitype(other))
    response = api.request(method, path, json={"fields": []})
    assert response.status_code == 404, response.text
    if error:
        assert response.json() == {"error": f"Empty query: {error} matching query does not exist."}


def test_an_activity_types_schema_holds_its_fields_and_shared_ones(api: Api) -> None:
    type_id = _actitype(api, "Demo review")
    other_type = _actitype(api, "Other")
    own = _field(api, "activity", custom_activity_type_id=type_id, required=True)
    _field(api, "activity", custom_activity_type_id=other_type)
    target = {"object_type": "custom_activity_type", "custom_activity_type_id": type_id}
    shared = _shared(api, {**target, "required": True}, {"object_type": "lead"})
    path = f"custom_field_schema/activity/{type_id}/"
    schema = api.ok("GET", path)
    assert (schema["object_type"], schema["name"]) == (f"activity/{type_id}", "Demo review")
    assert _ids(schema) == [own, shared]
    assert [f["required"] for f in schema["fields"]] == [True, True]
    assert schema["fields"][1]["associations"][0] == {
        **target,
        "editable_with_roles": [],
        "required": True,
    }
    # The lead schema shows the same shared field with its lead association (not required).
    assert "required" not in api.ok("GET", "custom_field_schema/lead/")["fields"][0]
    assert _ids(api.ok("PUT", path, {"fields": [{"id": shared}]})) == [shared, own]
    # The type's own field list follows the schema's order (and a type PUT the other way).
    assert [f["id"] for f in api.ok("GET", f"custom_activity/{type_id}/")["fields"]] == [own]
    api.ok("PUT", f"custom_activity/{type_id}/", {"fields": [{"id": own}]})
    assert _ids(api.ok("GET", path)) == [own, shared]


# --- shared custom fields and their associations -------------------------------------------


def test_shared_fields_are_a_custom_field_kind(api: Api) -> None:
    assert api.ok("GET", "custom_field/shared/") == {"data": [], "has_more": False}
    created = api.ok("POST", "custom_field/shared/", {"name": "Owner", "type": "user"})
    assert created["id"].startswith("cf_")
    assert created["associations"] == []
    assert "custom_activity_type_id" not in created
    path = f"custom_field/shared/{created['id']}/"
    assert api.ok("GET", path) == created
    assert api.ok("GET", f"custom_fields/shared/{created['id']}/") == created
    assert api.ok("GET", "custom_field/shared/")["data"] == [created]
    # Shared fields are listed under shared only, never as a kind's own fields.
    assert api.get(f"custom_field/lead/{created['id']}/").status_code == 404
    renamed = api.ok("PUT", path, {"name": "Account owner", "type": "user"})
    assert renamed["name"] == "Account owner"
    bad = api.put(path, {"type": "text"})
    assert bad.status_code == 400
    assert bad.json()["field-errors"] == {"type": "The type of a custom field cannot be changed."}
    assert api.ok("DELETE", path) == {}
    assert api.get(path).status_code == 404


def test_an_association_is_read_updated_and_deleted_by_its_object_type(api: Api) -> None:
    type_id = _actitype(api)
    field_id = _field(api, "shared")
    base = f"custom_field/shared/{field_id}/association/"
    created = api.post(base, {"object_type": "lead", "editable_with_roles": ["admin"]})
    assert created.status_code == 201, created.text
    assert created.json() == {
        "object_type": "lead",
        "editable_with_roles": ["admin"],
        "required": False,
    }
    on_type = {"object_type": "custom_activity_type", "custom_activity_type_id": type_id}
    assert api.post(base, {**on_type, "required": True}).status_code == 201
    assert api.ok("GET", f"{base}lead/") == created.json()
    typed = f"{base}custom_activity_type/{type_id}/"
    assert api.ok("GET", typed) == {**on_type, "editable_with_roles": [], "required": True}
    changed = api.ok("PUT", typed, {"required": False, "object_type": "lead"})
    assert changed == {**on_type, "editable_with_roles": [], "required": False}
    field = api.ok("GET", f"custom_field/shared/{field_id}/")
    assert [a["object_type"] for a in field["associations"]] == ["lead", "custom_activity_type"]
    assert api.ok("DELETE", f"{base}lead/") == {}
    assert api.get(f"{base}lead/").status_code == 404
    assert _ids(api.ok("GET", "custom_field_schema/lead/")) == []
    # One update event per association change (2 created, 1 changed, 1 deleted).
    for action, count in (("created", 1), ("updated", 4)):
        params = {"object_id": field_id, "action": action}
        events = api.ok("GET", "event/", params=params)["data"]
        assert [e["object_type"] for e in events] == ["custom_fields.shared"] * count


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({}, 400, {"field-errors": {"object_type": "This field is required."}}),
        (
            {"object_type": "custom_object_type"},
            400,
            {
                "field-errors": {
                    "object_type": "Not a valid choice. Valid choices are: lead, contact, "
                    "opportunity, custom_activity_type."
                }
            },
        ),
        (
            {"object_type": "custom_activity_type"},
            400,
            {"field-errors": {"custom_activity_type_id": "This field is required."}},
        ),
        (
            {"object_type": "custom_activity_type", "custom_activity_type_id": "actitype_nope"},
            400,
            {"field-errors": {"custom_activity_type_id": "Object does not exist."}},
        ),
        (
            {"object_type": "custom_activity_type", "custom_activity_type_id": "OTHER_TYPE"},
            400,
            {"field-errors": {"custom_activity_type_id": "Object does not exist."}},
        ),
        (
            {"object_type": "lead", "custom_activity_type_id": "OWN_TYPE"},
            400,
            {
                "field-errors": {
                    "custom_activity_type_id": "custom_activity_type_id can only be used "
                    "together with object_type custom_activity_type."
                }
            },
        ),
        (
            {"object_type": "contact"},
            400,
            {"errors": ["This field is already associated with contact."]},
        ),
        ({"object_type": "lead", "required": "yes"}, 400, {"field-errors": {"required": None}}),
    ],
)
def test_it_refuses_bad_associations(
    api: Api, other: Api, body: dict[str, Any], status: int, answer: dict[str, Any]
) -> None:
    field_id = _shared(api, {"object_type": "contact"})
    body = _replace(_replace(body, "OWN_TYPE", _actitype(api)), "OTHER_TYPE", _actitype(other))
    response = api.post(f"custom_field/shared/{field_id}/association/", body)
    assert response.status_code == status, response.text
    got = response.json()
    assert got.get("errors", []) == answer.get("errors", [])
    expected = answer.get("field-errors", {})
    assert set(got["field-errors"]) == set(expected)
    for key, message in expected.items():
        assert message is None or got["field-errors"][key] == message
    assert len(api.ok("GET", f"custom_field/shared/{field_id}/")["associations"]) == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", "association/"),
        ("GET", "association/lead/"),
        ("PUT", "association/lead/"),
        ("DELETE", "association/lead/"),
        ("GET", "association/contact/"),  # not associated
        ("GET", "association/custom_object_type/"),
        ("GET", "association/custom_activity_type/"),
        ("GET", "association/custom_activity_type/actitype_nope/"),
    ],
)
def test_another_organizations_shared_field_is_404(
    api: Api, other: Api, method: str, suffix: str
) -> None:
    field_id = _shared(api, {"object_type": "lead"})
    response = other.request(
        method, f"custom_field/shared/{field_id}/{suffix}", json={"object_type": "contact"}
    )
    assert response.status_code == 404, response.text
    if method != "POST" and suffix != "association/lead/":
        own = api.request(method, f"custom_field/shared/{field_id}/{suffix}")
        assert own.status_code == 404, own.text
    assert len(api.ok("GET", f"custom_field/shared/{field_id}/")["associations"]) == 1


# --- values of shared fields on the objects they are associated with ----------------------

VALUE_CASES = [
    ("lead", lambda api, lead: f"lead/{lead['id']}/"),
    ("contact", lambda api, lead: f"contact/{lead['contacts'][0]['id']}/"),
    (
        "opportunity",
        lambda api, lead: f"opportunity/{factories.opportunity(api, lead['id'])['id']}/",
    ),
]


@pytest.mark.parametrize(("object_type", "path_of"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_shared_values_work_like_regular_ones(api: Api, object_type: str, path_of: Any) -> None:
    field_id = _shared(api, name="Seats", type="number")
    lead = factories.lead(api, contacts=[{"name": "Ann"}])
    path = path_of(api, lead)
    key = f"custom.{field_id}"
    # Not associated yet: as unknown as any other field.
    refused = api.put(path, {key: 3})
    assert refused.status_code == 400, refused.text
    assert list(refused.json()["field-errors"]) == [key]
    association = api.post(
        f"custom_field/shared/{field_id}/association/", {"object_type": object_type}
    )
    assert association.status_code == 201
    assert api.ok("PUT", path, {key: "3"})[key] == 3
    assert api.ok("GET", path)[key] == 3
    assert api.ok("PUT", path, {"custom.Seats": 4})[key] == 4  # by name, too
    bad = api.put(path, {key: "many"})
    assert bad.json()["field-errors"] == {key: "Not a valid number."}
    assert api.ok("PUT", path, {key: None}).get(key) is None
    api.ok("PUT", path, {key: 5})
    # Dissociating drops the values there (Close: "permanently deleted").
    api.ok("DELETE", f"custom_field/shared/{field_id}/association/{object_type}/")
    assert key not in api.ok("GET", path)
    assert api.put(path, {key: 5}).status_code == 400


def test_a_shared_field_holds_values_on_custom_activities_and_can_be_required(api: Api) -> None:
    type_id = _actitype(api)
    field_id = _shared(
        api,
        {
            "object_type": "custom_activity_type",
            "custom_activity_type_id": type_id,
            "required": True,
        },
        {"object_type": "lead"},
        name="Rating",
        type="choices",
        choices=["good", "bad"],
    )
    lead = factories.lead(api)
    key = f"custom.{field_id}"
    base = {"lead_id": lead["id"], "custom_activity_type_id": type_id}
    missing = api.post("activity/custom/", base)
    assert missing.status_code == 400
    assert missing.json()["field-errors"] == {key: "This field is required."}
    created = api.ok("POST", "activity/custom/", {**base, key: "good"})
    assert created[key] == "good"
    draft = api.ok("POST", "activity/custom/", {**base, "status": "draft"})
    assert key not in draft
    api.ok("PUT", f"lead/{lead['id']}/", {key: "bad"})
    # Deleting the shared field removes its values on every associated object type.
    api.ok("DELETE", f"custom_field/shared/{field_id}/")
    assert key not in api.ok("GET", f"activity/custom/{created['id']}/")
    assert key not in api.ok("GET", f"lead/{lead['id']}/")
    assert api.ok("GET", "custom_field_schema/lead/")["fields"] == []


def test_another_organizations_shared_field_is_unknown_on_its_objects(api: Api, other: Api) -> None:
    field_id = _shared(api, {"object_type": "lead"})
    lead = factories.lead(other)
    response = other.put(f"lead/{lead['id']}/", {f"custom.{field_id}": "x"})
    assert response.status_code == 400
    assert response.json()["field-errors"] == {f"custom.{field_id}": "Unknown lead custom field."}
    put = other.put("custom_field_schema/lead/", {"fields": [{"id": field_id}]})
    assert put.status_code == 400
    assert other.ok("GET", "custom_field_schema/lead/")["fields"] == []


def test_deleting_a_custom_activity_type_drops_its_associations(api: Api) -> None:
    type_id = _actitype(api)
    target = {"object_type": "custom_activity_type", "custom_activity_type_id": type_id}
    field_id = _shared(api, target, {"object_type": "lead"})
    assert api.delete(f"custom_activity/{type_id}/").status_code == 204
    field = api.ok("GET", f"custom_field/shared/{field_id}/")
    assert [a["object_type"] for a in field["associations"]] == ["lead"]


def test_calls_take_no_custom_values(api: Api) -> None:
    """No field kind or association targets calls (Close: leads, contacts, opportunities and
    custom activities), so the ``custom.`` keys its call schema allows name no field."""
    field_id = _shared(api, {"object_type": "lead"})
    lead = factories.lead(api)
    call = api.ok("POST", "activity/call/", {"lead_id": lead["id"], f"custom.{field_id}": "x"})
    assert not [k for k in call if k.startswith("custom")]
