"""The configuration objects Airbyte lists (more.md §8): list, get, filters, 404, tenancy, the
writes Close's API has (Send As, integration links), as tables of request -> expected."""

from typing import Any

import pytest

from crmapi.resources import (
    accounts,
    connected_accounts,
    dialers,
    groups,
    phone_numbers,
    roles,
    send_as,
)
from tests.conftest import Api

NOT_FOUND = "Empty query: {} matching query does not exist."


class World:
    """One organization with a second member and one or more objects of each kind."""

    def __init__(self, app: Any, api: Api) -> None:
        self.api = api
        with app.state.db.write() as conn:
            org, me = api.org_id, api.user_id
            self.member = accounts.add_user(conn, org, "ann@acme.example", "Ann", "Lee")["user_id"]
            self.ids = {
                "google": connected_accounts.add(conn, org, me, "google", "b@acme.example"),
                "zoom": connected_accounts.add(conn, org, self.member, "zoom", "a@acme.example"),
                "role": roles.add(conn, org, "Closer", ["calling"]),
                "group": groups.add(conn, org, "Sales", [me, self.member]),
                "personal": phone_numbers.add(conn, org, "+16503335555", me, "Mine"),
                "shared": phone_numbers.add(
                    conn, org, "+16503335556", None, "Team", participants=[self.member]
                ),
                "dialer": dialers.add(conn, org, me, "save_abc", "predictive"),
                "mine": send_as.add(conn, org, me, self.member),
                "theirs": send_as.add(conn, org, self.member, me),
            }

    def ids_of(self, path: str, **params: str) -> list[str]:
        return [o["id"] for o in self.api.ok("GET", path, params=params)["data"]]


@pytest.fixture
def world(app: Any, api: Api) -> World:
    return World(app, api)


# path, params -> the objects listed (names from World.ids; roles also list the built-ins).
LISTS = [
    ("connected_account/", {}, ["google", "zoom"]),
    ("connected_account/", {"_type": "google"}, ["google"]),
    ("connected_account/", {"_type": "zoom"}, ["zoom"]),
    ("connected_account/", {"_type": "custom_email"}, []),
    ("connected_account/", {"user_id": "$me"}, ["google"]),
    ("phone_number/", {}, ["personal", "shared"]),
    ("phone_number/", {"number": "+16503335555"}, ["personal"]),
    ("phone_number/", {"number": "+1 650-333-5556"}, ["shared"]),
    ("phone_number/", {"number": "+15550000000"}, []),
    ("phone_number/", {"is_group_number": "true"}, ["shared"]),
    ("phone_number/", {"user_id": "$me"}, ["personal"]),
    ("phone_number/", {"participant_user_id": "$member"}, ["shared"]),
    ("phone_number/", {"participant_user_id": "$me"}, ["personal"]),
    ("dialer/", {}, ["dialer"]),
    ("dialer/", {"source_type": "saved-search", "source_value": "save_abc"}, ["dialer"]),
    ("dialer/", {"status__in": "active,paused"}, []),
    ("dialer/", {"status": "inactive", "user_id": "$member"}, []),
    ("group/", {}, ["group"]),
    ("send_as/", {}, ["mine"]),
    ("send_as/", {"allowing_user_id": "$me"}, ["mine"]),
    ("send_as/", {"allowed_user_id": "$me"}, ["theirs"]),
    ("send_as/", {"allowing_user_id": "$member", "allowed_user_id": "$me"}, ["theirs"]),
]


def _fill(world: World, params: dict[str, str]) -> dict[str, str]:
    who = {"$me": world.api.user_id, "$member": world.member}
    return {k: who.get(v, v) for k, v in params.items()}


@pytest.mark.parametrize(("path", "params", "expected"), LISTS)
def test_lists_and_their_filters(
    world: World, path: str, params: dict[str, str], expected: list[str]
) -> None:
    page = world.api.ok("GET", path, params=_fill(world, params))
    assert page["has_more"] is False
    assert sorted(o["id"] for o in page["data"]) == sorted(world.ids[n] for n in expected)


def test_roles_list_the_built_in_ones_first(world: World) -> None:
    listed = world.ids_of("role/")
    assert listed == [*roles.BUILT_IN, world.ids["role"]]
    assert world.ids_of("role/", _limit="2", _skip="3") == ["restricteduser", world.ids["role"]]
    admin = world.api.ok("GET", "role/admin/")
    assert admin["editable"] is False
    assert "manage_organization" in admin["permissions"]
    assert world.api.ok("GET", f"role/{world.ids['role']}/")["editable"] is True


