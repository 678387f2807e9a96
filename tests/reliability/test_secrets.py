"""API keys and tokens: shown once, stored hashed, never logged, guessing rate-limited."""

import base64
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from crmapi.resources import accounts
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.tables import metadata
from tests.conftest import Api
from tests.reliability.server import Server, create_org

FAILURES_ALLOWED = 5


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, auth_cache_seconds=0, auth_failures_per_minute=FAILURES_ALLOWED
    )


def all_text(app: Any) -> str:
    """Every value of every table, as one string (to search for a plaintext secret)."""
    parts = []
    with app.state.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def issue_token(app: Any, api: Api) -> str:
    with app.state.db.write() as conn:
        return str(
            accounts.create_access_token(conn, api.org_id, api.user_id, 3600)["access_token"]
        )


def test_it_stores_keys_and_tokens_only_as_sha256_digests(app: Any, api: Api) -> None:
    token = issue_token(app, api)
    with app.state.db.read() as conn:
        key_hashes = set(conn.execute(select(t.api_key.c.key_hash)).scalars())
        token_hashes = set(conn.execute(select(t.access_token.c.token_hash)).scalars())
    assert hashlib.sha256(api.key.encode()).hexdigest() in key_hashes
    assert hashlib.sha256(token.encode()).hexdigest() in token_hashes
    stored = all_text(app)
    assert api.key not in stored
    assert token not in stored
    assert api.ok("GET", "me/")["id"] == api.user_id
    bearer = api.request("GET", "me/", auth=None, headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


def test_it_compares_digests_in_constant_time(
    app: Any, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(accounts.hmac, "compare_digest", spy)
    api.ok("GET", "me/")
    token = issue_token(app, api)
    api.request("GET", "me/", auth=None, headers={"Authorization": f"Bearer {token}"})
    assert len(calls) == 2


def test_it_limits_failed_authentications_per_client_address(api: Api) -> None:
    for _ in range(FAILURES_ALLOWED):
        assert api.get("me/", auth=("api_wrong", "")).status_code == 401
    limited = api.get("me/", auth=("api_wrong", ""))
    assert limited.status_code == 429
    body = limited.json()
    assert body["error"]["rate_limit_type"] == "address"
    assert body["rate_reset"] > 0
    assert "reset=" in limited.headers["RateLimit"]
    # While the address is blocked even a right key is refused: answers must not confirm guesses.
    assert api.get("me/").status_code == 429


def test_it_does_not_count_requests_without_credentials(api: Api) -> None:
    for _ in range(FAILURES_ALLOWED * 2):
        assert api.get("me/", auth=None).status_code == 401
    assert api.get("me/").status_code == 200


def secrets_of(key: str, token: str) -> list[str]:
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return [key, token, basic, key[4:20], token[4:20]]


def exercise(get: Any, key: str, token: str) -> None:
    """Authenticated, failed, malformed and erroring requests, each carrying a secret."""
    get("me/", auth=(key, ""))
    get("me/", headers={"Authorization": f"Bearer {token}"})
    get("lead/?_limit=oops", auth=(key, ""))
    get("me/", auth=(key + "x", ""))
    get("me/", headers={"Authorization": f"Bearer {token}x"})
    get("me/", headers={"Authorization": f"Basic {key}"})  # not base64: malformed
    get("nope/", auth=(key, ""))


def test_it_never_logs_keys_or_tokens_in_process(
    app: Any, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token = issue_token(app, api)
    for name in ("", "crmapi", "sqlalchemy.engine", "httpx", "uvicorn"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            exercise(lambda path, **kw: api.request("GET", path, **kw), api.key, token)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logged = caplog.text
    assert "SELECT" in logged  # the SQL log really was on
    for secret in secrets_of(api.key, token):
        assert secret not in logged


def test_it_never_logs_keys_or_tokens_from_the_server(
    fresh_database_url: str, tmp_path: Path
) -> None:
    org = create_org(fresh_database_url, "Logs", "logs@example.com")
    from crmapi.storage.db import Database

    db = Database(fresh_database_url)
    with db.write() as conn:
        token = accounts.create_access_token(conn, org["organization_id"], org["user_id"], 600)
    db.dispose()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = Server(fresh_database_url, log, ("--log-level", "debug", "--access-log"))
        with server:

            def get(path: str, **kw: Any) -> None:
                requests.get(f"{server.base}/api/v1/{path}", timeout=10, **kw)

            exercise(get, org["api_key"], token["access_token"])
    logged = log_path.read_text(errors="replace")
    assert "GET /api/v1/me/" in logged  # the access log really was on
    for secret in secrets_of(org["api_key"], token["access_token"]):
        assert secret not in logged
