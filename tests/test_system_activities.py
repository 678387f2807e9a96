"""Activities only the system writes: FormSubmission, Created, LeadMerge, TaskCompleted."""

from typing import Any

import pytest

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Principal
from tests import factories
from tests.conftest import Api

BASE_KEYS = {
    "id",
    "_type",
    "organization_id",
    "lead_id",
    "contact_id",
    "user_id",
    "user_name",
    "users",
    "created_by",
    "created_by_name",
    "updated_by",
    "updated_by_name",
    "date_created",
    "date_updated",
    "activity_at",
}

# type -> (path, the type's own fields as activities.md §4.9-4.14 lists them, sample values)
TYPES: dict[str, tuple[str, set[str], dict[str, Any]]] = {
    "FormSubmission": (
        "form_submission",
        {
            "form_id",
            "form_configuration_id",
            "form_name",
            "values",
            "values_by_name",
            "ip_address",
            "origin",
            "source_url",
            "source_url_normalized",
        },
        {
            "form_id": "form_0325NAK3KhCZ3EdJfDldRU",
            "form_configuration_id": "formconf_0325NyQ1X3HplqjyP631at",
            "values": {"formfld_0325NAK2ePwMEBJrZZCk5F": "John Doe"},
            "ip_address": "192.168.1.100",
            "origin": "https://example.com",
            "source_url": "https://example.com/contact?utm_source=google",
            "source_url_normalized": "example.com/contact",
            "user_id": None,
            "created_by": None,
        },
    ),
    "Created": ("created", {"source", "import_id"}, {"source": "ui"}),
    "LeadMerge": (
        "lead_merge",
        {
            "source_lead_id",
            "source_display_name",
            "destination_lead_id",
            "destination_display_name",
            "merge_status",
            "error_message",
        },
        {"source_lead_id": "lead_gone", "source_display_name": "Old Wayne"},
    ),
    "TaskCompleted": (
        "task_completed",
        {
            "task_id",
            "task_text",
            "task_assigned_to",
            "task_assigned_to_name",
            "sequence_id",
            "sequence_name",
            "sequence_subscription_id",
            "comment_summary",
        },
        {"task_id": "task_7kpM", "task_text": "Send Steli an email"},
    ),
}
VERBS = {
    "FormSubmission": {"list", "get", "delete"},
    "Created": {"list", "get"},
    "LeadMerge": {"list", "get"},
    "TaskCompleted": {"list", "get", "delete"},
}


def _insert(app: Any, api: Api, type_name: str, lead_id: str) -> dict[str, Any]:
    """Write the activity as the system would (no HTTP create exists for these types)."""
    values = {"lead_id": lead_id, **TYPES[type_name][2]}
    with app.state.db.write() as conn:
        wc = write.WriteContext(conn=conn, principal=Principal(api.org_id, api.user_id))
        return write.system_create(wc, BY_TYPE[type_name], values)


@pytest.fixture
def lead_id(api: Api) -> str:
    return str(factories.lead(api, "Wayne Enterprises")["id"])


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_it_reads_system_activities_with_their_fields(
    app: Any, api: Api, lead_id: str, type_name: str
) -> None:
    path, own, sample = TYPES[type_name]
    created = _insert(app, api, type_name, lead_id)
    item = api.ok("GET", f"activity/{path}/{created['id']}/")
    # Every activity takes comments (docs/decisions.md "Comments").
    assert set(item) == BASE_KEYS | own | {"comment_summary"}
    assert item["_type"] == type_name
    for key, value in sample.items():
        assert item[key] == value
    listed = api.ok("GET", f"activity/{path}/", params={"lead_id": lead_id})
    assert [a["id"] for a in listed["data"] if a["_type"] == type_name][:1] == [created["id"]]
    assert item in listed["data"]


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_it_answers_405_for_verbs_close_lacks(
    app: Any, api: Api, lead_id: str, type_name: str
) -> None:
    path = TYPES[type_name][0]
    created = _insert(app, api, type_name, lead_id)
    item = f"activity/{path}/{created['id']}/"
    attempts = {
        "create": ("POST", f"activity/{path}/"),
        "update": ("PUT", item),
        "delete": ("DELETE", item),
    }
    for verb, (method, target) in attempts.items():
        if verb in VERBS[type_name]:
            continue
        response = api.request(method, target, json={"lead_id": lead_id})
        assert response.status_code == 405, (verb, response.text)
        assert set(response.json()) == {"error"}
    assert api.ok("GET", item)["id"] == created["id"]


@pytest.mark.parametrize("type_name", sorted(t for t, v in VERBS.items() if "delete" in v))
def test_it_deletes_system_activities(app: Any, api: Api, lead_id: str, type_name: str) -> None:
    path = TYPES[type_name][0]
    created = _insert(app, api, type_name, lead_id)
    assert api.ok("DELETE", f"activity/{path}/{created['id']}/") == {}
    assert api.get(f"activity/{path}/{created['id']}/").status_code == 404
    assert api.delete(f"activity/{path}/{created['id']}/").status_code == 404


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_it_hides_system_activities_of_other_organizations(
    app: Any, api: Api, other: Api, lead_id: str, type_name: str
) -> None:
    path = TYPES[type_name][0]
    created = _insert(app, api, type_name, lead_id)
    assert other.get(f"activity/{path}/{created['id']}/").status_code == 404
    assert other.ok("GET", f"activity/{path}/")["data"] == []


def test_it_filters_form_submissions_by_form(app: Any, api: Api, lead_id: str) -> None:
    created = _insert(app, api, "FormSubmission", lead_id)
    for params, expected in [
        ({"form_id": "form_0325NAK3KhCZ3EdJfDldRU"}, [created["id"]]),
        ({"form_id__in": "form_other,form_0325NAK3KhCZ3EdJfDldRU"}, [created["id"]]),
        ({"form_id": "form_other"}, []),
    ]:
        found = api.ok("GET", "activity/form_submission/", params=params)["data"]
        assert [a["id"] for a in found] == expected


def test_it_fills_form_submission_defaults(app: Any, api: Api, lead_id: str) -> None:
    created = _insert(app, api, "FormSubmission", lead_id)
    assert created["values_by_name"] == {}
    assert created["form_name"] is None
    assert created["user_id"] is None
