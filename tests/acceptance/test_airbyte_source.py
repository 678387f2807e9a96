"""``airbyte-source-close-com`` 0.5.30: check (patched to our host), discover (which asks for
``//custom_field/...``), a full read of every activity stream, then an incremental read."""

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance import lead_sync
from tests.acceptance.harness import HERE, Server, client_env, python_of, run
from tests.acceptance.lead_sync import LeadWorld

# Airbyte stream -> our typed path (see clients.md §3).
STREAMS = {
    "created_activities": "created",
    "note_activities": "note",
    "email_activities": "email",
    "email_thread_activities": "emailthread",
    "sms_activities": "sms",
    "call_activities": "call",
    "meeting_activities": "meeting",
    "lead_status_change_activities": "status_change/lead",
    "opportunity_status_change_activities": "status_change/opportunity",
    "task_completed_activities": "task_completed",
}


class Airbyte:
    def __init__(self, server: Server, key: str, workdir: Path) -> None:
        self.workdir = workdir
        self.env = client_env(workdir, CLOSE_BASE_URL=server.base)
        self.config = workdir / "config.json"
        # start_date is required by the code; the first read ignores it (observed upstream).
        self.config.write_text(json.dumps({"api_key": key, "start_date": "2021-01-01"}))

    def __call__(self, command: str, *args: str) -> list[dict[str, Any]]:
        argv = [str(python_of("airbyte")), str(HERE / "run_airbyte_close.py"), command]
        done = run([*argv, "--config", str(self.config), *args], self.env, 180, self.workdir)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        messages = [json.loads(line) for line in lines]
        failed = [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
        assert not failed, failed
        return messages

    def read(self, catalog: Path, state: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        args = ["--catalog", str(catalog)]
        if state is not None:
            path = self.workdir / "state.json"
            path.write_text(json.dumps(state))
            args += ["--state", str(path)]
        messages = self("read", *args)
        records: dict[str, list[dict[str, Any]]] = {name: [] for name in STREAMS}
        states: dict[str, dict[str, Any]] = {}
        for m in messages:
            if m["type"] == "RECORD":
                records[m["record"]["stream"]].append(m["record"]["data"])
            elif m["type"] == "STATE" and m["state"].get("type") == "STREAM":
                state_msg = {k: v for k, v in m["state"].items() if k != "sourceStats"}
                states[state_msg["stream"]["stream_descriptor"]["name"]] = state_msg
        return {"records": records, "states": states}


@pytest.fixture(scope="module")
def airbyte(server: Server, seed_org: Any, seeded: Any, accept_tmp: Path) -> Airbyte:
    workdir = accept_tmp / "airbyte"
    workdir.mkdir(exist_ok=True)
    return Airbyte(server, seed_org["api_key"], workdir)


@pytest.fixture(scope="module")
def discovered(airbyte: Airbyte) -> dict[str, Any]:
    messages = airbyte("discover")
    catalogs = [m["catalog"] for m in messages if m["type"] == "CATALOG"]
    assert len(catalogs) == 1
    return {s["name"]: s for s in catalogs[0]["streams"]}


@pytest.fixture(scope="module")
def configured(airbyte: Airbyte, discovered: dict[str, Any]) -> Path:
    streams = [
        {
            "stream": discovered[name],
            "sync_mode": "incremental",
            "destination_sync_mode": "append",
            "cursor_field": ["date_created"],
        }
        for name in STREAMS
    ]
    path = airbyte.workdir / "configured_catalog.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


@pytest.fixture(scope="module")
def first_read(airbyte: Airbyte, configured: Path) -> dict[str, Any]:
    return airbyte.read(configured)


def test_it_checks_the_connection(airbyte: Airbyte) -> None:
    messages = airbyte("check")
    statuses = [
        m["connectionStatus"]["status"] for m in messages if m["type"] == "CONNECTION_STATUS"
    ]
    assert statuses == ["SUCCEEDED"]


def test_it_discovers_incremental_activity_streams(discovered: dict[str, Any]) -> None:
    for name in STREAMS:
        stream = discovered[name]
        assert "incremental" in stream["supported_sync_modes"], name
        assert stream["default_cursor_field"] == ["date_created"], name


@pytest.mark.parametrize("stream", STREAMS)
def test_it_reads_exactly_the_activities_of_each_stream(
    first_read: dict[str, Any], reads: Any, stream: str
) -> None:
    records = first_read["records"][stream]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), stream
    assert set(ids) == {a["id"] for a in reads["typed"][STREAMS[stream]]}, stream


def test_it_reads_every_activity_in_the_organization(
    first_read: dict[str, Any], truth: dict[str, Any]
) -> None:
    counts = {name: len(records) for name, records in first_read["records"].items()}
    # Custom activities have no Airbyte activity stream (custom_activities lists their types).
    assert sum(counts.values()) == sum(a["_type"] != "CustomActivity" for a in truth.values())
    assert counts["note_activities"] == 109
    assert counts["created_activities"] == 3


def _expected_since(ours: list[dict[str, Any]], cursor: str | None) -> set[str]:
    if cursor is None:  # an empty stream has no cursor: it is read whole (and is empty)
        return {a["id"] for a in ours}
    since = datetime.fromisoformat(cursor)
    return {a["id"] for a in ours if datetime.fromisoformat(a["date_created"]) >= since}


def test_it_reads_incrementally_from_the_state_it_emitted(
    airbyte: Airbyte, configured: Path, first_read: dict[str, Any], reads: Any
) -> None:
    # CDK 0.90 computes the state from the incoming state and the LAST record read, not a
    # running max; Close lists newest first, so the emitted cursor is the oldest record's date
    # (same against Close). The server must still answer date_created__gte=<cursor> exactly.
    states = first_read["states"]
    nonempty = {name for name, records in first_read["records"].items() if records}
    assert nonempty <= set(states)
    again = airbyte.read(configured, list(states.values()))
    for stream, path in STREAMS.items():
        cursor = states[stream]["stream"]["stream_state"].get("date_created")
        expected = _expected_since(reads["typed"][path], cursor)
        assert {r["id"] for r in again["records"][stream]} == expected, stream


def test_it_reads_only_records_at_or_after_a_newer_cursor(
    airbyte: Airbyte, configured: Path, first_read: dict[str, Any], reads: Any
) -> None:
    # The state a running-max cursor would hold: the newest date_created, echoed verbatim.
    states = []
    expected: dict[str, set[str]] = {}
    for stream, path in STREAMS.items():
        ours = reads["typed"][path]
        if not ours:
            continue
        newest = max(a["date_created"] for a in ours)
        states.append(
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": stream},
                    "stream_state": {"date_created": newest},
                },
            }
        )
        expected[stream] = _expected_since(ours, newest)
        assert len(expected[stream]) == 1
    again = airbyte.read(configured, states)
    for stream in STREAMS:
        found = {r["id"] for r in again["records"][stream]}
        assert found == expected.get(stream, set()), stream


