"""Lead merge and complete deletes: the feed stays consistent and failed writes leave no trace."""

from typing import Any

import pytest
from sqlalchemy import func, select

from crmapi.storage import tables as t
from tests import factories
from tests.conftest import Api


def _story(api: Api, name: str) -> dict[str, Any]:
    """A lead with a contact, a note on that contact, an opportunity and a completed task."""
    lead = factories.lead(api, name, contacts=[{"name": f"{name} person"}])
    contact = lead["contacts"][0]
    api.ok(
        "POST", "activity/note/", {"lead_id": lead["id"], "contact_id": contact["id"], "note": "hi"}
    )
    opp = api.ok("POST", "opportunity/", {"lead_id": lead["id"], "value": 100})
    api.ok("PUT", f"opportunity/{opp['id']}/", {"status": "Won"})
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "call"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    api.ok("POST", "task/", {"lead_id": lead["id"], "text": "open"})
    api.ok("PUT", f"lead/{lead['id']}/", {"status": "Qualified"})
    return api.ok("GET", f"lead/{lead['id']}/")


def _types(api: Api, lead_id: str) -> list[str]:
    feed = api.ok("GET", "activity/", params={"lead_id": lead_id, "_limit": 100})["data"]
    return sorted(a["_type"] for a in feed)


def _counts(app: Any, org_id: str) -> dict[str, int]:
    with app.state.db.read() as conn:
        return {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.organization_id == org_id)
            ).scalar_one()
            for table in (t.lead, t.contact, t.opportunity, t.task, t.activity)
        }


# --- merge -------------------------------------------------------------------------------------


def test_merge_moves_everything_and_removes_the_source(api: Api, app: Any) -> None:
    source = _story(api, "Source")
    destination = _story(api, "Destination")
    source_types = _types(api, source["id"])
    destination_types = _types(api, destination["id"])
    before = _counts(app, api.org_id)
    assert (
        api.ok("POST", "lead/merge/", {"source": source["id"], "destination": destination["id"]})
        == {}
    )
    response = api.get(f"lead/{source['id']}/")
    assert response.status_code == 404
    merged = api.ok("GET", f"lead/{destination['id']}/")
    assert {c["id"] for c in merged["contacts"]} == {
        c["id"] for c in source["contacts"] + destination["contacts"]
    }
    assert {o["id"] for o in merged["opportunities"]} == {
        o["id"] for o in source["opportunities"] + destination["opportunities"]
    }
    assert {x["id"] for x in merged["tasks"]} == {
        x["id"] for x in source["tasks"] + destination["tasks"]
    }
    assert _types(api, destination["id"]) == sorted(
        source_types + destination_types + ["LeadMerge"]
    )
    assert api.ok("GET", "activity/", params={"lead_id": source["id"]})["data"] == []
    after = _counts(app, api.org_id)
    assert after == {**before, "lead": before["lead"] - 1, "activity": before["activity"] + 1}
    archived = api.ok("GET", "task/", params={"lead_id": destination["id"], "view": "archive"})
    assert len(archived["data"]) == 2


def test_merge_writes_a_lead_merge_activity_on_the_destination(api: Api) -> None:
    source = factories.lead(api, "Source Lead")
    destination = factories.lead(api, None)
    api.ok("POST", "lead/merge/", {"source": source["id"], "destination": destination["id"]})
    (activity,) = api.ok("GET", "activity/lead_merge/")["data"]
    expected = {
        "_type": "LeadMerge",
        "lead_id": destination["id"],
        "source_lead_id": source["id"],
        "source_display_name": "Source Lead",
        "destination_lead_id": destination["id"],
        "destination_display_name": "Untitled",
        "merge_status": "completed",
        "error_message": None,
        "user_id": api.user_id,
        "created_by": api.user_id,
    }
    assert {k: activity[k] for k in expected} == expected


def test_merge_emits_merged_and_deleted_events(api: Api, app: Any) -> None:
    source = _story(api, "Source")
    destination = factories.lead(api, "Destination")
    api.ok("POST", "lead/merge/", {"source": source["id"], "destination": destination["id"]})
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_type, t.event.c.action, t.event.c.object_id, t.event.c.meta)
            .where(t.event.c.organization_id == api.org_id)
            .where(t.event.c.meta["merge_source_lead_id"].as_string() == source["id"])
        ).all()
    kinds = {(r.object_type, r.action, r.object_id) for r in rows}
    assert ("lead", "merged", destination["id"]) in kinds
    assert ("lead", "deleted", source["id"]) in kinds
    assert ("opportunity", "updated", source["opportunities"][0]["id"]) in kinds
    assert ("contact", "updated", source["contacts"][0]["id"]) in kinds
    assert all(r.meta["merge_destination_lead_id"] == destination["id"] for r in rows)


