"""Organizations on demand, the plane's access rules over every path, reset, and the CLI."""

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.emulator.registry import plane_ops
from crmapi.emulator.snapshot_io import ORG_TABLES
from crmapi.settings import Settings
from crmapi.storage import tables as t
from tests.emulator.conftest import ADMIN_HEADERS, FROZEN, admin, frozen_org

NOT_FOUND = "The requested URL was not found on the server."
ORG_OPS = [op for op in plane_ops() if op.scope == "org"]
ADMIN_OPS = [op for op in plane_ops() if op.scope == "admin"]


def _path(op: Any, org: str) -> str:
    return "/_crmapi" + op.path.replace("{org}", org).replace("{name}", "base")


def _rows_of(app: Any, org: str) -> int:
    with app.state.db.read() as conn:
        total = sum(
            conn.execute(
                select(func.count()).select_from(tbl).where(tbl.c.organization_id == org)
            ).scalar_one()
            for tbl in ORG_TABLES
        )
        total += conn.execute(
            select(func.count()).select_from(t.organization).where(t.organization.c.id == org)
        ).scalar_one()
    return int(total)


@pytest.mark.parametrize(
    ("pack", "leads"), [("empty", 0), (40, 2), ("demo", 25)], ids=["empty", "size", "demo"]
)
def test_it_creates_an_organization_from_a_seed_pack(
    pclient: TestClient, pack: Any, leads: int
) -> None:
    org = frozen_org(pclient, seed_pack=pack)
    assert org.key.startswith("api_")
    me = org.ok("GET", "me/")
    assert me["organizations"][0]["id"] == org.org_id
    assert org.ok("GET", "lead/", params={"_limit": 0})["total_results"] == leads
    statuses = org.ok("GET", "status/lead/")["data"]
    assert [s["label"] for s in statuses][:1] == ["Potential"]
    assert org.ok("GET", f"organization/{org.org_id}/")["date_created"] == FROZEN


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seed_pack": "huge"}, "seed_pack"),
        ({"seed_pack": 0}, "seed_pack"),
        ({"seed": "x"}, "seed"),
        ({"clock": {"mode": "sideways"}}, "mode"),
        ({"clock": {"mode": "frozen", "now": "yesterday"}}, "now"),
    ],
)
def test_it_rejects_bad_organization_requests(
    pclient: TestClient, body: dict[str, Any], field: str
) -> None:
    response = admin(pclient, "POST", "/orgs", body)
    assert response.status_code == 400, response.text
    assert set(response.json()["field-errors"]) == {field}


def test_a_seed_makes_ids_deterministic(pclient: TestClient) -> None:
    def story() -> tuple[str, list[str], str]:
        org = frozen_org(pclient, seed_pack=30, seed=42, name="Seeded")
        leads = [lead["id"] for lead in org.ok("GET", "lead/")["data"]]
        note = org.ok("POST", "activity/note/", {"lead_id": leads[0], "note": "hi"})["id"]
        org.plane_ok("DELETE", "", status=204)
        return org.org_id, leads, note

    assert story() == story()


def test_it_lists_and_deletes_organizations_with_every_row(pclient: TestClient, papp: Any) -> None:
    keep, gone = frozen_org(pclient, seed_pack=30), frozen_org(pclient, seed_pack=30)
    gone.plane_ok("POST", "/snapshots", {"name": "base"}, status=201)
    listed = {o["organization_id"] for o in admin(pclient, "GET", "/orgs").json()["data"]}
    assert {keep.org_id, gone.org_id} <= listed
    before = _rows_of(papp, keep.org_id)
    assert gone.plane("DELETE", "").status_code == 204
    assert _rows_of(papp, gone.org_id) == 0
    assert _rows_of(papp, keep.org_id) == before
    assert gone.get("me/").status_code == 401
    listed = {o["organization_id"] for o in admin(pclient, "GET", "/orgs").json()["data"]}
    assert gone.org_id not in listed


@pytest.mark.parametrize("op", ORG_OPS, ids=lambda op: f"{op.method} {op.path}")
def test_another_orgs_key_is_refused_on_every_org_path(pclient: TestClient, op: Any) -> None:
    mine, theirs = frozen_org(pclient), frozen_org(pclient)
    response = pclient.request(
        op.method, _path(op, mine.org_id), auth=(theirs.key, ""), json={"name": "base"}
    )
    assert response.status_code == 404, response.text
    assert response.json() == {"error": "Organization does not exist."}
    assert pclient.request(op.method, _path(op, mine.org_id), json={}).status_code == 401


@pytest.mark.parametrize("op", ADMIN_OPS, ids=lambda op: f"{op.method} {op.path}")
def test_global_operations_need_the_admin_token(pclient: TestClient, op: Any) -> None:
    org = frozen_org(pclient)
    response = pclient.request(op.method, _path(op, org.org_id), auth=(org.key, ""), json={})
    assert response.status_code == 401, response.text
    assert set(response.json()) == {"error"}


def test_the_whole_plane_is_absent_in_production(database_url: str, tmp_path: Any) -> None:
    settings = Settings(database_url=database_url, background_workers=False, mode="production",
                        admin_token="x", snapshot_dir=str(tmp_path))  # fmt: skip
    app = create_app(settings, migrate_schema=False)
    with TestClient(app) as c:
        for op in plane_ops():
            headers = {"x-crmapi-admin-token": "x"}
            response = c.request(op.method, _path(op, "orga_x"), headers=headers)
            assert response.status_code in (404, 405), (op.path, response.status_code)
            if response.status_code == 404:
                assert response.json() == {"error": NOT_FOUND}
    app.state.db.dispose()


def test_reset_to_empty_seed_and_snapshot(pclient: TestClient) -> None:
    org = frozen_org(pclient, seed_pack=30)
    seeded = org.get("lead/").content
    org.plane_ok("POST", "/snapshots", {"name": "one-more"}, status=201)
    org.ok("POST", "lead/", {"name": "Added later"})
    org.plane_ok("POST", "/reset", {"to": "empty"})
    assert org.ok("GET", "lead/")["data"] == []
    assert len(org.ok("GET", "status/lead/")["data"]) == 4
    org.plane_ok("POST", "/reset", {"to": "seed"})
    assert org.get("lead/").content == seeded
    org.plane_ok("POST", "/reset", {"to": "snapshot:one-more"})
    assert org.get("lead/").content == seeded
    bad = org.plane("POST", "/reset", {"to": "yesterday"})
    assert bad.status_code == 400
    assert org.plane("POST", "/reset", {"to": "snapshot:missing"}).status_code == 404


def test_an_admin_on_an_unknown_org_gets_404(pclient: TestClient) -> None:
    response = pclient.get("/_crmapi/orgs/orga_missing/clock", headers=ADMIN_HEADERS)
    assert response.status_code == 404


def test_the_openapi_document_describes_every_operation(pclient: TestClient) -> None:
    doc = pclient.get("/_crmapi/openapi.json").json()
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) == len(plane_ops())
    assert all(re.fullmatch(r"[a-z_.]+", i) for i in ids)
