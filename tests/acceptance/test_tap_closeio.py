"""Singer ``tap-closeio`` 1.6.6: discovery, a windowed full sync of ``activities``, then an
incremental run from the state it emitted (24 h look-back, nothing older)."""

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance import lead_sync
from tests.acceptance.harness import HERE, Server, client_env, python_of, run
from tests.acceptance.lead_sync import LeadWorld

LOOK_BACK = timedelta(seconds=86400)  # the tap's default activities_window_seconds


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class Tap:
    def __init__(self, server: Server, key: str, workdir: Path, start_date: str) -> None:
        self.workdir = workdir
        self.env = client_env(workdir, CLOSE_BASE_URL=server.base.rstrip("/"))
        self.config = workdir / "config.json"
        self.config.write_text(
            json.dumps({"api_key": key, "start_date": start_date, "date_window": 3650})
        )
        self.last_log = ""

    def __call__(self, *args: str) -> str:
        argv = [
            str(python_of("tap")),
            str(HERE / "run_tap_closeio.py"),
            "--config",
            str(self.config),
        ]
        done = run([*argv, *args], self.env, timeout=120, cwd=self.workdir)
        self.last_log = done.stderr
        return done.stdout

    def sync(self, catalog: Path, state: dict[str, Any] | None = None) -> dict[str, Any]:
        args = ["--catalog", str(catalog)]
        if state is not None:
            path = self.workdir / "state.json"
            path.write_text(json.dumps(state))
            args += ["--state", str(path)]
        messages = [json.loads(line) for line in self(*args).splitlines() if line.strip()]
        return {
            "records": [m["record"] for m in messages if m["type"] == "RECORD"],
            "streams": {m["stream"] for m in messages if m["type"] == "RECORD"},
            "states": [m["value"] for m in messages if m["type"] == "STATE"],
        }


@pytest.fixture(scope="module")
def tap(server: Server, seed_org: Any, seeded: Any, accept_tmp: Path) -> Tap:
    oldest = min(parse(a["date_created"]) for a in seeded["written"])
    start = (oldest - timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    workdir = accept_tmp / "tap"
    workdir.mkdir(exist_ok=True)
    return Tap(server, seed_org["api_key"], workdir, start)


@pytest.fixture(scope="module")
def catalog(tap: Tap) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(tap("--discover"))
    return found


@pytest.fixture(scope="module")
def selected(catalog: dict[str, Any], tap: Tap) -> Path:
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == "activities":
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = True
    path = tap.workdir / "catalog.json"
    path.write_text(json.dumps(catalog))
    return path


@pytest.fixture(scope="module")
def full(tap: Tap, selected: Path) -> dict[str, Any]:
    return tap.sync(selected)


def test_it_discovers_every_stream_including_the_event_log(catalog: dict[str, Any]) -> None:
    # GET /event/ answered 2xx, so event_log is kept (a 404 would have crashed discovery).
    names = {s["tap_stream_id"] for s in catalog["streams"]}
    assert names == {"custom_fields", "leads", "activities", "tasks", "users", "event_log"}


def test_it_syncs_every_activity_in_date_windows(full: dict[str, Any], reads: Any) -> None:
    assert full["streams"] == {"activities"}
    ids = [r["id"] for r in full["records"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {a["id"] for a in reads["feed_org"]}


def test_it_round_trips_type_lead_and_note(full: dict[str, Any], truth: dict[str, Any]) -> None:
    for record in full["records"]:
        ours = truth[record["id"]]
        assert (record["_type"], record["lead_id"]) == (ours["_type"], ours["lead_id"])
        if ours["_type"] in ("Note", "Call"):
            assert record["note"] == ours["note"]
        # Rewritten by the tap to RFC 3339 UTC; the same instant as ours.
        assert parse(record["date_created"]) == parse(ours["date_created"])


def test_it_bookmarks_the_newest_date_created(full: dict[str, Any], reads: Any) -> None:
    bookmark = full["states"][-1]["bookmarks"]["activities"]["date_created"]
    newest = max(parse(a["date_created"]) for a in reads["feed_org"])
    assert parse(bookmark) == newest


def test_it_syncs_incrementally_from_its_state(
    tap: Tap, selected: Path, full: dict[str, Any], reads: Any
) -> None:
    state = full["states"][-1]
    since = parse(state["bookmarks"]["activities"]["date_created"]) - LOOK_BACK
    expected = {a["id"] for a in reads["feed_org"] if parse(a["date_created"]) > since}
    older = {a["id"] for a in reads["feed_org"]} - expected
    # The seed has both, so the check means something.
    assert expected
    assert older
    again = tap.sync(selected, state)
    ids = [r["id"] for r in again["records"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


# --- the leads stream: `date_updated>="YYYY-MM-DDTHH:MM" sort:date_updated` ------------------


@pytest.fixture(scope="module")
def lead_world(server: Server) -> LeadWorld:
    return lead_sync.build(server, "Tap Leads Org")


@pytest.fixture(scope="module")
def lead_tap(server: Server, lead_world: LeadWorld, accept_tmp: Path) -> Tap:
    workdir = accept_tmp / "tap-leads"
    workdir.mkdir(exist_ok=True)
    return Tap(server, lead_world.key, workdir, "2025-12-01T00:00:00Z")


def _select(catalog: dict[str, Any], stream_id: str, path: Path) -> Path:
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == stream_id
    path.write_text(json.dumps(catalog))
    return path


def test_a_second_lead_sync_reads_exactly_the_changed_leads(
    lead_tap: Tap, lead_world: LeadWorld
) -> None:
    catalog = json.loads(lead_tap("--discover"))
    selected = _select(catalog, "leads", lead_tap.workdir / "cat.json")
    first = lead_tap.sync(selected)
    assert first["streams"] == {"leads"}
    assert sorted(r["id"] for r in first["records"]) == sorted(lead_world.ids.values())
    bookmark = first["states"][-1]["bookmarks"]["leads"]["date_updated"]
    assert parse(bookmark) == parse("2026-01-05T12:00:00+00:00")  # the newest lead's

    # The newest lead (the bookmark's own, which `>=` reads again) and one older one.
    changed = lead_world.change("Euler", "Brunel")
    again = lead_tap.sync(selected, first["states"][-1])
    ids = [r["id"] for r in again["records"]]
    assert sorted(ids) == sorted(changed)
    assert {r["name"] for r in again["records"]} == {"Euler 2", "Brunel 2"}
    # The server itself answered only those two (the tap logs each page's total_results).
    assert "of total_results `2`" in lead_tap.last_log
