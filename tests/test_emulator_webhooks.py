"""Deliveries with their attempts, redelivery, replay, flush, sinks, the signature checker, and
the test-side ``Observe`` and CLI against a live server."""

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from click.testing import CliRunner

from crmapi.emulator.cli_observe import delivery, fault, journal, sink, strict
from crmapi.events.scheduler import Scheduler
from crmapi.testing.observe import Observe, ObserveError
from tests.conftest import Api
from tests.emulator_helpers import Plane, live

EVENTS = [{"object_type": "lead", "action": "created"}]


def test_deliveries_sinks_signatures_and_isolation(app: Any, api: Api, other: Api) -> None:
    plane = Plane(api)
    with live(app) as base:
        sink = plane.ok("POST", "/sinks", {"name": "t1"})
        assert sink["url"].endswith(f"/_crmapi/sinks/{api.org_id}/t1/")
        url = sink["url"].replace("http://testserver", base)
        hook = api.post("webhook/", {"url": url, "events": EVENTS}).json()
        plane.ok("PUT", "/sinks/t1/behaviour", {"status": 503, "next": 1})
        api.ok("POST", "lead/", {"name": "Hooked"})
        plane.ok("POST", f"/webhooks/{hook['id']}/flush", {})
        (first,) = plane.ok("GET", "/webhook-deliveries")["data"]
        assert first["state"] == "retrying"
        assert first["attempts"][0]["status"] == 503
        assert first["attempts"][0]["error"] == "HTTP 503"
        assert first["attempts"][0]["request_headers"]["close-sig-hash"]
        assert first["next_attempt_at"] is not None
        done = plane.ok("POST", f"/webhook-deliveries/{first['id']}/redeliver", {})
        assert done["state"] == "delivered"
        assert [a["status"] for a in done["attempts"]] == [503, 200]
        assert done["attempts"][1]["duration_ms"] > 0
        received = plane.ok("GET", "/sinks/t1")["received"]
        assert [r["answered"] for r in received] == [503, 200]
        check = api.client.post(
            "/_crmapi/tools/verify-signature",
            json={
                "signature_key": hook["signature_key"],
                "headers": received[1]["headers"],
                "body": received[1]["body"],
            },
        ).json()
        assert check["valid"] is True
        tampered = api.client.post(
            "/_crmapi/tools/verify-signature",
            json={
                "signature_key": hook["signature_key"],
                "headers": received[1]["headers"],
                "body": received[1]["body"] + " ",
            },
        ).json()
        assert tampered["valid"] is False
        assert tampered["expected_hash"] != received[1]["headers"]["close-sig-hash"]
        signed = CliRunner().invoke(
            delivery,
            [
                "verify-signature",
                "--url",
                base,
                "--signature-key",
                hook["signature_key"],
                "--hash",
                received[1]["headers"]["close-sig-hash"],
                "--timestamp",
                received[1]["headers"]["close-sig-timestamp"],
                "--body-file",
                "-",
            ],
            input=received[1]["body"],
        )
        assert signed.exit_code == 0, signed.output
        assert json.loads(signed.output)["valid"] is True
        replayed = plane.ok(
            "POST", f"/events/{first['event_id']}/replay", {"subscription_id": hook["id"]}
        )
        assert replayed["state"] == "delivered"
        assert len(plane.ok("GET", "/sinks/t1")["received"]) == 3
        states = {d["state"] for d in plane.ok("GET", "/webhook-deliveries")["data"]}
        assert states == {"delivered"}
        # Another organization sees none of it.
        theirs = Plane(other)
        assert theirs.ok("GET", "/webhook-deliveries")["data"] == []
        assert theirs.ok("GET", "/sinks")["data"] == []
        assert theirs.request("GET", "/sinks/t1").status_code == 404
        assert plane.request("GET", "/sinks/t1", auth=(other.key, "")).status_code == 404
        assert theirs.request("GET", f"/webhook-deliveries/{first['id']}").status_code == 404
        assert (
            theirs.request(
                "POST", f"/events/{first['event_id']}/replay", {"subscription_id": hook["id"]}
            ).status_code
            == 404
        )


