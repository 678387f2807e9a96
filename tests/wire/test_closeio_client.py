"""The official ``closeio`` client (2.1) against a live ``crmapi serve`` on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from closeio_api import API, ValidationError

CRMAPI = [sys.executable, "-m", "crmapi"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {**os.environ, "CRMAPI_DATABASE_URL": database_url}
    created = subprocess.run(
        [*CRMAPI, "org", "create", "--name", "Wire", "--email", "wire@x.example"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    org = json.loads(created.stdout)
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [*CRMAPI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}/api/v1/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(base + "me/", auth=(org["api_key"], ""), timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base, org
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_it_works_with_the_official_client(live: tuple[str, dict[str, Any]]) -> None:
    base, org = live
    api = API(base, api_key=org["api_key"])
    assert api.get("me")["organizations"][0]["id"] == org["organization_id"]
    lead = api.post("lead", {"name": "Wire Co", "contacts": [{"name": "Wendy"}]})
    notes = [
        api.post("activity/note", {"lead_id": lead["id"], "note": f"n{i}"})["id"]
        for i in range(105)
    ]
    call = api.post("activity/call", {"lead_id": lead["id"], "duration": 9})
    api.put(f"activity/note/{notes[0]}", {"note": "edited"})
    assert api.get(f"activity/note/{notes[0]}")["note"] == "edited"
    api.delete(f"activity/note/{notes[1]}")

    seen: list[dict[str, Any]] = []
    skip = 0
    while True:  # the loop real scripts use
        page = api.get(
            "activity", params={"lead_id": lead["id"], "_skip": skip, "_fields": "id,_type"}
        )
        seen += page["data"]
        skip += len(page["data"])
        if not page["has_more"]:
            break
    assert {a["id"] for a in seen} == {*notes[:1], *notes[2:], call["id"]} | {
        a["id"] for a in seen if a["_type"] == "Created"
    }
    assert len(seen) == 104 + 1 + 1

    with pytest.raises(ValidationError) as raised:
        api.post("activity/note", {"note": "no lead"})
    assert raised.value.field_errors == {"lead": "This field is required."}
    assert raised.value.errors == []

    # The README style: params as a JSON body on a GET.
    typed = api.get("activity/call", data={"lead_id": lead["id"]})
    assert [c["id"] for c in typed["data"]] == [call["id"]]
