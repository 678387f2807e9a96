"""A key of one organization never reads, changes or learns of another's data."""

from typing import Any

import pytest

from tests import factories
from tests.conftest import Api


@pytest.fixture
def theirs(api: Api) -> dict[str, Any]:
    """Objects of organization A (``api``)."""
    lead = factories.lead(api, "Secret", contacts=[{"name": "Hidden"}])
    note = api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "private"})
    call = api.ok("POST", "activity/call/", {"lead_id": lead["id"], "duration": 5})
    sms = api.ok("POST", "activity/sms/", {"lead_id": lead["id"], "status": "sent", "text": "hi"})
    status = api.ok("GET", "status/lead/")["data"][0]
    return {
        "lead": f"lead/{lead['id']}/",
        "contact": f"contact/{lead['contacts'][0]['id']}/",
        "note": f"activity/note/{note['id']}/",
        "call": f"activity/call/{call['id']}/",
        "sms": f"activity/sms/{sms['id']}/",
        "created": f"activity/created/{api.ok('GET', 'activity/')['data'][-1]['id']}/",
        "status": f"status/lead/{status['id']}/",
        "user": f"user/{api.user_id}/",
        "organization": f"organization/{api.org_id}/",
        "lead_id": lead["id"],
    }


KINDS = ["lead", "contact", "note", "call", "sms", "created", "status", "user", "organization"]


class TestTenancy:
    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
    def test_it_answers_404_for_another_organizations_objects(
        self, api: Api, other: Api, theirs: dict[str, Any], kind: str, method: str
    ) -> None:
        before = api.ok("GET", theirs[kind])
        response = other.request(method, theirs[kind], json={"name": "pwned", "note": "pwned"})
        assert response.status_code in (404, 405)
        if response.status_code == 404:
            assert set(response.json()) == {"error"}
        assert api.ok("GET", theirs[kind]) == before

    def test_it_never_lists_another_organizations_data(
        self, api: Api, other: Api, theirs: dict[str, Any]
    ) -> None:
        for path in (
            "lead/",
            "contact/",
            "activity/",
            "activity/note/",
            "activity/call/",
            "activity/sms/",
            "activity/created/",
            "user/",
        ):
            assert other.ok("GET", path)["data"] == [] or path == "user/", path
        assert [u["id"] for u in other.ok("GET", "user/")["data"]] == [other.user_id]
        by_lead = other.ok("GET", "activity/", params={"lead_id": theirs["lead_id"]})
        assert by_lead == {"data": [], "has_more": False}
        assert other.ok("GET", "contact/", params={"lead_id": theirs["lead_id"]})["data"] == []

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("activity/note/", {"note": "x"}),
            ("activity/call/", {"duration": 1}),
            ("activity/sms/", {"status": "sent"}),
            ("contact/", {"name": "x"}),
        ],
    )
    def test_it_refuses_writes_that_point_at_another_organizations_lead(
        self, other: Api, theirs: dict[str, Any], path: str, body: dict[str, Any]
    ) -> None:
        response = other.post(path, {"lead_id": theirs["lead_id"], **body})
        assert response.status_code == 400
        assert response.json()["field-errors"] == {"lead": "Object does not exist."}
