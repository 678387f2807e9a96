"""Fault rules: matching, triggers, Close-shaped effects, counters, scopes and isolation."""

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.emulator.observed import Dropped
from crmapi.settings import Settings
from tests.conftest import Api, make_org
from tests.emulator_helpers import Plane


def _rule(plane: Plane, **rule: Any) -> dict[str, Any]:
    created: dict[str, Any] = plane.ok("POST", "/faults", rule)
    return created


def _statuses(api: Api, n: int, path: str = "me/") -> list[int]:
    return [api.get(path).status_code for _ in range(n)]


def test_a_429_in_closes_exact_shape_for_the_next_two(api: Api) -> None:
    plane = Plane(api)
    _rule(
        plane,
        id="throttle",
        match={"group": "me"},
        effect={"kind": "rate_limit", "reset": 3, "limit": 20},
        trigger={"next": 2},
    )
    first = api.get("me/")
    assert first.status_code == 429
    assert first.headers["ratelimit"] == "limit=20, remaining=0, reset=3"
    assert first.headers["retry-after"] == "3"
    body = first.json()
    assert body["rate_reset"] == 3
    assert body["error"]["rate_reset"] == 3
    assert body["error"]["rate_endpoint_group"] == "me"
    assert _statuses(api, 2) == [429, 200]
    rule = plane.ok("GET", "/faults/throttle")
    assert (rule["evaluated"], rule["matched"], rule["fired"], rule["exhausted"]) == (3, 3, 2, True)
    entries = plane.journal()
    assert [e["fault"]["id"] if e["fault"] else None for e in entries] == [
        None,
        "throttle",
        "throttle",
    ]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"errors": ["Injected error."], "field-errors": {}}),
        (401, {"error": "Injected error."}),
        (404, {"error": "Injected error."}),
        (503, {"error": {"message": "Service unavailable."}}),
        (500, {"error": {"message": "Service unavailable."}}),
    ],
)
def test_any_close_status_with_closes_body(api: Api, status: int, body: dict[str, Any]) -> None:
    effect: dict[str, Any] = {"kind": "status", "status": status}
    if status < 500:
        effect["message" if status != 400 else "errors"] = (
            "Injected error." if status != 400 else ["Injected error."]
        )
    _rule(Plane(api), effect=effect)
    response = api.get("me/")
    assert (response.status_code, response.json()) == (status, body)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ({"next": 2}, [1, 1, 0, 0, 0, 0]),
        ({"every": 3}, [0, 0, 1, 0, 0, 1]),
        ({"after": 4}, [0, 0, 0, 0, 1, 1]),
        ({"after": 1, "next": 2}, [0, 1, 1, 0, 0, 0]),
        ({"window": {"from": "2000-01-01T00:00:00Z", "to": "2001-01-01T00:00:00Z"}}, [0] * 6),
        ({"window": {"from": "2000-01-01T00:00:00Z"}}, [1] * 6),
    ],
)
def test_triggers(api: Api, trigger: dict[str, Any], expected: list[int]) -> None:
    _rule(Plane(api), effect={"kind": "status", "status": 503}, trigger=trigger)
    assert [int(s == 503) for s in _statuses(api, 6)] == expected


def test_a_seeded_probability_reproduces_the_same_run(app: Any, client: TestClient) -> None:
    runs = []
    for name in ("One", "Two"):
        api = make_org(app, client, name, f"o@{name}.example")
        _rule(
            Plane(api),
            effect={"kind": "status", "status": 503},
            trigger={"probability": 0.5, "seed": 42},
        )
        runs.append(_statuses(api, 20))
    assert runs[0] == runs[1]
    assert 3 < runs[0].count(503) < 17


def test_match_on_method_path_query_and_key(api: Api) -> None:
    plane = Plane(api)
    lead = api.ok("POST", "lead/", {"name": "L"})["id"]
    _rule(
        plane,
        match={
            "method": "GET",
            "path": "/api/v1/activity/*",
            "query": {"lead_id": {"present": True}},
            "api_key": "nope",
        },
        effect={"kind": "status", "status": 503},
    )
    _rule(
        plane,
        id="feed",
        match={
            "method": "GET",
            "path": "/api/v1/activity/*",
            "query": {"lead_id": {"present": True}},
        },
        effect={"kind": "status", "status": 502},
    )
    assert api.get("activity/", params={"lead_id": lead}).status_code == 502
    assert api.get("activity/").status_code == 200
    assert api.get("lead/").status_code == 200
    first, second = plane.ok("GET", "/faults")["data"]
    assert first["fired"] == 0
    assert first["evaluated"] == 3
    assert second["fired"] == 1  # first match wins: the key-bound rule never fired


