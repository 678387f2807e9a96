"""Rate limits: per API key and 3x per organization, per endpoint group, as Close applies them.

The limiter is tested with a fake clock; the headers and the 429 body through the real app
(both backends), since three different clients parse them in three different ways.
"""

import re
from typing import Any

import pytest

from crmapi.domain.context import Principal
from crmapi.domain.errors import RateLimited
from crmapi.http.ratelimit import RateLimiter, endpoint_group
from crmapi.resources import accounts
from crmapi.settings import Settings
from tests import factories
from tests.conftest import Api


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def who(key: str = "k1", org: str = "orga_1") -> Principal:
    return Principal(organization_id=org, user_id="user_1", api_key_id=key)


@pytest.mark.parametrize(
    ("template", "method", "group"),
    [
        ("/lead/", "GET", "lead"),
        ("/lead/{id}/", "GET", "lead"),
        ("/lead/", "POST", "lead:write"),
        ("/lead/{id}/", "PUT", "lead:write"),
        ("/lead/{id}/", "DELETE", "lead:write"),
        ("/activity/", "GET", "activity"),
        ("/activity/note/{id}/", "GET", "activity/note"),
        ("/activity/status_change/lead/", "GET", "activity/status_change/lead"),
        ("/me/", "GET", "me"),
        ("/organization/{id}/", "GET", "organization"),
        ("/", "GET", "root"),
    ],
)
def test_it_groups_endpoints_by_resource_and_read_or_write(
    template: str, method: str, group: str
) -> None:
    assert endpoint_group(template, method) == group


def _run(limiter: RateLimiter, clock: Clock, steps: list[tuple[float, str, str, str]]) -> list[Any]:
    """Each step is (time, key, org, group); the outcome is remaining or the 429's kind."""
    out: list[Any] = []
    for at, key, org, group in steps:
        clock.now = 1000.0 + at
        try:
            found = limiter.check(who(key, org), group)
        except RateLimited as exc:
            out.append(exc.limit_type)
        else:
            out.append(int(found["RateLimit-Remaining"]))
    return out


A, B = "orga_a", "orga_b"
CASES = {
    "key limit then 429": (
        2,
        [(0, "k1", A, "g"), (0.1, "k1", A, "g"), (0.2, "k1", A, "g")],
        [1, 0, "key"],
    ),
    "a new window starts afresh": (
        2,
        [(0, "k1", A, "g"), (0.1, "k1", A, "g"), (0.2, "k1", A, "g"), (1.0, "k1", A, "g")],
        [1, 0, "key", 1],
    ),
    "groups are counted apart": (
        1,
        [(0, "k1", A, "g"), (0, "k1", A, "g:write"), (0, "k1", A, "h"), (0, "k1", A, "g")],
        [0, 0, 0, "key"],
    ),
    "keys are counted apart": (
        1,
        [(0, "k1", A, "g"), (0, "k2", A, "g"), (0, "k1", A, "g")],
        [0, 0, "key"],
    ),
    "organization allows 3x the key limit": (
        1,
        [(0, "k1", A, "g"), (0, "k2", A, "g"), (0, "k3", A, "g"), (0, "k4", A, "g")],
        [0, 0, 0, "organization"],
    ),
    "organizations are counted apart": (
        1,
        [(0, "k1", A, "g"), (0, "k2", A, "g"), (0, "k3", A, "g"), (0, "k4", B, "g")],
        [0, 0, 0, 0],
    ),
    "headers report the bucket closest to running out": (
        2,
        # org limit 6: k4's first request leaves its key 1 but the organization 0.
        [(0, "k1", A, "g")] * 2
        + [(0, "k2", A, "g")] * 2
        + [(0, "k3", A, "g")]
        + [(0, "k4", A, "g")] * 2,
        [1, 0, 1, 0, 1, 0, "organization"],
    ),
    "a refused request is not counted": (
        1,
        [(0, "k1", A, "g"), (0.5, "k1", A, "g"), (0.9, "k1", A, "g"), (1.0, "k1", A, "g")],
        [0, "key", "key", 0],
    ),
}


@pytest.mark.parametrize(("per_key", "steps", "expected"), CASES.values(), ids=CASES.keys())
def test_it_limits_per_key_and_organization_per_group(
    per_key: int, steps: list[tuple[float, str, str, str]], expected: list[Any]
) -> None:
    clock = Clock()
    assert _run(RateLimiter(per_key, 1, clock), clock, steps) == expected


def test_it_reports_the_time_left_in_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 10, clock)
    first = limiter.check(who(), "g")
    assert first["RateLimit"] == "limit=1, remaining=0, reset=10"
    assert first["X-Rate-Limit-Reset"] == "10.000"
    clock.now += 7.5
    with pytest.raises(RateLimited) as refused:
        limiter.check(who(), "g")
    assert (refused.value.reset, refused.value.limit, refused.value.window) == (2.5, 1, 10)


def test_it_is_off_when_the_limit_is_zero() -> None:
    limiter = RateLimiter(0)
    assert [limiter.check(who(), "g") for _ in range(3)] == [{}, {}, {}]


