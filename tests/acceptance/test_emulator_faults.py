"""Real clients under Emulator II faults: closeio through two 429s, tap-closeio and the
Airbyte source under page drift (which record each loses is the finding, docs/clients.md)."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from crmapi.testing.observe import Observe
from tests.acceptance.conftest import Closeio
from tests.acceptance.harness import Server
from tests.acceptance.test_airbyte_source import Airbyte
from tests.acceptance.test_tap_closeio import Tap, parse


def observe(server: Server, org: dict[str, Any]) -> Observe:
    return Observe(f"http://127.0.0.1:{server.port}", org["api_key"], org["organization_id"])


def lost_record(server: Server, key: str, entry: dict[str, Any]) -> str:
    """The record the drifting page skipped: the one at its requested ``_skip``, unshifted."""
    query = {k: v for k, v in entry["query"].items() if k not in ("_skip", "_limit")}
    query.update(_skip=entry["fault"]["skip"], _limit=1)
    path = entry["path"].removeprefix("/api/v1/") + "?" + urlencode(query)
    found: str = server.get(path, key)["data"][0]["id"]
    return found


def first_drift(obs: Observe, rule: dict[str, Any]) -> dict[str, Any]:
    entries = obs.find(fault=rule["id"])
    assert entries, "the drift never happened"
    return min(entries, key=lambda e: int(e["id"].split("_")[1]))


def test_closeio_retries_through_two_429s_and_succeeds(server: Server, closeio: Closeio) -> None:
    org = server.create_org("Retry Org")
    obs = observe(server, org)
    effect = {"kind": "rate_limit", "reset": 1, "limit": 40}
    with obs.fault(effect, match={"operation": "create_lead"}, trigger={"next": 2}) as rule:
        found = closeio("retry", server.base, org["api_key"])
    assert found["statuses"] == [429, 429, 200]
    assert found["elapsed"] >= 2  # it slept on rate_reset each time
    assert rule["fired"] == 2
    obs.verify("create_lead", count=3)
    obs.verify("create_lead", count=1, status=200)
    leads = server.get("lead/", org["api_key"])["data"]
    assert [lead["name"] for lead in leads] == ["Retry Co"]


def _tap(server: Server, seed_org: Any, seeded: Any, workdir: Path) -> tuple[Tap, Path]:
    oldest = min(parse(a["date_created"]) for a in seeded["written"])
    workdir.mkdir(exist_ok=True)
    tap = Tap(server, seed_org["api_key"], workdir, oldest.strftime("%Y-%m-01T00:00:00Z"))
    catalog = json.loads(tap("--discover"))
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] == "activities":
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = True
    path = workdir / "catalog.json"
    path.write_text(json.dumps(catalog))
    return tap, path


def test_tap_closeio_loses_one_record_when_a_served_one_is_deleted(
    server: Server, seed_org: Any, seeded: Any, reads: Any, accept_tmp: Path
) -> None:
    truth = {a["id"] for a in reads["feed_org"]}
    assert len(truth) > 100  # more than one page of the tap's _limit=100
    tap, catalog = _tap(server, seed_org, seeded, accept_tmp / "tap-drift")
    obs = observe(server, seed_org)
    drift = {"kind": "page_drift", "mode": "delete"}
    with obs.fault(drift, match={"path": "/api/v1/activity/"}, trigger={"next": 1}) as rule:
        synced = tap.sync(catalog)
    got = [r["id"] for r in synced["records"]]
    lost = lost_record(server, seed_org["api_key"], first_drift(obs, rule))
    # Finding: offset paging with no re-read; exactly the record that crossed the page
    # boundary is never synced, and nothing is read twice.
    assert truth - set(got) == {lost}
    assert len(got) == len(set(got)) == len(truth) - 1


def test_tap_closeio_reads_one_record_twice_when_one_is_inserted(
    server: Server, seed_org: Any, seeded: Any, reads: Any, accept_tmp: Path
) -> None:
    truth = {a["id"] for a in reads["feed_org"]}
    tap, catalog = _tap(server, seed_org, seeded, accept_tmp / "tap-drift-insert")
    obs = observe(server, seed_org)
    drift = {"kind": "page_drift", "mode": "insert"}
    with obs.fault(drift, match={"path": "/api/v1/activity/"}, trigger={"next": 1}):
        synced = tap.sync(catalog)
    got = [r["id"] for r in synced["records"]]
    assert set(got) == truth  # nothing lost; the boundary record is emitted twice
    assert len(got) == len(truth) + 1


def _airbyte_notes(server: Server, seed_org: Any, workdir: Path) -> tuple[Airbyte, Path]:
    workdir.mkdir(exist_ok=True)
    airbyte = Airbyte(server, seed_org["api_key"], workdir)
    catalogs = [m["catalog"] for m in airbyte("discover") if m["type"] == "CATALOG"]
    stream = next(s for s in catalogs[0]["streams"] if s["name"] == "note_activities")
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
                "cursor_field": ["date_created"],
            }
        ]
    }
    path = workdir / "configured_catalog.json"
    path.write_text(json.dumps(configured))
    return airbyte, path


def test_airbyte_loses_one_record_when_a_served_one_is_deleted(
    server: Server, seed_org: Any, seeded: Any, reads: Any, accept_tmp: Path
) -> None:
    truth = {a["id"] for a in reads["typed"]["note"]}
    assert len(truth) > 100  # two pages of the stream's _limit=100
    airbyte, catalog = _airbyte_notes(server, seed_org, accept_tmp / "airbyte-drift")
    obs = observe(server, seed_org)
    drift = {"kind": "page_drift", "mode": "delete"}
    with obs.fault(drift, match={"path": "/api/v1/activity/note/"}, trigger={"next": 1}) as rule:
        found = airbyte.read(catalog)
    got = [r["id"] for r in found["records"]["note_activities"]]
    lost = lost_record(server, seed_org["api_key"], first_drift(obs, rule))
    assert truth - set(got) == {lost}
    assert len(got) == len(set(got)) == len(truth) - 1


def test_airbyte_reads_one_record_twice_when_one_is_inserted(
    server: Server, seed_org: Any, seeded: Any, reads: Any, accept_tmp: Path
) -> None:
    truth = {a["id"] for a in reads["typed"]["note"]}
    airbyte, catalog = _airbyte_notes(server, seed_org, accept_tmp / "airbyte-drift-insert")
    obs = observe(server, seed_org)
    drift = {"kind": "page_drift", "mode": "insert"}
    with obs.fault(drift, match={"path": "/api/v1/activity/note/"}, trigger={"next": 1}):
        found = airbyte.read(catalog)
    got = [r["id"] for r in found["records"]["note_activities"]]
    assert set(got) == truth
    assert len(got) == len(truth) + 1
