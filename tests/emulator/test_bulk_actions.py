"""Bulk actions (/bulk_action/edit/, /bulk_action/delete/): a change applied to every lead a
search selects, run by the organization's clock in batches (core.md §15, more.md §10)."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.emulator.conftest import PlaneOrg, frozen_org

Obj = dict[str, Any]


def _name_is(value: str) -> Obj:
    return {
        "type": "field_condition",
        "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
        "condition": {"type": "text", "mode": "full_words", "value": value},
    }


def s_query(*nodes: Obj) -> Obj:
    return {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}, *nodes]}


BY_NAME = [{"direction": "asc", "field": {"type": "regular_field", "object_type": "lead",
                                           "field_name": "name"}}]  # fmt: skip


@pytest.fixture
def org(pclient: TestClient) -> PlaneOrg:
    return frozen_org(pclient)


@pytest.fixture
def board(org: PlaneOrg) -> dict[str, Obj]:
    made = {}
    for name in ("Acme Alpha", "Acme Beta", "Wayne Enterprises"):
        made[name] = org.ok("POST", "lead/", {"name": name, "contacts": [{"name": f"{name} CEO"}]})
        org.ok("POST", "activity/call/", {"lead_id": made[name]["id"], "note": "hello"})
    return made


def _status(org: PlaneOrg, label: str) -> str:
    return str(org.ok("POST", "status/lead/", {"label": label})["id"])


def _run(org: PlaneOrg, job: Obj, kind: str) -> Obj:
    fired = org.advance(until="idle")["fired"]
    steps = [f for f in fired if f["id"] == job["id"]]
    assert steps, fired
    assert steps[-1]["status"] == "done", fired
    return dict(org.ok("GET", f"bulk_action/{kind}/{job['id']}/"))


def test_a_bulk_status_edit_changes_the_matching_leads_like_a_put(
    org: PlaneOrg, board: dict[str, Obj]
) -> None:
    status = _status(org, "Hot")
    body = {
        "type": "set_lead_status",
        "lead_status_id": status,
        "s_query": s_query(_name_is("acme")),
    }
    job = org.ok("POST", "bulk_action/edit/", body)
    assert job["id"].startswith("bulkedit_")
    expected_new = {
        "type": "set_lead_status",
        "lead_status_id": status,
        "status": "created",
        "n_leads": None,
        "n_leads_processed": 0,
        "n_objects": None,
        "n_objects_processed": 0,
        "send_done_email": True,
        "query": None,
        "s_query": body["s_query"],
        "custom_field_name": None,
    }
    assert {k: job[k] for k in expected_new} == expected_new
    assert org.ok("GET", f"lead/{board['Acme Alpha']['id']}/")["status_id"] != status

    done = _run(org, job, "edit")
    counts = ("status", "n_leads", "n_leads_processed", "n_objects", "n_objects_processed")
    assert tuple(done[k] for k in counts) == ("done", 2, 2, 2, 2)
    statuses = {n: org.ok("GET", f"lead/{lead['id']}/")["status_id"] for n, lead in board.items()}
    assert statuses["Acme Alpha"] == statuses["Acme Beta"] == status
    assert statuses["Wayne Enterprises"] != status
    changes = org.ok("GET", "activity/status_change/lead/")["data"]
    assert sorted(c["lead_id"] for c in changes) == sorted(
        board[n]["id"] for n in ("Acme Alpha", "Acme Beta")
    )
    events = org.ok("GET", "event/")["data"]
    lead_updates = [e for e in events if e["object_type"] == "lead" and e["action"] == "updated"]
    assert len(lead_updates) == 2
    assert {e["meta"].get("bulk_action_id") for e in lead_updates} == {job["id"]}
    own = [e["action"] for e in events if e["object_id"] == job["id"]]
    assert (own[0], own[-1]) == ("completed", "created")
    assert "updated" in own


def test_the_legacy_text_query_sort_and_results_limit_select(
    org: PlaneOrg, board: dict[str, Obj]
) -> None:
    status = _status(org, "Hot")
    body = {"type": "set_lead_status", "lead_status_id": status, "query": "name:acme",
            "sort": BY_NAME, "results_limit": 1}  # fmt: skip
    job = org.ok("POST", "bulk_action/edit/", body)
    assert (job["query"], job["results_limit"]) == ("name:acme", 1)
    assert _run(org, job, "edit")["n_leads"] == 1
    assert org.ok("GET", f"lead/{board['Acme Alpha']['id']}/")["status_id"] == status
    assert org.ok("GET", f"lead/{board['Acme Beta']['id']}/")["status_id"] != status


def _field(org: PlaneOrg, object_type: str, name: str, type_: str = "text", **extra: Any) -> str:
    body = {"name": name, "type": type_, **extra}
    return str(org.ok("POST", f"custom_field/{object_type}/", body)["id"])


def test_custom_field_edits_on_leads_and_their_contacts(
    org: PlaneOrg, board: dict[str, Obj]
) -> None:
    region = _field(org, "lead", "Region")
    tier = _field(org, "contact", "Tier")
    acme = s_query(_name_is("acme"))
    for body in (
        {"type": "set_custom_field", "custom_field_name": "Region", "custom_field_value": "EU"},
        {"type": "set_contact_custom_field", "custom_field_id": tier, "custom_field_value": "A"},
    ):
        job = org.ok("POST", "bulk_action/edit/", {**body, "s_query": acme})
        done = _run(org, job, "edit")
        assert done["custom_field_name"] in ("Region", "Tier")
    alpha = org.ok("GET", f"lead/{board['Acme Alpha']['id']}/")
    assert alpha[f"custom.{region}"] == "EU"
    assert alpha["contacts"][0][f"custom.{tier}"] == "A"
    wayne = org.ok("GET", f"lead/{board['Wayne Enterprises']['id']}/")
    assert f"custom.{region}" not in wayne

    cleared = org.ok("POST", "bulk_action/edit/", {"type": "clear_custom_field",
                     "custom_field_id": region, "s_query": acme})  # fmt: skip
    _run(org, cleared, "edit")
    assert f"custom.{region}" not in org.ok("GET", f"lead/{board['Acme Beta']['id']}/")


def test_custom_field_edits_take_shared_fields(org: PlaneOrg, board: dict[str, Obj]) -> None:
    owner = _field(org, "shared", "Owner")
    association = {"object_type": "lead"}
    assert org.post(f"custom_field/shared/{owner}/association/", association).status_code == 201
    body = {"type": "set_custom_field", "custom_field_name": "Owner", "custom_field_value": "Ann"}
    job = org.ok("POST", "bulk_action/edit/", {**body, "s_query": s_query(_name_is("wayne"))})
    assert _run(org, job, "edit")["custom_field_name"] == "Owner"
    wayne = org.ok("GET", f"lead/{board['Wayne Enterprises']['id']}/")
    assert wayne[f"custom.{owner}"] == "Ann"


@pytest.mark.parametrize(
    ("object_type", "gone"),
    [("lead", "lead"), ("contact", "contact"), ("call", "call")],
)
def test_bulk_delete_removes_the_selected_objects(
    org: PlaneOrg, board: dict[str, Obj], object_type: str, gone: str
) -> None:
    body = {"bulk_object_type": object_type, "s_query": s_query(_name_is("acme"))}
    job = org.ok("POST", "bulk_action/delete/", body)
    assert job["id"].startswith("bulkdelete_")
    assert job["bulk_object_type"] == object_type
    done = _run(org, job, "delete")
    assert (done["n_leads"], done["n_objects"], done["n_objects_processed"]) == (2, 2, 2)
    alpha, wayne = board["Acme Alpha"]["id"], board["Wayne Enterprises"]["id"]
    if gone == "lead":
        assert org.get(f"lead/{alpha}/").status_code == 404
    elif gone == "contact":
        assert org.ok("GET", f"lead/{alpha}/")["contacts"] == []
    else:
        assert org.ok("GET", "activity/call/", params={"lead_id": alpha})["data"] == []
    assert len(org.ok("GET", f"lead/{wayne}/")["contacts"]) == 1
    assert len(org.ok("GET", "activity/call/", params={"lead_id": wayne})["data"]) == 1
    deletes = [e for e in org.ok("GET", "event/")["data"] if e["action"] == "deleted"]
    assert deletes
    assert {e["meta"].get("bulk_action_id") for e in deletes} == {job["id"]}


BAD = [
    ("edit", {"type": "set_lead_status", "lead_status_id": "STATUS"}, "s_query"),
    ("edit", {"type": "set_lead_status", "s_query": "ACME"}, "lead_status_id"),
    (
        "edit",
        {"type": "set_lead_status", "lead_status_id": "stat_nope", "s_query": "ACME"},
        "lead_status_id",
    ),  # fmt: skip
    ("edit", {"type": "set_everything", "s_query": "ACME"}, "type"),
    ("edit", {"type": "set_global_custom_field", "s_query": "ACME"}, "type"),
    ("edit", {"s_query": "ACME"}, "type"),
    (
        "edit",
        {"type": "set_custom_field", "custom_field_name": "Nope", "s_query": "ACME"},
        "custom_field_id",
    ),  # fmt: skip
    ("edit", {"type": "set_custom_field", "s_query": "ACME"}, "custom_field_id"),
    (
        "edit",
        {"type": "set_lead_status", "lead_status_id": "STATUS", "s_query": {"type": "or"}},
        "s_query",
    ),  # fmt: skip
    (
        "edit",
        {"type": "set_lead_status", "lead_status_id": "STATUS", "query": "name:(acme"},
        "query",
    ),  # fmt: skip
    (
        "edit",
        {"type": "set_lead_status", "lead_status_id": "STATUS", "query": "slice:1/2"},
        "query",
    ),  # fmt: skip
    (
        "edit",
        {
            "type": "set_lead_status",
            "lead_status_id": "STATUS",
            "s_query": "ACME",
            "results_limit": 0,
        },
        "results_limit",
    ),  # fmt: skip
    ("delete", {"bulk_object_type": "everything", "s_query": "ACME"}, "bulk_object_type"),
    ("delete", {"bulk_object_type": "lead"}, "s_query"),
]


@pytest.mark.parametrize(("kind", "body", "key"), BAD)
def test_a_bad_bulk_action_is_400_and_starts_nothing(
    org: PlaneOrg, board: dict[str, Obj], kind: str, body: Obj, key: str
) -> None:
    status = _status(org, "Hot")
    body = {k: v for k, v in body.items()}
    if body.get("lead_status_id") == "STATUS":
        body["lead_status_id"] = status
    if body.get("s_query") == "ACME":
        body["s_query"] = s_query(_name_is("acme"))
    response = org.post(f"bulk_action/{kind}/", body)
    assert response.status_code == 400, response.text
    assert key in response.json()["field-errors"], response.text
    assert org.ok("GET", f"bulk_action/{kind}/")["data"] == []
    assert [
        p for p in org.plane_ok("GET", "/clock")["pending"] if p["kind"].startswith("bulk")
    ] == []


def test_lists_are_per_kind_and_per_organization(
    pclient: TestClient, org: PlaneOrg, board: dict[str, Obj]
) -> None:
    edit = org.ok("POST", "bulk_action/edit/", {"type": "set_lead_status",
                  "lead_status_id": _status(org, "Hot"), "s_query": s_query()})  # fmt: skip
    delete = org.ok("POST", "bulk_action/delete/", {"s_query": s_query(_name_is("wayne"))})
    assert [j["id"] for j in org.ok("GET", "bulk_action/edit/")["data"]] == [edit["id"]]
    assert [j["id"] for j in org.ok("GET", "bulk_action/delete/")["data"]] == [delete["id"]]
    assert org.get(f"bulk_action/delete/{edit['id']}/").status_code == 404

    other = frozen_org(pclient)
    theirs = other.ok("POST", "lead/", {"name": "Acme Other"})
    assert other.get(f"bulk_action/edit/{edit['id']}/").status_code == 404
    assert other.ok("GET", "bulk_action/edit/")["data"] == []
    # A match-all job of one organization never touches another's leads. One advance runs
    # both jobs to the end.
    _run(org, edit, "edit")
    assert org.ok("GET", f"bulk_action/delete/{delete['id']}/")["status"] == "done"
    assert other.ok("GET", f"lead/{theirs['id']}/")["status_id"] == theirs["status_id"]