def test_it_forgets_expired_windows_when_holding_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("crmapi.http.ratelimit.PRUNE_AT", 3)
    clock = Clock()
    limiter = RateLimiter(5, 1, clock)
    for key in ("k1", "k2", "k3"):
        limiter.check(who(key), "g")
    clock.now += 2
    limiter.check(who("k5"), "g")
    assert len(limiter._counts) == 2  # k4 and the organization: expired ones pruned


# --- through the app ----------------------------------------------------------------------

PER_KEY = 3


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A long window so that no test straddles a reset.
    return Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        rate_limit_per_key=PER_KEY,
        rate_limit_window=60,
    )


@pytest.fixture
def lead_id(api: Api) -> str:
    return factories.lead(api, "Rate Co")["id"]


HEADER_FORMS = {
    "RateLimit": r"limit=3, remaining=\d, reset=(60|59)",
    "RateLimit-Limit": r"3",
    "RateLimit-Remaining": r"\d",
    "RateLimit-Reset": r"60|59",
    "X-Rate-Limit-Limit": r"3",
    "X-Rate-Limit-Remaining": r"\d",
    "X-Rate-Limit-Reset": r"\d+\.\d{3}",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "me/"), ("GET", "lead/"), ("GET", "activity/"), ("POST", "activity/note/")],
)
def test_it_sends_rate_limit_headers_on_every_response(
    api: Api, lead_id: str, method: str, path: str
) -> None:
    body = {"lead_id": lead_id, "note": "hi"} if method == "POST" else None
    response = api.request(method, path, json=body)
    assert response.status_code == 200, response.text
    for name, pattern in HEADER_FORMS.items():
        assert re.fullmatch(pattern, response.headers[name]), (name, response.headers[name])


def test_it_counts_down_remaining_within_a_group(api: Api) -> None:
    seen = [api.get("me/").headers["RateLimit-Remaining"] for _ in range(PER_KEY)]
    assert seen == ["2", "1", "0"]


def _exhaust(api: Api, path: str) -> Any:
    for _ in range(PER_KEY):
        assert api.get(path).status_code == 200
    return api.get(path)


def test_it_answers_429_in_the_shape_every_client_reads(api: Api) -> None:
    response = _exhaust(api, "lead/")
    assert response.status_code == 429
    headers = response.headers
    reset = int(headers["Retry-After"])
    assert 1 <= reset <= 60
    # closeio: RateLimit reset (integer); then Retry-After. tap-closeio: X-Rate-Limit-*.
    assert re.fullmatch(r"limit=3, remaining=0, reset=\d+", headers["RateLimit"])
    assert headers["RateLimit-Reset"] == str(reset)
    assert (headers["RateLimit-Remaining"], headers["X-Rate-Limit-Remaining"]) == ("0", "0")
    assert 0 < float(headers["X-Rate-Limit-Reset"]) <= reset
    body = response.json()
    error = body["error"]
    # tap-closeio sleeps body["rate_reset"]; Airbyte sleeps body["error"]["rate_reset"].
    assert body["rate_reset"] == error["rate_reset"]
    assert 0 < error["rate_reset"] <= reset
    assert error == {
        "message": "API call count exceeded for this period",
        "rate_endpoint_group": "lead",
        "rate_limit": PER_KEY,
        "rate_limit_type": "key",
        "rate_reset": error["rate_reset"],
        "rate_window": 60,
    }


@pytest.mark.parametrize(
    ("exhausted", "method", "path", "status"),
    [
        ("lead/", "GET", "lead/", 429),
        ("lead/", "GET", "lead/{lead}/", 429),  # item and collection share a group
        ("lead/", "PUT", "lead/{lead}/", 200),  # writes are counted apart from reads
        ("lead/", "GET", "contact/", 200),  # another resource
        ("activity/", "GET", "activity/note/", 200),  # typed lists apart from the feed
        ("activity/note/", "GET", "activity/note", 429),  # no trailing slash: same group
    ],
)
def test_it_applies_limits_per_endpoint_group(
    api: Api, lead_id: str, exhausted: str, method: str, path: str, status: int
) -> None:
    # lead_id's POST used one write; exhaust the read group, then probe.
    assert _exhaust(api, exhausted).status_code == 429
    body = {"name": "Renamed"} if method == "PUT" else None
    response = api.request(method, path.format(lead=lead_id), json=body)
    assert response.status_code == status, response.text


def test_it_does_not_slow_down_another_organization(api: Api, other: Api) -> None:
    assert _exhaust(api, "lead/").status_code == 429
    assert other.get("lead/").status_code == 200


def test_it_limits_an_organization_at_three_times_the_key_limit(app: Any, api: Api) -> None:
    with app.state.db.write() as conn:
        keys = [
            accounts.add_user(conn, api.org_id, f"u{i}@acme.example", None, None)["api_key"]
            for i in range(3)
        ]
    org = {"organization_id": api.org_id, "user_id": api.user_id}
    callers = [api, *(Api(api.client, key, org) for key in keys)]
    statuses = []
    for caller in callers:
        for _ in range(PER_KEY):
            statuses.append(caller.get("me/").status_code)
    assert statuses == [200] * (3 * PER_KEY) + [429] * PER_KEY
    refused = callers[3].get("me/").json()["error"]
    assert (refused["rate_limit_type"], refused["rate_limit"]) == ("organization", 3 * PER_KEY)