@pytest.mark.parametrize(
    ("body", "errors", "field_errors"),
    [
        ({}, [], {"source": "This field is required.", "destination": "This field is required."}),
        ({"source": "SOURCE"}, [], {"destination": "This field is required."}),
        ({"source": "lead_nope", "destination": "DEST"}, ["Source lead does not exist."], {}),
        (
            {"source": "SOURCE", "destination": "lead_nope"},
            ["Destination lead does not exist."],
            {},
        ),
        ({"source": "FOREIGN", "destination": "DEST"}, ["Source lead does not exist."], {}),
        (
            {"source": "SOURCE", "destination": "SOURCE"},
            ["Source and destination leads must be different."],
            {},
        ),
        ({"source": 5, "destination": "DEST"}, [], {"source": "Not a valid string."}),
        ({"source": None, "destination": "DEST"}, [], {"source": "This field may not be null."}),
    ],
)
def test_merge_rejects_bad_ids_and_changes_nothing(
    api: Api,
    other: Api,
    app: Any,
    body: dict[str, Any],
    errors: list[str],
    field_errors: dict[str, str],
) -> None:
    ids = {
        "SOURCE": _story(api, "Source")["id"],
        "DEST": factories.lead(api, "Dest")["id"],
        "FOREIGN": factories.lead(other, "Theirs")["id"],
    }
    before = _counts(app, api.org_id)
    response = api.post("lead/merge/", {k: ids.get(v, v) for k, v in body.items()})  # type: ignore[call-overload]
    assert response.status_code == 400
    assert response.json() == {"errors": errors, "field-errors": field_errors}
    assert _counts(app, api.org_id) == before


# --- deletes --------------------------------------------------------------------------------


def test_deleting_a_lead_removes_every_child_and_emits_their_events(api: Api, app: Any) -> None:
    keep = _story(api, "Keep")
    gone = _story(api, "Gone")
    kept = _counts(app, api.org_id)
    api.ok("DELETE", f"lead/{gone['id']}/")
    assert api.get(f"lead/{gone['id']}/").status_code == 404
    assert api.ok("GET", "activity/", params={"lead_id": gone["id"]})["data"] == []
    assert api.ok("GET", "opportunity/", params={"lead_id": gone["id"]})["data"] == []
    assert api.ok("GET", "task/", params={"lead_id": gone["id"], "_type": "all"})["data"] == []
    assert api.ok("GET", "contact/", params={"lead_id": gone["id"]})["data"] == []
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_type, t.event.c.object_id).where(
                t.event.c.lead_id == gone["id"], t.event.c.action == "deleted"
            )
        ).all()
    deleted = {r.object_id: r.object_type for r in rows}
    assert deleted[gone["id"]] == "lead"
    assert deleted[gone["contacts"][0]["id"]] == "contact"
    assert deleted[gone["opportunities"][0]["id"]] == "opportunity"
    assert "task.lead" in deleted.values()
    assert {"activity.note", "activity.created", "activity.task_completed"} <= set(deleted.values())
    # The other lead is untouched.
    assert api.ok("GET", f"lead/{keep['id']}/") == keep
    remaining = _counts(app, api.org_id)
    assert remaining["lead"] == kept["lead"] - 1


def test_deleting_a_contact_keeps_its_activities_without_it(api: Api) -> None:
    lead = _story(api, "Acme")
    contact = lead["contacts"][0]
    api.ok("DELETE", f"contact/{contact['id']}/")
    notes = api.ok("GET", "activity/note/", params={"lead_id": lead["id"]})["data"]
    assert [(n["note"], n["contact_id"]) for n in notes] == [("hi", None)]


def test_a_failed_multi_step_write_leaves_no_trace(api: Api, app: Any) -> None:
    # An opportunity without a lead first creates an Untitled lead (lead row, Created activity,
    # event), then fails on its contact: all of it must roll back.
    before = _counts(app, api.org_id)
    with app.state.db.read() as conn:
        events = conn.execute(select(func.count()).select_from(t.event)).scalar_one()
    response = api.post("opportunity/", {"user_id": "user_nope"})
    assert response.status_code == 400
    assert _counts(app, api.org_id) == before
    with app.state.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.event)).scalar_one() == events