def test_latency_is_added(api: Api) -> None:
    _rule(Plane(api), effect={"kind": "latency", "ms": 300}, trigger={"next": 1})
    started = time.monotonic()
    assert api.get("me/").status_code == 200
    assert time.monotonic() - started >= 0.3
    _rule(Plane(api), effect={"kind": "latency", "dist": "uniform", "min": 10, "max": 20})
    assert api.get("me/").status_code == 200


@pytest.mark.parametrize("kind", ["drop", "timeout"])
def test_a_dropped_connection_never_answers(api: Api, kind: str) -> None:
    effect = {"kind": kind, **({"seconds": 0.1} if kind == "timeout" else {})}
    _rule(Plane(api), effect=effect, trigger={"next": 1})
    with pytest.raises(Dropped):
        api.get("me/")
    assert api.get("me/").status_code == 200


def test_malformed_and_truncated_bodies(api: Api) -> None:
    _rule(Plane(api), effect={"kind": "malformed"}, trigger={"next": 1})
    broken = api.get("me/")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    _rule(Plane(api), effect={"kind": "truncate", "fraction": 0.5}, trigger={"next": 1})
    with pytest.raises(Dropped):
        api.get("me/")


def test_the_fault_header_fires_a_rule_once(api: Api) -> None:
    plane = Plane(api)
    _rule(plane, id="boom", effect={"kind": "status", "status": 503}, trigger={"after": 1000})
    assert api.get("me/").status_code == 200
    assert api.get("me/", headers={"x-crmapi-fault": "boom"}).status_code == 503


def test_page_drift_shifts_every_later_page_of_the_listing(api: Api) -> None:
    plane = Plane(api)
    lead = api.ok("POST", "lead/", {"name": "L"})["id"]
    for i in range(9):
        api.ok("POST", "activity/note/", {"lead_id": lead, "note": f"n{i}"})
    truth = [a["id"] for a in api.ok("GET", "activity/note/", params={"lead_id": lead})["data"]]
    _rule(
        plane,
        id="drift",
        match={"path": "/api/v1/activity/note/"},
        effect={"kind": "page_drift", "mode": "delete"},
        trigger={"next": 1},
    )

    def sync() -> list[str]:
        seen: list[str] = []
        skip = 0
        while True:
            page = api.ok(
                "GET", "activity/note/", params={"lead_id": lead, "_skip": skip, "_limit": 3}
            )
            seen += [a["id"] for a in page["data"]]
            if not page["has_more"]:
                return seen
            skip += 3

    drifted = sync()
    assert set(truth) - set(drifted) == {truth[3]}  # the first record of the second page
    assert sync() == truth  # the rule is spent: a new pass from _skip=0 reads everything
    entry = plane.ok("POST", "/journal/find", {"criteria": {"fault": "drift"}})["data"]
    assert [e["fault"]["served_skip"] for e in reversed(entry)] == [4, 7]
    _rule(
        plane,
        id="grow",
        match={"path": "/api/v1/activity/note/"},
        effect={"kind": "page_drift", "mode": "insert"},
        trigger={"next": 1},
    )
    doubled = sync()
    assert set(doubled) == set(truth)
    assert doubled.count(truth[2]) == 2


@pytest.mark.parametrize(
    "rule",
    [
        {"effect": {"kind": "explode"}},
        {"effect": {"kind": "status", "status": 418}},
        {"effect": {"kind": "latency"}},
        {"effect": {"kind": "status", "status": 503}, "trigger": {"next": 0}},
        {"effect": {"kind": "status", "status": 503}, "trigger": {"probability": 2}},
        {"effect": {"kind": "status", "status": 503}, "match": {"colour": "red"}},
        {"effect": {"kind": "webhook", "mode": "lose"}},
        {"effect": {"kind": "status", "status": 503}, "trigger": {"window": {"from": "soon"}}},
        [],
    ],
)
def test_bad_rules_are_close_style_400s(api: Api, rule: Any) -> None:
    response = Plane(api).request("POST", "/faults", rule)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"errors", "field-errors"}


