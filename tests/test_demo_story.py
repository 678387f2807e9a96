"""The demo tells a coherent story per lead, written through the real write paths."""

from typing import Any

from sqlalchemy import select

from crmapi import seed
from crmapi.storage import tables as t
from tests.conftest import Api


def _demo(app: Any, client: Any) -> Api:
    with app.state.db.write() as conn:
        org = seed.demo(conn)
    with app.state.db.read() as conn:
        owner = conn.execute(
            select(t.organization.c.created_by).where(t.organization.c.id == org.id)
        ).scalar_one()
    return Api(client, org.key, {"organization_id": org.id, "user_id": owner})


def _all(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = api.ok("GET", path, params={**params, "_skip": len(out), "_limit": 100})
        out += page["data"]
        if not page["has_more"]:
            return out


def test_every_demo_lead_has_a_coherent_story(app: Any, client: Any) -> None:
    api = _demo(app, client)
    leads = _all(api, "lead/")
    assert len(leads) == 25
    opportunities = {o["id"]: o for o in _all(api, "opportunity/")}
    tasks = {x["id"] for x in _all(api, "task/", _type="all")}
    outcomes = set()
    for lead in leads:
        feed = _all(api, "activity/", lead_id=lead["id"])
        types = {a["_type"] for a in feed}
        assert {"Created", "Email", "Call", "Note", "LeadStatusChange", "TaskCompleted"} <= types
        status_changes = [a for a in feed if a["_type"] == "LeadStatusChange"]
        # The chain of lead status changes is unbroken and ends at the lead's status.
        chain = sorted(status_changes, key=lambda a: a["date_created"])
        assert chain[0]["old_status_label"] == "Potential"
        for before, after in zip(chain, chain[1:], strict=False):
            assert before["new_status_id"] == after["old_status_id"]
        assert chain[-1]["new_status_id"] == lead["status_id"]
        # Every system activity points at an object that exists.
        for activity in feed:
            if activity["_type"] == "OpportunityStatusChange":
                assert activity["opportunity_id"] in opportunities
            if activity["_type"] == "TaskCompleted":
                assert activity["task_id"] in tasks
        (opp,) = lead["opportunities"]
        outcomes.add(opp["status_type"])
        expected_lead_status = {"won": "Customer", "lost": "Bad Fit", "active": "Qualified"}
        assert lead["status_label"] == expected_lead_status[opp["status_type"]]
        if opp["status_type"] == "won":
            assert opp["date_won"] is not None
    assert outcomes == {"won", "lost", "active"}


def test_the_demo_holds_every_activity_type(tmp_path: Any) -> None:
    from crmapi import demo_story, seed
    from crmapi.activities.registry import BY_TYPE
    from crmapi.storage import migrate
    from crmapi.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    migrate.upgrade(db)
    with db.write() as conn:
        org = seed.demo(conn)
    with db.read() as conn:
        types = {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT type FROM activity")}
        # One lead holds them all (the inspector's browser tests and screenshots show it).
        showcase = demo_story.showcase_lead(conn, org.id)
        showcase_types = {
            r[0]
            for r in conn.exec_driver_sql(
                "SELECT DISTINCT type FROM activity WHERE lead_id = ?", (showcase,)
            )
        }
        untyped = conn.exec_driver_sql(
            "SELECT count(*) FROM activity WHERE type = 'CustomActivity' "
            "AND custom_activity_type_id IS NULL"
        ).scalar()
    db.dispose()
    assert types == set(BY_TYPE)
    assert showcase_types == set(BY_TYPE)
    assert untyped == 0
