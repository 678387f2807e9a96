"""Bounded resources and hostile input: every overflow or malformed request is a clean 4xx
with a JSON body (table-driven; each row is one rule of docs/reliability.md)."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from crmapi.settings import Settings
from tests.conftest import Api

MAX_BODY = 4096
LONG_ID = "lead_" + "x" * 5000


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        max_body_bytes=MAX_BODY,
        request_timeout_seconds=0.5,
    )


def ids(n: int) -> str:
    return ",".join(f"lead_{i:040d}" for i in range(n))


# (name, method, path, request kwargs, expected status, a fragment of the body)
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    (
        "body over the limit",
        "POST",
        "lead/",
        {
            "content": b'{"name": "' + b"x" * MAX_BODY + b'"}',
            "headers": {"content-type": "application/json"},
        },
        413,
        "larger than",
    ),
    (
        "declared length over the limit",
        "POST",
        "lead/",
        {
            "content": b"{}",
            "headers": {"content-type": "application/json", "content-length": str(MAX_BODY * 10)},
        },
        413,
        "larger",
    ),
    ("_limit above the maximum", "GET", "lead/?_limit=201", {}, 400, "_limit"),
    ("_limit not a number", "GET", "lead/?_limit=ten", {}, 400, "_limit"),
    ("_limit negative", "GET", "lead/?_limit=-1", {}, 400, "_limit"),
    ("_skip huge", "GET", "lead/?_skip=99999999999999999999999", {}, 400, "too large"),
    ("id__in with too many ids", "GET", f"lead/?id__in={ids(1001)}", {}, 400, "Too many"),
    (
        "_fields with too many names",
        "GET",
        "lead/?_fields=" + ",".join(f"f{i}" for i in range(201)),
        {},
        400,
        "Too many fields",
    ),
    ("parameter value too long", "GET", "lead/?query=" + "q" * 65_000, {}, 400, "too long"),
    (
        "_params name too long",
        "GET",
        "lead/",
        {"json": {"_params": {"q" * 300: "1"}}},
        400,
        "too long",
    ),
    (
        "NUL in a nested JSON value",
        "POST",
        "lead/",
        {"json": {"addresses": [{"address_1": "a\x00"}]}},
        400,
        "Null characters",
    ),
    ("NUL in a JSON key", "POST", "lead/", {"json": {"custom.cf_\x00": "x"}}, 400, "Null"),
    ("filter value too long", "GET", "lead/?id=" + "x" * 600, {}, 400, "Invalid value"),
    (
        "too many parameters",
        "GET",
        "lead/?" + "&".join(f"p{i}=1" for i in range(1001)),
        {},
        400,
        "parameters",
    ),
    ("path too long", "GET", f"lead/{LONG_ID}/", {}, 414, "too long"),
    ("unknown long id", "GET", "lead/lead_" + "x" * 500 + "/", {}, 404, "does not exist"),
    ("repeated parameter", "GET", "lead/?_limit=1&_limit=2", {}, 400, "more than once"),
    ("invalid UTF-8 in the query", "GET", "lead/?_order_by=%FF%FE", {}, 400, "_order_by"),
    ("invalid UTF-8 in a filter", "GET", "lead/?id=%FF", {}, 200, "data"),
    ("invalid UTF-8 in the path", "GET", "lead/%FF%FE/", {}, 404, "error"),
    (
        "invalid UTF-8 in the body",
        "POST",
        "lead/",
        {"content": b'{"name": "\xff\xfe"}', "headers": {"content-type": "application/json"}},
        400,
        "not valid JSON",
    ),
    (
        "deeply nested JSON",
        "POST",
        "lead/",
        {
            "content": b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}",
            "headers": {"content-type": "application/json"},
        },
        400,
        "not valid JSON",
    ),
    ("JSON that is not an object", "POST", "lead/", {"json": [1, 2]}, 400, "JSON object"),
    ("NUL byte in a string field", "POST", "lead/", {"json": {"name": "a\x00b"}}, 400, "Null"),
    ("NUL byte in a query value", "GET", "lead/?id=lead_a%00b", {}, 400, "Invalid value"),
    ("NUL byte in the path", "GET", "lead/lead_a%00b/", {}, 404, "error"),
    (
        "text/plain body",
        "POST",
        "lead/",
        {"content": b"name=x", "headers": {"content-type": "text/plain"}},
        415,
        "application/json",
    ),
    ("form-encoded body", "POST", "lead/", {"data": {"name": "x"}}, 415, "application/json"),
    (
        "invalid JSON",
        "POST",
        "lead/",
        {"content": b"{name:", "headers": {"content-type": "application/json"}},
        400,
        "not valid JSON",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_answers_overflow_and_malformed_input_with_a_clean_4xx(
    api: Api, method: str, path: str, kw: dict[str, Any], status: int, fragment: str
) -> None:
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    assert fragment in response.text
    if status == 400:
        assert set(response.json()) >= {"errors", "field-errors"}


def test_it_changes_nothing_when_a_body_is_refused(api: Api) -> None:
    before = api.ok("GET", "lead/?_limit=0")["total_results"]
    for kw in ({"json": {"name": "a\x00b"}}, {"content": b"x" * (MAX_BODY + 1)}):
        assert api.request("POST", "lead/", **kw).status_code in (400, 413, 415)
    assert api.ok("GET", "lead/?_limit=0")["total_results"] == before


@pytest.fixture
def slow_auth(app: Any) -> Iterator[None]:
    real = app.state.auth.authenticate

    def slow(*args: Any) -> Any:
        time.sleep(1.0)
        return real(*args)

    app.state.auth.authenticate = slow
    yield
    app.state.auth.authenticate = real


def test_it_answers_503_when_a_request_passes_its_deadline(api: Api, slow_auth: None) -> None:
    response = api.get("lead/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "longer than 0.5 seconds" in response.json()["error"]["message"]