def test_replace_list_delete_and_clear(api: Api) -> None:
    plane = Plane(api)
    _rule(plane, id="a", effect={"kind": "drop"})
    assert (
        plane.request("POST", "/faults", {"id": "a", "effect": {"kind": "drop"}}).status_code == 400
    )
    replaced = plane.ok(
        "PUT",
        "/faults",
        {
            "rules": [
                {"id": "b", "effect": {"kind": "status", "status": 503}, "trigger": {"next": 1}},
                {"id": "c", "effect": {"kind": "latency", "ms": 1}},
            ]
        },
    )["data"]
    assert [r["id"] for r in replaced] == ["b", "c"]
    assert plane.ok("DELETE", "/faults/b") == {}
    assert plane.request("GET", "/faults/b").status_code == 404
    assert plane.ok("DELETE", "/faults") == {"cleared": 1}
    assert plane.ok("GET", "/faults")["data"] == []


def test_one_orgs_faults_are_invisible_to_another(api: Api, other: Api) -> None:
    _rule(Plane(api), effect={"kind": "status", "status": 503})
    assert other.get("me/").status_code == 200
    assert Plane(other).ok("GET", "/faults")["data"] == []
    assert Plane(api).request("GET", "/faults", auth=(other.key, "")).status_code == 404
    assert (
        Plane(api)
        .request("POST", "/faults", {"effect": {"kind": "drop"}}, auth=(other.key, ""))
        .status_code
        == 404
    )


def test_global_rules_need_the_admin_token_and_apply_to_every_org(
    settings: Settings, tmp_path: Any
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps(
            [
                {
                    "id": "file",
                    "effect": {"kind": "status", "status": 502},
                    "match": {"group": "user"},
                }
            ]
        )
    )
    app = create_app(
        Settings(**{**settings.__dict__, "admin_token": "s3cret", "faults_file": str(faults)}),
        migrate_schema=False,
    )
    admin = {"x-crmapi-admin-token": "s3cret"}
    with TestClient(app) as client:
        one, two = make_org(app, client), make_org(app, client, "B", "b@b.example")
        assert one.get("user/").status_code == 502  # loaded from CRMAPI_FAULTS_FILE
        assert (
            client.post(
                "/_crmapi/faults", json={"effect": {"kind": "drop"}}, auth=(one.key, "")
            ).status_code
            == 401
        )
        created = client.post(
            "/_crmapi/faults",
            headers=admin,
            json={
                "id": "all",
                "effect": {"kind": "status", "status": 503},
                "match": {"group": "me"},
            },
        )
        assert created.status_code == 200, created.text
        assert one.get("me/").status_code == 503
        assert two.get("me/").status_code == 503
        ids = [r["id"] for r in client.get("/_crmapi/faults", headers=admin).json()["data"]]
        assert ids == ["file", "all"]
        assert client.delete("/_crmapi/faults", headers=admin).json() == {"cleared": 2}
        assert one.get("me/").status_code == 200
    app.state.db.dispose()


def test_global_rules_one_by_one(settings: Settings) -> None:
    app = create_app(
        Settings(**{**settings.__dict__, "admin_token": "s3cret"}), migrate_schema=False
    )
    admin = {"x-crmapi-admin-token": "s3cret"}
    with TestClient(app) as client:
        api = make_org(app, client)
        put = client.put(
            "/_crmapi/faults",
            headers=admin,
            json={
                "rules": [
                    {
                        "id": "g1",
                        "effect": {"kind": "status", "status": 503},
                        "trigger": {"next": 1},
                    }
                ]
            },
        )
        assert put.status_code == 200, put.text
        assert api.get("me/").status_code == 503
        one = client.get("/_crmapi/faults/g1", headers=admin).json()
        assert (one["scope"], one["fired"], one["exhausted"]) == ("global", 1, True)
        assert client.get("/_crmapi/faults/g1", auth=(api.key, "")).status_code == 401
        assert Plane(api).ok("GET", "/faults")["data"] == []  # not the org's own rules
        assert client.delete("/_crmapi/faults/g1", headers=admin).json() == {}
        assert client.get("/_crmapi/faults/g1", headers=admin).status_code == 404
    app.state.db.dispose()
