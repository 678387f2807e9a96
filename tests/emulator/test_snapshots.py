"""Snapshots: byte-for-byte restore, restore as a new organization, dry runs, isolation,
the file format, and SQLite <-> PostgreSQL."""

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.emulator import snapshot_io
from tests.emulator.conftest import PlaneOrg, admin, frozen_org, plane_settings

# What a client reads of an organization: whole pages, compared as bytes.
READS = [
    ("lead/", {}),
    ("contact/", {}),
    ("activity/", {"_limit": 100}),
    ("activity/email/", {}),
    ("activity/emailthread/", {}),
    ("opportunity/", {}),
    ("task/", {}),
    ("status/lead/", {}),
    ("pipeline/", {}),
    ("custom_field/lead/", {}),
    ("event/", {"_limit": 50}),
    ("webhook/", {}),
    ("me/", {}),
]


def everything(org: PlaneOrg) -> dict[str, bytes]:
    out = {}
    for path, params in READS:
        response = org.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        out[path] = response.content
    for lead in org.ok("GET", "lead/")["data"][:3]:
        out[lead["id"]] = org.get(f"lead/{lead['id']}/").content
        out["feed " + lead["id"]] = org.get("activity/", params={"lead_id": lead["id"]}).content
    return out


def story(org: PlaneOrg) -> None:
    """A little of everything, with ids inside documents (threads, custom fields, webhooks)."""
    field = org.ok("POST", "custom_field/lead/", {"name": "Tier", "type": "text"})
    lead = org.ok("POST", "lead/", {
        "name": "Acme", f"custom.{field['id']}": "gold",
        "contacts": [{"name": "Jo", "emails": [{"email": "jo@acme.example"}]}],
    })  # fmt: skip
    first = org.ok("POST", "activity/email/", {
        "lead_id": lead["id"], "status": "sent", "sender": "us@x.example",
        "to": ["jo@acme.example"], "subject": "Hi",
    })  # fmt: skip
    org.advance(by="1m")  # rows at one instant are ordered by id, which a twin renames
    org.plane_ok("POST", "/test_helpers/inbound_email", {
        "in_reply_to_id": first["id"], "from": "jo@acme.example", "body_text": "Hello!",
    })  # fmt: skip
    org.advance(by="1m")
    org.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": "Met Jo"})
    org.ok("POST", "task/", {"lead_id": lead["id"], "text": "Follow up"})
    # Subscribed to what the tests never do: no delivery, and nothing leaves 127.0.0.1.
    hook = {"url": "http://127.0.0.1:9/hook",
            "events": [{"object_type": "opportunity", "action": "deleted"}]}  # fmt: skip
    assert org.post("webhook/", hook).status_code == 201


def change(org: PlaneOrg) -> None:
    lead = org.ok("GET", "lead/")["data"][0]
    org.ok("PUT", f"lead/{lead['id']}/", {"name": "Changed"})
    org.ok("POST", "lead/", {"name": "Extra"})
    note = org.ok("GET", "activity/note/")["data"][0]
    org.delete(f"activity/note/{note['id']}/")
    org.advance(by="1d")


def test_snapshot_change_restore_reads_byte_for_byte_the_same(pclient: TestClient) -> None:
    org = frozen_org(pclient, seed_pack=60)
    story(org)
    before = everything(org)
    org.plane_ok("POST", "/snapshots", {"name": "base"}, status=201)
    change(org)
    assert everything(org) != before
    assert org.plane_ok("POST", "/snapshots/base/restore", {})["dry_run"] is False
    assert everything(org) == before
    assert org.plane_ok("GET", "/clock")["now"] == "2030-01-01T09:02:00.000000+00:00"


def test_dry_run_reports_the_differences_per_resource(pclient: TestClient) -> None:
    org = frozen_org(pclient)
    story(org)
    org.plane_ok("POST", "/snapshots", {"name": "base"}, status=201)
    assert org.plane_ok("POST", "/snapshots/base/restore", {"dry_run": True})["changes"] == {}
    change(org)
    changes = org.plane_ok("POST", "/snapshots/base/restore", {"dry_run": True})["changes"]
    assert changes["lead"] == {"added": 0, "modified": 1, "removed": 1}
    assert changes["activity"]["added"] == 1  # the note comes back
    assert changes["emulator_org"] == {"added": 0, "modified": 1, "removed": 0}  # the clock
    assert org.ok("GET", "lead/", params={"_limit": 0})["total_results"] == 2  # unchanged


def test_restore_as_a_new_organization_tells_the_same_story_under_new_ids(
    pclient: TestClient,
) -> None:
    org = frozen_org(pclient, seed_pack=40)
    story(org)
    saved = admin(pclient, "POST", "/snapshots", {"name": "tpl", "orgs": [org.org_id]})
    assert saved.status_code == 201
    dry = admin(pclient, "POST", "/snapshots/tpl/restore", {"as_new_org": True, "dry_run": True})
    assert dry.json()["organizations"][0]["changes"]["lead"]["added"] == 3
    made = admin(pclient, "POST", "/snapshots/tpl/restore", {"as_new_org": True}).json()
    (created,) = made["organizations"]
    assert created["source"] == org.org_id
    twin = PlaneOrg(pclient, created["api_key"], created)
    mine, theirs = everything(org), everything(twin)
    old_ids = set(snapshot_io._ID.findall(b"".join(mine.values())))
    new_ids = set(snapshot_io._ID.findall(b"".join(theirs.values())))
    users = {u["id"].encode() for u in org.ok("GET", "user/")["data"]}
    assert old_ids & new_ids == users
    # The same story: the same pages once ids are masked.
    assert _masked(mine) == _masked(theirs)
    email = twin.ok("GET", "activity/email/")["data"]
    replied = next(e for e in email if e["direction"] == "outgoing")
    assert replied["has_reply"] is True
    assert {e["thread_id"] for e in email} == {t["id"] for t in twin.ok(
        "GET", "activity/emailthread/")["data"]}  # fmt: skip
    assert replied["message_ids"] == [f"<{replied['id']}@x.example>"]
    field = twin.ok("GET", "custom_field/lead/")["data"][0]["id"]
    assert twin.ok("GET", "lead/", params={"name": "Acme"})["data"][0][f"custom.{field}"] == "gold"
    # Both organizations live on, independently.
    twin.ok("POST", "lead/", {"name": "Only in the twin"})
    assert org.ok("GET", "lead/", params={"_limit": 0})["total_results"] == 3