def test_webhook_faults_duplicate_and_delay(app: Any, api: Api) -> None:
    plane = Plane(api)
    with live(app) as base:
        url = plane.ok("POST", "/sinks", {"name": "dup"})["url"].replace("http://testserver", base)
        hook = api.post("webhook/", {"url": url, "events": EVENTS}).json()
        plane.ok(
            "POST",
            "/faults",
            {
                "id": "twice",
                "effect": {"kind": "webhook", "mode": "duplicate"},
                "trigger": {"next": 1},
            },
        )
        plane.ok(
            "POST",
            "/faults",
            {
                "id": "later",
                "effect": {"kind": "webhook", "mode": "delay", "seconds": 3600},
                "trigger": {"next": 1},
            },
        )
        api.ok("POST", "lead/", {"name": "One"})
        api.ok("POST", "lead/", {"name": "Two"})
        plane.ok("POST", f"/webhooks/{hook['id']}/flush", {})
        received = plane.ok("GET", "/sinks/dup")["received"]
        names = [json.loads(r["body"])["event"]["data"]["name"] for r in received]
        assert len(names) == 2
        assert len(set(names)) == 1
        pending = plane.ok("GET", "/webhook-deliveries", params={"state": "pending"})["data"]
        assert len(pending) == 1


def test_webhook_fault_reorder_sends_a_later_event_first(app: Any, api: Api) -> None:
    plane = Plane(api)
    with live(app) as base:
        url = plane.ok("POST", "/sinks", {"name": "ord"})["url"].replace("http://testserver", base)
        hook = api.post("webhook/", {"url": url, "events": EVENTS}).json()
        plane.ok(
            "POST",
            "/faults",
            {
                "id": "swap",
                "effect": {"kind": "webhook", "mode": "reorder"},
                "trigger": {"next": 1},
            },
        )
        api.ok("POST", "lead/", {"name": "First"})
        plane.ok("POST", f"/webhooks/{hook['id']}/flush", {})  # held back
        assert plane.ok("GET", "/sinks/ord")["received"] == []
        api.ok("POST", "lead/", {"name": "Second"})
        plane.ok("POST", f"/webhooks/{hook['id']}/flush", {})  # overtakes, then released
        plane.ok("POST", f"/webhooks/{hook['id']}/flush", {})
        received = plane.ok("GET", "/sinks/ord")["received"]
        names = [json.loads(r["body"])["event"]["data"]["name"] for r in received]
        assert names == ["Second", "First"]
        assert plane.ok("GET", "/faults/swap")["fired"] == 1


def test_observe_and_the_cli_against_a_live_server(app: Any, api: Api) -> None:
    with live(app) as base:
        obs = Observe(base, api.key, api.org_id)
        with obs.fault({"kind": "status", "status": 503}, trigger={"next": 1}) as rule:
            assert api.get("me/").status_code == 503
        assert rule["fired"] == 1
        assert api.get("me/").status_code == 200
        assert obs.count("get_me") == 2
        assert obs.verify("get_me", count=2)["ok"]
        with pytest.raises(ObserveError) as failed_verify:
            obs.verify("create_lead", count=1)
        assert failed_verify.value.body["actual"] == 0
        obs.strict = True
        assert obs.strict is True
        assert api.get("lead/", params={"limit": "1"}).status_code == 400
        obs.strict = False
        assert obs.report()[0]["warnings"][0]["name"] == "limit"
        runner = CliRunner()
        args = ["--url", base, "--api-key", api.key, "--org", api.org_id, "--operation", "get_me"]
        counted = runner.invoke(journal, ["count", *args])
        assert counted.exit_code == 0, counted.output
        assert json.loads(counted.output)["count"] == 2
        failed = runner.invoke(journal, ["verify", *args, "--count", "5"])
        assert failed.exit_code == 1
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "crmapi",
                "fault",
                "list",
                "--url",
                base,
                "--api-key",
                api.key,
                "--org",
                api.org_id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"data": []}
        common = ["--url", base, "--api-key", api.key, "--org", api.org_id]
        added = runner.invoke(
            fault, ["add", *common, "--status", "503", "--next", "1", "--id", "cli"]
        )
        assert added.exit_code == 0, added.output
        assert api.get("me/").status_code == 503
        listed = json.loads(runner.invoke(fault, ["list", *common]).output)["data"]
        assert listed[0]["fired"] == 1
        assert runner.invoke(fault, ["clear", *common]).exit_code == 0
        assert runner.invoke(strict, ["set", *common, "strict"]).exit_code == 0
        assert api.get("lead/", params={"limit": "1"}).status_code == 400
        report = json.loads(runner.invoke(strict, ["report", *common]).output)["data"]
        assert report
        assert runner.invoke(strict, ["set", *common, "server"]).exit_code == 0
        created = json.loads(runner.invoke(sink, ["create", *common, "cli-sink"]).output)
        assert created["name"] == "cli-sink"
        failing = json.loads(
            runner.invoke(sink, ["fail", *common, "cli-sink", "--next", "2"]).output
        )
        assert failing["behaviour"] == {"status": 500, "next": 2}
        assert json.loads(runner.invoke(delivery, ["list", *common]).output) == {"data": []}
        newest = obs.find()[0]["id"]
        got = runner.invoke(journal, ["get", *common, newest])
        assert json.loads(got.output)["id"] == newest
        har = runner.invoke(journal, ["export", *common])
        assert json.loads(har.output)["log"]["entries"]
        unrouted = runner.invoke(journal, ["unrouted", *common])
        assert json.loads(unrouted.output) == {"data": []}