# --- the Leads stream: `sort:updated date_updated >= <state>` --------------------------------


@pytest.fixture(scope="module")
def lead_world(server: Server) -> LeadWorld:
    return lead_sync.build(server, "Airbyte Leads Org")


def _lead_records(airbyte: Airbyte, catalog: Path, state: Any = None) -> dict[str, Any]:
    args = ["--catalog", str(catalog)]
    if state is not None:
        path = airbyte.workdir / "lead-state.json"
        path.write_text(json.dumps(state))
        args += ["--state", str(path)]
    messages = airbyte("read", *args)
    records = [m["record"]["data"] for m in messages if m["type"] == "RECORD"]
    states = [
        {k: v for k, v in m["state"].items() if k != "sourceStats"}
        for m in messages
        if m["type"] == "STATE" and m["state"].get("type") == "STREAM"
    ]
    return {"records": records, "states": states}


def test_a_second_lead_read_reads_exactly_the_changed_leads(
    server: Server, lead_world: LeadWorld, accept_tmp: Path
) -> None:
    workdir = accept_tmp / "airbyte-leads"
    workdir.mkdir(exist_ok=True)
    airbyte = Airbyte(server, lead_world.key, workdir)
    streams = {
        m["catalog"]["streams"][i]["name"]: m["catalog"]["streams"][i]
        for m in airbyte("discover")
        if m["type"] == "CATALOG"
        for i in range(len(m["catalog"]["streams"]))
    }
    catalog = workdir / "leads_catalog.json"
    configured = {
        "stream": streams["leads"],
        "sync_mode": "incremental",
        "destination_sync_mode": "append",
        "cursor_field": ["date_updated"],
    }
    catalog.write_text(json.dumps({"streams": [configured]}))

    first = _lead_records(airbyte, catalog)
    assert sorted(r["id"] for r in first["records"]) == sorted(lead_world.ids.values())
    # As for activities, CDK 0.90 keeps the LAST record's cursor, not a running max, and the
    # first read (no query) lists newest first: the emitted state is the oldest lead's. From
    # it the server must answer `date_updated >= state` exactly: here every lead again.
    emitted = first["states"][-1]
    assert emitted["stream"]["stream_state"]["date_updated"] == "2026-01-01T12:00:00.000000+00:00"
    from_emitted = _lead_records(airbyte, catalog, [emitted])
    assert len(from_emitted["records"]) == len(lead_world.ids)

    # The state a running max holds: the newest date_updated read, echoed verbatim.
    newest = max(r["date_updated"] for r in first["records"])
    state = {**emitted, "stream": {**emitted["stream"], "stream_state": {"date_updated": newest}}}
    # The newest lead (the state's own, which `>=` reads again) and one older one.
    changed = lead_world.change("Euler", "Ada")
    again = _lead_records(airbyte, catalog, [state])
    assert sorted(r["id"] for r in again["records"]) == sorted(changed)
    assert {r["name"] for r in again["records"]} == {"Euler 2", "Ada 2"}