def _masked(pages: dict[str, bytes]) -> list[Any]:
    """Each page with every id masked and every list in a fixed order (rows written at one
    instant are ordered by id, which differs between the two organizations)."""
    return [_canonical(orjson.loads(snapshot_io._ID.sub(b"ID", pages[key]))) for key, _ in READS]


# A lead's first contact among several created at one instant is the one with the lower id.
_TIE_BROKEN_BY_ID = frozenset({"primary_email", "primary_phone"})


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if k not in _TIE_BROKEN_BY_ID}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda item: orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    return value


def test_two_organizations_snapshots_and_resets_do_not_touch(pclient: TestClient) -> None:
    a, b = frozen_org(pclient), frozen_org(pclient)
    a.ok("POST", "lead/", {"name": "A's lead"})
    b.ok("POST", "lead/", {"name": "B's lead"})
    a.plane_ok("POST", "/snapshots", {"name": "base"}, status=201)
    b.plane_ok("POST", "/snapshots", {"name": "base"}, status=201)
    b_before = everything(b)
    a.ok("POST", "lead/", {"name": "A again"})
    a.plane_ok("POST", "/snapshots/base/restore", {})
    a.plane_ok("POST", "/reset", {"to": "empty"})
    assert everything(b) == b_before
    names = [s["name"] for s in a.plane_ok("GET", "/snapshots")["data"]]
    assert names == ["base"]
    assert b.plane_ok("GET", "/snapshots/base")["organizations"][0]["id"] == b.org_id
    a.plane_ok("DELETE", "/snapshots/base", status=204)
    assert b.plane("GET", "/snapshots/base").status_code == 200
    assert a.plane("GET", "/snapshots/base").status_code == 404


def test_the_file_is_json_lines_with_a_manifest_written_by_rename(
    pclient: TestClient, tmp_path: Path
) -> None:
    org = frozen_org(pclient, seed_pack=30)
    made = org.plane_ok("POST", "/snapshots", {"name": "v1"}, status=201)
    path = tmp_path / "snaps" / "orgs" / org.org_id / "v1.jsonl"
    lines = path.read_bytes().splitlines()
    manifest = orjson.loads(lines[0])
    assert manifest["format"] == "crmapi-snapshot"
    assert manifest["format_version"] == 1
    assert manifest["schema_version"]
    # About 30 activities: an email the generator writes may bring its thread along.
    assert 30 <= made["organizations"][0]["counts"]["activity"] <= 32
    assert {orjson.loads(line)["t"] for line in lines[1:]} >= {"organization", "lead", "activity"}
    assert [p.name for p in path.parent.iterdir()] == ["v1.jsonl"]  # no temporary left
    assert not any(b"pickle" in line for line in lines[:1])
    bad = org.plane("POST", "/snapshots", {"name": "../escape"})
    assert bad.status_code == 400


def test_a_crash_mid_write_keeps_the_previous_snapshot(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "s.jsonl"
    snapshot_io.write_file(path, b"old\n")

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        snapshot_io.write_file(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]


@pytest.mark.parametrize("direction", ["sqlite_to_postgres", "postgres_to_sqlite"])
def test_a_snapshot_moves_between_sqlite_and_postgresql(
    direction: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import shutil

    pg = request.getfixturevalue("_pg_migrated")
    if pg is None:
        pytest.skip("PostgreSQL not available")
    from tests.conftest import _truncate

    _truncate(pg)
    sqlite = tmp_path / "one.db"
    shutil.copy(request.getfixturevalue("_sqlite_template"), sqlite)
    urls = [f"sqlite:///{sqlite}", pg]
    if direction == "postgres_to_sqlite":
        urls.reverse()
    snaps = tmp_path / "snaps"
    source = create_app(plane_settings(urls[0], snaps), migrate_schema=False)
    target = create_app(plane_settings(urls[1], snaps), migrate_schema=False)
    try:
        with TestClient(source) as c:
            org = frozen_org(c, seed_pack=50)
            story(org)
            before = {k: orjson.loads(v) for k, v in everything(org).items()}
            saved = admin(c, "POST", "/snapshots", {"name": "move", "orgs": [org.org_id]})
            assert saved.status_code == 201
        with TestClient(target) as c:
            assert admin(c, "POST", "/snapshots/move/restore", {}).status_code == 200
            moved = PlaneOrg(c, org.key, {"organization_id": org.org_id, "user_id": org.user_id})
            after = {k: orjson.loads(v) for k, v in everything(moved).items()}
        assert after == before
    finally:
        source.state.db.dispose()
        target.state.db.dispose()