def test_sinks_are_managed_per_org(api: Api, other: Api) -> None:
    plane, theirs = Plane(api), Plane(other)
    plane.ok("POST", "/sinks", {"name": "t1"})
    assert plane.request("POST", "/sinks", {"name": "bad name!"}).status_code == 400
    hook_id = "whsub_missing"
    assert theirs.request("POST", f"/webhooks/{hook_id}/flush", {}).status_code == 404
    assert theirs.request("PUT", "/sinks/t1/behaviour", {"next": 1}).status_code == 404
    assert plane.request("PUT", "/sinks/t1/behaviour", {"status": 200}).status_code == 400
    # The receiving URL names the org: the other org has no sink t1.
    assert api.client.post(f"/_crmapi/sinks/{other.org_id}/t1/", json={}).status_code == 404
    assert api.client.post(f"/_crmapi/sinks/{api.org_id}/t1/", json={"a": 1}).status_code == 200
    assert len(plane.ok("GET", "/sinks/t1")["received"]) == 1
    assert plane.ok("DELETE", "/sinks/t1/received") == {}
    assert plane.ok("GET", "/sinks/t1")["received"] == []
    assert plane.ok("DELETE", "/sinks/t1") == {}
    assert plane.request("GET", "/sinks/t1").status_code == 404
    assert plane.ok("GET", "/sinks") == {"data": []}


def test_the_servers_own_scheduler_records_attempts_and_applies_webhook_faults(
    app: Any, api: Api
) -> None:
    """The background worker sends through ``events.scheduler``, not ``deliver_due``: its
    attempts are inspectable and webhook fault rules apply there too."""
    plane = Plane(api)
    with live(app) as base:
        url = plane.ok("POST", "/sinks", {"name": "sch"})["url"].replace("http://testserver", base)
        api.post("webhook/", {"url": url, "events": EVENTS}).json()
        fault_rule = {"id": "twice", "effect": {"kind": "webhook", "mode": "duplicate"}}
        plane.ok("POST", "/faults", {**fault_rule, "trigger": {"next": 1}})
        api.ok("POST", "lead/", {"name": "Scheduled"})
        scheduler = Scheduler(app.state.db, app.state.settings)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                scheduler.dispatch()
                scheduler.finished.wait(0.2)
                received = plane.ok("GET", "/sinks/sch")["received"]
                if len(received) >= 2 and scheduler.in_flight() == 0:
                    break
        finally:
            scheduler.close()
        assert len(plane.ok("GET", "/sinks/sch")["received"]) == 2  # duplicated
        (one,) = plane.ok("GET", "/webhook-deliveries")["data"]
        assert [a["status"] for a in one["attempts"]] == [200, 200]