# path of one object -> the keys Close's object carries (a subset is enough here).
SHAPES = [
    ("connected_account/{google}/", {"_type", "user_id", "email", "identities", "date_created"}),
    ("phone_number/{personal}/", {"number", "number_formatted", "is_group_number", "type"}),
    ("dialer/{dialer}/", {"type", "status", "source_type", "source_value", "users", "caller_id"}),
    ("send_as/{mine}/", {"organization_id", "allowing_user_id", "allowed_user_id"}),
    ("role/{role}/", {"name", "editable", "permissions", "visibility_user_lcf_ids"}),
    ("group/{group}/", {"name", "organization_id"}),
]


@pytest.mark.parametrize(("template", "keys"), SHAPES)
def test_get_renders_close_s_object(world: World, template: str, keys: set[str]) -> None:
    found = world.api.ok("GET", template.format(**world.ids))
    assert keys <= set(found)
    assert found["organization_id"] == world.api.org_id


def test_a_group_shows_its_members_only_when_asked(world: World) -> None:
    path = f"group/{world.ids['group']}/"
    assert "members" not in world.api.ok("GET", path)
    asked = world.api.ok("GET", path, params={"_fields": "name,members"})
    assert asked == {
        "name": "Sales",
        "members": [{"user_id": world.api.user_id}, {"user_id": world.member}],
    }


MODELS = [
    ("role/", "Role"),
    ("group/", "Group"),
    ("connected_account/", "ConnectedAccount"),
    ("send_as/", "SendAs"),
    ("integration_link/", "IntegrationLink"),
    ("phone_number/", "PhoneNumber"),
    ("dialer/", "Dialer"),
]


@pytest.mark.parametrize(("path", "model"), MODELS)
def test_an_unknown_id_is_close_s_404(api: Api, path: str, model: str) -> None:
    response = api.get(f"{path}nope_123/")
    assert response.status_code == 404
    assert response.json() == {"error": NOT_FOUND.format(model)}


TENANCY = ["google", "role", "group", "personal", "dialer", "mine"]


@pytest.mark.parametrize("name", TENANCY)
def test_another_organization_sees_none_of_them(world: World, other: Api, name: str) -> None:
    for path in ("connected_account/", "role/", "group/", "phone_number/", "dialer/", "send_as/"):
        listed = {o["id"] for o in other.ok("GET", path)["data"]}
        assert world.ids[name] not in listed
    paths = {
        "google": "connected_account",
        "role": "role",
        "group": "group",
        "personal": "phone_number",
        "dialer": "dialer",
        "mine": "send_as",
    }
    assert other.get(f"{paths[name]}/{world.ids[name]}/").status_code == 404
    # Built-in roles are the same everywhere: not one organization's data.
    assert other.get("role/admin/").status_code == 200


# Bad list parameters -> 400 on the parameter.
BAD_LISTS = [
    ("phone_number/", {"number": "call me"}, "number"),
    ("phone_number/", {"is_group_number": "maybe"}, "is_group_number"),
    ("dialer/", {"source_type": "list"}, "source_type"),
    ("user/", {"_limit": "1001"}, "_limit"),
    ("connected_account/", {"_limit": "101"}, "_limit"),
]


@pytest.mark.parametrize(("path", "params", "key"), BAD_LISTS)
def test_bad_list_parameters_are_400s(
    api: Api, path: str, params: dict[str, str], key: str
) -> None:
    response = api.get(path, params=params)
    assert response.status_code == 400
    assert key in response.json()["field-errors"]


# The page sizes Airbyte's streams ask for (clients.md §3, its source.py).
AIRBYTE_LIMITS = [
    "user?_limit=1000",
    "connected_account?_limit=100&_type=google",
    "integration_link?_limit=100",
    "phone_number?_limit=100",
    "send_as",
    "dialer",
    "role",
    "task?_limit=1000",
    "opportunity?_limit=250",
    "lead?_limit=200",
    "contact?_limit=100",
    "event?_limit=50",
]


@pytest.mark.parametrize("path", AIRBYTE_LIMITS)
def test_airbyte_page_sizes_are_accepted(api: Api, path: str) -> None:
    response = api.get(path, follow_redirects=True)
    assert response.status_code == 200, response.text


