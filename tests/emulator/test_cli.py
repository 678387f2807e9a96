"""The plane's CLI verbs against a live server (the pytest plugin's ``EmulatorServer``)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crmapi.cli import cli
from crmapi.emulator import cli as emulator_cli
from crmapi.testing import EmulatorServer


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[EmulatorServer]:
    server = EmulatorServer(tmp_path / "server", database_url=database_url).start()
    yield server
    server.stop()


def run(server: EmulatorServer, *args: str, key: str | None = None) -> Any:
    env = {"CRMAPI_URL": server.url, "CRMAPI_ADMIN_TOKEN": "" if key else server.admin_token,
           "CRMAPI_API_KEY": key or "", "CRMAPI_ORG": ""}  # fmt: skip
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output.strip()
    return json.loads(out) if out.startswith(("{", "[")) else out


def test_every_plane_verb_over_http(live: EmulatorServer) -> None:
    made = run(live, "orgs", "new", "--pack", "20", "--frozen-at", "2030-01-01T09:00:00Z")
    org, key = made["organization_id"], made["api_key"]
    assert org in {o["organization_id"] for o in run(live, "orgs", "ls")["data"]}
    assert run(live, "orgs", "info", key=key)["organization_id"] == org
    assert run(live, "clock", "show", key=key)["now"] == "2030-01-01T09:00:00.000000+00:00"
    assert run(live, "clock", "advance", "--by", "1d", key=key)["now"].startswith("2030-01-02")
    assert run(live, "clock", "freeze", "--at", "2031-01-01T00:00:00Z", key=key)["mode"] == "frozen"
    assert run(live, "clock", "offset", "--seconds", "60", key=key)["mode"] == "offset"
    assert run(live, "clock", "real", key=key)["mode"] == "real"
    assert run(live, "snapshot", "save", "base", key=key)["name"] == "base"
    assert [s["name"] for s in run(live, "snapshot", "ls", key=key)["data"]] == ["base"]
    assert run(live, "snapshot", "show", "base", key=key)["organizations"][0]["id"] == org
    assert run(live, "snapshot", "restore", "base", "--dry-run", key=key)["changes"] == {}
    assert run(live, "snapshot", "save", "all", "--global", "--of", org)["name"] == "all"
    twin = run(live, "snapshot", "restore", "all", "--global", "--as-new-org")["organizations"][0]
    assert twin["organization_id"] != org
    assert run(live, "snapshot", "rm", "all", "--global") == "deleted"
    lead = live.create_org().api_key  # another org's key cannot drive this one
    result = CliRunner().invoke(cli, ["clock", "--org", org, "show"],
                                env={"CRMAPI_URL": live.url, "CRMAPI_API_KEY": lead,
                                     "CRMAPI_ADMIN_TOKEN": ""})  # fmt: skip
    assert result.exit_code == 1
    assert "404" in result.output
    reply = run(live, "helper", "run", "inbound_sms", "--data",
                json.dumps({"lead_id": _first_lead(live, key), "text": "hi"}), key=key)  # fmt: skip
    assert reply["status"] == "inbox"
    assert run(live, "outbox", "ls", "--kind", "sms", key=key)["data"] == []
    assert run(live, "outbox", "clear", key=key) == "cleared"
    assert run(live, "orgs", "reset", "--to", "empty", key=key)["reset_to"] == "empty"
    assert run(live, "snapshot", "rm", "base", key=key) == "deleted"
    assert run(live, "orgs", "rm", key=key) == "deleted"


def _first_lead(live: EmulatorServer, key: str) -> str:
    import urllib.request
    from base64 import b64encode

    request = urllib.request.Request(
        live.url + "/api/v1/lead/?_limit=1",
        headers={"Authorization": "Basic " + b64encode(f"{key}:".encode()).decode()},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request) as response:
        return str(json.load(response)["data"][0]["id"])


def test_serve_makes_and_prints_an_admin_token(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("CRMAPI_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("CRMAPI_MODE", raising=False)
    emulator_cli.announce_admin_token("127.0.0.1", 8000)
    import os

    token = os.environ["CRMAPI_ADMIN_TOKEN"]
    assert token.startswith("adm_")
    assert token in capsys.readouterr().out
    monkeypatch.setenv("CRMAPI_ADMIN_TOKEN", "mine")
    emulator_cli.announce_admin_token("127.0.0.1", 8000)
    assert capsys.readouterr().out == ""
    monkeypatch.delenv("CRMAPI_ADMIN_TOKEN")
    monkeypatch.setenv("CRMAPI_MODE", "production")
    emulator_cli.announce_admin_token("127.0.0.1", 8000)
    assert "CRMAPI_ADMIN_TOKEN" not in os.environ
