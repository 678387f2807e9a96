"""Strict mode: every kind of input Close accepts and ignores, in warn and in strict."""

from typing import Any

import pytest

from tests.conftest import Api
from tests.emulator_helpers import Plane

# (kind, method, path, params, body, expected warning); "{lead}" is replaced by a real lead.
CASES = [
    ("unknown_param", "GET", "lead/", {"limit": "1"}, None, "unknown_param=limit"),
    ("unknown_param", "GET", "me/", {"format": "json"}, None, "unknown_param=format"),
    ("unknown_field", "GET", "lead/", {"_fields": "id,nmae"}, None, "unknown_field=nmae"),
    ("unknown_key", "POST", "lead/", {}, {"name": "A", "colour": "red"}, "unknown_key=colour"),
    (
        "read_only_key",
        "POST",
        "lead/",
        {},
        {"name": "A", "date_created": "2020-01-01"},
        "read_only_key=date_created",
    ),
    ("read_only_key", "PUT", "lead/{lead}/", {}, {"contacts": []}, "read_only_key=contacts"),
    ("needs_lead_id", "GET", "activity/", {"user_id": "user_x"}, None, "needs_lead_id=user_id"),
    ("deprecated_param", "GET", "lead/", {"query": "name:A"}, None, "deprecated_param=query"),
    (
        "coerced_value",
        "POST",
        "activity/call/",
        {},
        {"lead_id": "{lead}", "duration": "60"},
        "coerced_value=duration",
    ),
]
IDS = [f"{c[0]}-{c[1]}-{c[2]}" for c in CASES]


def _send(
    api: Api, lead: str, method: str, path: str, params: dict[str, str], body: Any, level: str
) -> Any:
    if body is not None:
        body = {
            k: (v.replace("{lead}", lead) if isinstance(v, str) else v) for k, v in body.items()
        }
    return api.request(
        method,
        path.replace("{lead}", lead),
        params=params,
        json=body,
        headers={"x-crmapi-strict": level, "user-agent": "integration/2.0"},
    )


@pytest.mark.parametrize(("kind", "method", "path", "params", "body", "warning"), CASES, ids=IDS)
def test_warn_behaves_like_close_and_says_what_was_ignored(
    api: Api, kind: str, method: str, path: str, params: dict[str, str], body: Any, warning: str
) -> None:
    lead = api.ok("POST", "lead/", {"name": "L"})["id"]
    quiet = _send(api, lead, method, path, params, body, "off")
    loud = _send(api, lead, method, path, params, body, "warn")
    assert loud.status_code == quiet.status_code
    assert "x-crmapi-warnings" not in quiet.headers
    assert warning.split("=")[1] in loud.headers["x-crmapi-warnings"]
    assert loud.headers["x-crmapi-warnings"].split("=")[0] == kind
    entry = Plane(api).journal()[0]
    assert any(w.endswith("=" + warning.split("=")[1]) for w in entry["warnings"])


@pytest.mark.parametrize(("kind", "method", "path", "params", "body", "warning"), CASES, ids=IDS)
def test_strict_answers_closes_400_naming_the_problem(
    api: Api, kind: str, method: str, path: str, params: dict[str, str], body: Any, warning: str
) -> None:
    lead = api.ok("POST", "lead/", {"name": "L"})["id"]
    before = len(api.ok("GET", "event/")["data"])
    response = _send(api, lead, method, path, params, body, "strict")
    name = warning.split("=")[1]
    assert response.status_code == 400, response.text
    found = response.json()
    assert set(found) == {"errors", "field-errors"}
    assert name in found["field-errors"]
    assert len(api.ok("GET", "event/")["data"]) == before  # nothing was written


def test_clean_requests_get_no_warning(api: Api) -> None:
    lead = api.ok("POST", "lead/", {"name": "L"})["id"]
    for response in (
        api.get("lead/", params={"_limit": "1", "_fields": "id,name"}),
        api.get("activity/", params={"lead_id": lead, "user_id": api.user_id}),
        api.post("activity/note/", {"lead_id": lead, "note": "n"}),
    ):
        assert response.status_code == 200, response.text
        assert "x-crmapi-warnings" not in response.headers


def test_levels_per_org_and_report_by_user_agent(api: Api, other: Api) -> None:
    plane = Plane(api)
    assert plane.ok("GET", "/strict") == {"level": "warn", "organization": None, "server": "warn"}
    assert plane.ok("PUT", "/strict", {"level": "strict"})["level"] == "strict"
    assert api.get("lead/", params={"limit": "5"}).status_code == 400
    assert other.get("lead/", params={"limit": "5"}).status_code == 200  # not other orgs
    assert (
        api.get("lead/", params={"limit": "5"}, headers={"x-crmapi-strict": "off"}).status_code
        == 200
    )
    assert plane.request("PUT", "/strict", {"level": "loud"}).status_code == 400
    assert plane.ok("PUT", "/strict", {"level": None})["level"] == "warn"
    api.get("lead/", params={"limit": "5"}, headers={"user-agent": "tap/1"})
    api.get("lead/", params={"limit": "5"}, headers={"user-agent": "tap/1"})
    report = plane.ok("GET", "/strict/report")["data"]
    tap = next(r for r in report if r["user_agent"] == "tap/1")
    assert tap["warnings"][0]["code"] == "unknown_param"
    assert tap["warnings"][0]["count"] == 2
    assert Plane(other).ok("GET", "/strict/report")["data"][0]["user_agent"] != "tap/1"
    assert plane.request("GET", "/strict/report", auth=(other.key, "")).status_code == 404
    assert plane.ok("DELETE", "/strict/report") == {}
    assert plane.ok("GET", "/strict/report") == {"data": []}


def test_warnings_header_stays_valid_for_any_parameter_name(api: Api) -> None:
    response = api.get("me/", params={"\x1f bad\u00e9": "1", "x" * 150: "2"})
    assert response.status_code == 200
    header = response.headers["x-crmapi-warnings"]
    assert "unknown_param=%1F%20bad%C3%A9" in header
    assert header.isascii()
    assert len(header) <= 2000