# Send As: the caller is always one side.
SEND_AS_REFUSED = [
    ({"allowing_user_id": "$member"}, 403),
    ({"allowed_user_id": "$member"}, 403),
    ({"allowing_user_id": "$member", "allowed_user_id": "$member"}, 403),
]


@pytest.mark.parametrize(("params", "status"), SEND_AS_REFUSED)
def test_send_as_lists_must_name_the_caller(
    world: World, params: dict[str, str], status: int
) -> None:
    response = world.api.get("send_as/", params=_fill(world, params))
    assert response.status_code == status
    assert response.json() == {"error": send_as.NOT_LISTED}


# body -> status, and the field-errors (or error) expected
SEND_AS_CREATES = [
    ({"allowed_user_id": "$member"}, 201, None),
    ({"allowing_user_id": "$me", "allowed_user_id": "$member"}, 201, None),
    ({"allowing_user_id": "$member", "allowed_user_id": "$me"}, 403, {"error": send_as.NOT_YOURS}),
    ({}, 400, {"allowed_user_id": "This field is required."}),
    ({"allowed_user_id": "user_nope"}, 400, {"allowed_user_id": "Object does not exist."}),
]


@pytest.mark.parametrize(("body", "status", "expected"), SEND_AS_CREATES)
def test_send_as_creates(world: World, body: dict[str, str], status: int, expected: Any) -> None:
    response = world.api.post("send_as/", _fill(world, body))
    assert response.status_code == status, response.text
    if status == 201:
        # The pair already exists: the same association answers again.
        assert response.json()["id"] == world.ids["mine"]
    elif status == 400:
        assert response.json()["field-errors"] == expected
    else:
        assert response.json() == expected


def test_send_as_delete_is_the_allowing_member_s(world: World) -> None:
    theirs = world.api.delete(f"send_as/{world.ids['theirs']}/")
    assert theirs.status_code == 403
    mine = world.api.delete(f"send_as/{world.ids['mine']}/")
    assert mine.status_code == 204
    assert mine.content == b""
    assert world.api.get(f"send_as/{world.ids['mine']}/").status_code == 404


LINK = {"name": "Google", "type": "lead", "url": "http://google.com/search?q={{lead.display_name}}"}
# body -> status and field-errors (None: accepted)
LINK_CREATES = [
    (LINK, 200, None),
    ({**LINK, "url": "https://www.linkedin.com/vsearch/p?keywords={{contact.name}}"}, 200, None),
    ({**LINK, "url": "google.com/search"}, 400, {"url": "Enter a valid URL."}),
    ({**LINK, "url": "ftp://files.example/{{lead.id}}"}, 400, {"url": "Enter a valid URL."}),
    ({**LINK, "url": "http:// spaced.example"}, 400, {"url": "Enter a valid URL."}),
    ({**LINK, "type": "task"}, 400, "type"),
    ({"name": "x", "type": "lead"}, 400, {"url": "This field is required."}),
    ({**LINK, "name": "  "}, 400, {"name": "This field may not be blank."}),
]


@pytest.mark.parametrize(("body", "status", "errors"), LINK_CREATES)
def test_integration_link_creates(api: Api, body: dict[str, Any], status: int, errors: Any) -> None:
    response = api.post("integration_link/", body)
    assert response.status_code == status, response.text
    if status == 200:
        made = response.json()
        assert made["id"].startswith("ilink_")
        assert made["url"] == body["url"]
        assert made["created_by"] == api.user_id
    elif isinstance(errors, str):
        assert errors in response.json()["field-errors"]
    else:
        assert response.json()["field-errors"] == errors


def test_integration_link_update_and_delete(api: Api, other: Api) -> None:
    made = api.ok("POST", "integration_link/", LINK)
    path = f"integration_link/{made['id']}/"
    assert other.put(path, {"name": "Theirs"}).status_code == 404
    updated = api.ok("PUT", path, {"name": "Search"})
    assert (updated["name"], updated["url"]) == ("Search", LINK["url"])
    assert api.put(path, {"url": "nope"}).json()["field-errors"] == {"url": "Enter a valid URL."}
    nulled = api.put(path, {"url": None}).json()["field-errors"]
    assert nulled == {"url": "This field may not be null."}
    assert [
        o["id"] for o in api.ok("GET", "integration_link/", params={"type": "lead"})["data"]
    ] == [made["id"]]
    assert api.ok("GET", "integration_link/", params={"type": "contact"})["data"] == []
    assert other.delete(path).status_code == 404
    deleted = api.delete(path)
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert api.get(path).status_code == 404
