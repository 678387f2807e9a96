"""``agent-tool-close-crm-cli`` 0.2.1 (the ``close`` command), pointed at crmapi by its
``CLOSECLI_BASE_URL``; an organization of its own so its writes change no other test's data."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import Server, client_env, python_of, run


class Cli:
    def __init__(self, server: Server, key: str, workdir: Path) -> None:
        config = workdir / "config"
        config.mkdir(parents=True, exist_ok=True)
        self.close = str(python_of("cli").parent / "close")
        self.env = client_env(
            workdir,
            CLOSECLI_BASE_URL=server.base.rstrip("/"),
            CLOSECLI_TOKEN=key,
            CLOSECLI_CONFIG_DIR=str(config),
        )

    def __call__(self, *args: str) -> Any:
        out = run([self.close, *args], self.env, timeout=60).stdout
        return json.loads(out)


@pytest.fixture(scope="module")
def org(server: Server) -> dict[str, Any]:
    return server.create_org("CLI Org")


@pytest.fixture(scope="module")
def lead(server: Server, org: dict[str, Any]) -> str:
    lead_id: str = server.request("POST", "lead/", org["api_key"], {"name": "CLI Lead"})["id"]
    return lead_id


@pytest.fixture(scope="module")
def cli(server: Server, org: dict[str, Any], accept_tmp: Path) -> Cli:
    return Cli(server, org["api_key"], accept_tmp / "cli")


@pytest.fixture(scope="module")
def logged(cli: Cli, lead: str) -> dict[str, Any]:
    note = cli("activity", "note", "Met at a conference", "--lead", lead)
    call = cli("activity", "call", "--lead", lead, "-m", "Discovery", "--duration", "720")
    return {"note": note, "call": call}


def _id(output: Any) -> str:
    obj = output[0] if isinstance(output, list) else output
    found: str = obj["id"]
    return found


def test_it_logs_a_note_and_a_call(server: Server, org: Any, lead: str, logged: Any) -> None:
    note = server.get(f"activity/note/{_id(logged['note'])}/", org["api_key"])
    assert (note["lead_id"], note["note"]) == (lead, "Met at a conference")
    call = server.get(f"activity/call/{_id(logged['call'])}/", org["api_key"])
    assert (call["lead_id"], call["direction"], call["status"]) == (lead, "outbound", "completed")
    assert (call["duration"], call["note"]) == (720, "Discovery")


def test_it_lists_a_leads_notes(cli: Cli, lead: str, logged: Any) -> None:
    notes = cli("activity", "list", "--lead", lead, "--type", "note")
    assert [(a["id"], a["type"], a["summary"]) for a in notes] == [
        (_id(logged["note"]), "note", "Met at a conference")
    ]
    assert notes[0]["lead_id"] == lead


def test_it_lists_a_leads_whole_timeline(cli: Cli, lead: str, logged: Any) -> None:
    timeline = cli("activity", "list", "--lead", lead)
    by_type = {a["type"]: a for a in timeline}
    assert sorted(by_type) == ["call", "created", "note"]
    assert len(timeline) == 3
    assert by_type["call"]["id"] == _id(logged["call"])
    assert by_type["call"]["duration"] == 720


def test_it_shows_the_most_recent_activities(
    cli: Cli, server: Server, org: Any, lead: str, logged: Any
) -> None:
    base = datetime.now(UTC) - timedelta(days=2)
    for i in range(7):
        when = (base + timedelta(hours=i)).isoformat()
        server.request(
            "POST",
            "activity/note/",
            org["api_key"],
            {"lead_id": lead, "note": f"older {i}", "date_created": when},
        )
    recent = cli("activity", "recent", "--limit", "5")
    feed = server.get("activity/?_order_by=-date_created&_limit=100", org["api_key"])["data"]
    newest = sorted(feed, key=lambda a: a["date_created"], reverse=True)[:5]
    assert len(feed) == 10
    assert [a["id"] for a in recent] == [a["id"] for a in newest]
