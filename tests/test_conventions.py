"""Conventions every endpoint shares: paths, method override, paging, bodies and errors."""

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests import factories
from tests.conftest import Api

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return factories.lead(api, "Wayne Enterprises")  # type: ignore[no-any-return]


class TestPaths:
    @pytest.mark.parametrize(
        "path", ["/api/v1/lead/", "/api/v1/lead", "/api/v1//lead/", "/api//v1///lead"]
    )
    def test_it_serves_paths_with_or_without_slashes(
        self, api: Api, client: TestClient, lead: dict[str, Any], path: str
    ) -> None:
        response = client.get(path, auth=(api.key, ""))
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["data"]] == [lead["id"]]

    def test_it_serves_items_without_trailing_slash(
        self, api: Api, client: TestClient, lead: dict[str, Any]
    ) -> None:
        response = client.get(f"/api/v1/lead/{lead['id']}", auth=(api.key, ""))
        assert response.json()["id"] == lead["id"]

    def test_it_answers_unknown_paths_with_a_json_404(self, api: Api) -> None:
        response = api.get("no_such_thing/")
        assert response.status_code == 404
        assert set(response.json()) == {"error"}

    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "me/"), ("DELETE", "lead/"), ("PUT", "activity/"), ("POST", "activity/created/")],
    )
    def test_it_answers_unsupported_verbs_with_a_json_405(
        self, api: Api, method: str, path: str
    ) -> None:
        response = api.request(method, path, json={})
        assert response.status_code == 405
        assert set(response.json()) == {"error"}


class TestMethodOverride:
    def test_it_reads_params_from_a_post_with_override_header(
        self, api: Api, lead: dict[str, Any]
    ) -> None:
        other = factories.lead(api, "Other")
        response = api.post(
            "activity/",
            {"_params": {"lead_id": other["id"]}},
            headers={"x-http-method-override": "GET"},
        )
        assert response.status_code == 200
        assert {a["lead_id"] for a in response.json()["data"]} == {other["id"]}

    def test_it_reads_a_json_body_on_get_as_params(self, api: Api, lead: dict[str, Any]) -> None:
        factories.lead(api, "Other")
        response = api.request("GET", "activity/", json={"lead_id": lead["id"]})
        assert {a["lead_id"] for a in response.json()["data"]} == {lead["id"]}


class TestPaging:
    @pytest.fixture
    def three(self, api: Api) -> list[str]:
        return [factories.lead(api, f"L{i}")["id"] for i in range(3)]

    @pytest.mark.parametrize(
        ("params", "count", "has_more"),
        [
            ({}, 3, False),
            ({"_limit": "2"}, 2, True),
            ({"_limit": "3"}, 3, False),
            ({"_limit": "2", "_skip": "2"}, 1, False),
            ({"_skip": "3"}, 0, False),
            ({"_limit": "0"}, 0, True),
        ],
    )
    def test_it_pages_with_exact_has_more(
        self, api: Api, three: list[str], params: dict[str, str], count: int, has_more: bool
    ) -> None:
        body = api.ok("GET", "lead/", params=params)
        assert len(body["data"]) == count
        assert body["has_more"] is has_more
        assert body["total_results"] == 3

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"_limit": "201"}, "_limit"),
            ({"_limit": "ten"}, "_limit"),
            ({"_limit": "-1"}, "_limit"),
            ({"_skip": "-5"}, "_skip"),
            ({"_skip": "1.5"}, "_skip"),
        ],
    )
    def test_it_rejects_bad_paging_params(
        self, api: Api, params: dict[str, str], field: str
    ) -> None:
        response = api.get("lead/", params=params)
        assert response.status_code == 400
        body = response.json()
        assert set(body) == {"errors", "field-errors"}
        assert field in body["field-errors"]

    def test_it_projects_fields(self, api: Api, lead: dict[str, Any]) -> None:
        body = api.ok("GET", "lead/", params={"_fields": "id,name,nonsense"})
        assert body["data"] == [{"id": lead["id"], "name": "Wayne Enterprises"}]
        one = api.ok("GET", f"lead/{lead['id']}/", params={"_fields": "id,display_name"})
        assert one == {"id": lead["id"], "display_name": "Wayne Enterprises"}


class TestWrites:
    def test_it_returns_the_full_object_on_create_and_update(self, api: Api) -> None:
        created = factories.lead(api, "A", description="first")
        assert {"id", "name", "status_id", "status_label", "contacts", "date_created"} <= set(
            created
        )
        updated = api.ok("PUT", f"lead/{created['id']}/", {"name": "B"})
        assert updated["name"] == "B"
        assert updated["description"] == "first"  # PUT changes only what is sent
        assert updated["date_created"] == created["date_created"]

    def test_it_deletes_with_an_empty_object(self, api: Api, lead: dict[str, Any]) -> None:
        assert api.ok("DELETE", f"lead/{lead['id']}/") == {}
        response = api.get(f"lead/{lead['id']}/")
        assert response.status_code == 404
        assert response.json() == {"error": "Empty query: Lead matching query does not exist."}

    @pytest.mark.parametrize(
        ("content", "headers", "status"),
        [
            (b"{not json", {"content-type": "application/json"}, 400),
            (b"[1, 2]", {"content-type": "application/json"}, 400),
            (b'"text"', {"content-type": "application/json"}, 400),
            (b"\xff\xfe", {"content-type": "application/json"}, 400),
            (b"[" * 5000 + b"]" * 5000, {"content-type": "application/json"}, 400),
            (b"name=x", {"content-type": "application/x-www-form-urlencoded"}, 415),
        ],
    )
    def test_it_rejects_bad_bodies_cleanly(
        self, api: Api, content: bytes, headers: dict[str, str], status: int
    ) -> None:
        response = api.request("POST", "lead/", content=content, headers=headers)
        assert response.status_code == status
        body = response.json()
        if status == 400:
            assert set(body) == {"errors", "field-errors"}
            assert body["errors"]
        else:
            assert set(body) == {"error"}
        assert api.ok("GET", "lead/")["data"] == []

    def test_it_emits_dates_with_microseconds_and_offset(
        self, api: Api, lead: dict[str, Any]
    ) -> None:
        assert DATE.match(lead["date_created"])
        assert DATE.match(lead["date_updated"])
        note = api.ok(
            "POST",
            "activity/note/",
            {"lead_id": lead["id"], "note": "x", "date_created": "2024-03-03T10:00:06"},
        )
        assert note["date_created"] == "2024-03-03T10:00:06.000000+00:00"
        assert DATE.match(note["activity_at"])
