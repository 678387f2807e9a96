"""Who may call, and how fast that changes: membership deactivation and key revocation take
effect with the next request; the login throttle believes X-Forwarded-For only from trusted
proxies and never locks out credentials that were working; /user/ shows only the caller's
organization. Both backends, through the real app."""

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.cli import cli
from crmapi.resources import accounts
from crmapi.settings import Settings
from crmapi.storage import tables as t
from tests.conftest import Api, make_org

FAILURES_ALLOWED = 3
PROXY = "10.0.0.7"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A long auth cache setting on purpose: nothing may keep a revoked credential alive.
    return Settings(
        database_url=database_url,
        auth_cache_seconds=60,
        auth_failures_per_minute=FAILURES_ALLOWED,
        trusted_proxies="10.0.0.0/24, 192.0.2.1",
        background_workers=False,
    )


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", client=(PROXY, 40000)) as c:
        yield c


def add_member(app: Any, api: Api, email: str) -> Api:
    with app.state.db.write() as conn:
        added = accounts.add_user(conn, api.org_id, email)
    return Api(api.client, added["api_key"], {"organization_id": api.org_id, **added})


def membership_id(app: Any, org_id: str, user_id: str) -> str:
    with app.state.db.read() as conn:
        return str(
            conn.execute(
                select(t.membership.c.id).where(
                    t.membership.c.organization_id == org_id, t.membership.c.user_id == user_id
                )
            ).scalar()
        )


# Membership deactivation: DELETE /membership/{id}/ (Close) -------------------------------


def test_a_deactivated_member_is_refused_at_once(app: Any, api: Api) -> None:
    member = add_member(app, api, "member@acme.example")
    assert member.ok("GET", "me/")["id"] == member.user_id  # the key works (and is "known")
    memb = membership_id(app, api.org_id, member.user_id)
    assert api.ok("DELETE", f"membership/{memb}/") == {}
    refused = member.get("me/")
    assert refused.status_code == 401
    assert "error" in refused.json()
    organization = api.ok("GET", f"organization/{api.org_id}/")
    assert [m["user_id"] for m in organization["inactive_memberships"]] == [member.user_id]
    assert member.user_id not in [m["user_id"] for m in organization["memberships"]]
    with app.state.db.read() as conn:
        events = conn.execute(
            select(t.event.c.action).where(
                t.event.c.organization_id == api.org_id, t.event.c.object_type == "membership"
            )
        ).all()
    assert [e.action for e in events] == ["deactivated"]
    # Deactivating again changes nothing and is still answered like Close's delete.
    assert api.ok("DELETE", f"membership/{memb}/") == {}


# (who asks, whose membership, expected status)
DEACTIVATION_RULES = [
    ("member", "admin", 403),
    ("admin", "admin", 400),
    ("other", "member", 404),
    ("admin", "unknown", 404),
]


@pytest.mark.parametrize(("caller", "target", "status"), DEACTIVATION_RULES)
def test_only_an_admin_deactivates_another_member_of_its_organization(
    app: Any, api: Api, other: Api, caller: str, target: str, status: int
) -> None:
    member = add_member(app, api, "member@acme.example")
    callers = {"admin": api, "member": member, "other": other}
    targets = {
        "admin": membership_id(app, api.org_id, api.user_id),
        "member": membership_id(app, api.org_id, member.user_id),
        "unknown": "memb_" + "x" * 40,
    }
    response = callers[caller].delete(f"membership/{targets[target]}/")
    assert response.status_code == status, response.text
    assert set(response.json()) & {"error", "errors"}
    assert api.get("me/").status_code == 200
    assert member.get("me/").status_code == 200


# CLI verbs ----------------------------------------------------------------------------


def run_cli(database_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env={"CRMAPI_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    return result


def test_key_revoke_takes_effect_at_once(app: Any, api: Api, database_url: str) -> None:
    member = add_member(app, api, "member@acme.example")
    assert member.get("me/").status_code == 200
    listed = run_cli(database_url, "key", "list", "--org", api.org_id).output
    assert member.user_id in listed
    assert member.key not in listed
    run_cli(database_url, "key", "revoke", member.key)
    assert member.get("me/").status_code == 401
    assert api.get("me/").status_code == 200
    with app.state.db.read() as conn:
        key_id = conn.execute(
            select(t.api_key.c.id).where(t.api_key.c.user_id == api.user_id)
        ).scalar()
    run_cli(database_url, "key", "revoke", str(key_id))  # by id as well
    assert api.get("me/").status_code == 401
    missing = CliRunner().invoke(
        cli, ["key", "revoke", "api_nope"], env={"CRMAPI_DATABASE_URL": database_url}
    )
    assert missing.exit_code == 1


def test_user_deactivate_takes_effect_at_once(app: Any, api: Api, database_url: str) -> None:
    member = add_member(app, api, "member@acme.example")
    with app.state.db.write() as conn:
        token = accounts.create_access_token(conn, api.org_id, member.user_id, 600)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert member.get("me/").status_code == 200
    assert member.get("me/", auth=None, headers=bearer).status_code == 200
    run_cli(database_url, "user", "deactivate", "--org", api.org_id, "--user", member.user_id)
    assert member.get("me/").status_code == 401
    assert member.get("me/", auth=None, headers=bearer).status_code == 401
    assert api.get("me/").status_code == 200


# /user/ and /me/ show only the caller's organization -------------------------------------


def test_user_shows_only_the_callers_organization(app: Any, api: Api, other: Api) -> None:
    shared = add_member(app, api, "shared@example.com")
    with app.state.db.write() as conn:
        accounts.add_user(conn, other.org_id, "shared@example.com")
    for item in api.ok("GET", "user/")["data"]:
        assert item["organizations"] == [api.org_id]
    assert api.ok("GET", f"user/{shared.user_id}/")["organizations"] == [api.org_id]
    assert other.ok("GET", f"user/{shared.user_id}/")["organizations"] == [other.org_id]
    assert [o["id"] for o in shared.ok("GET", "me/")["organizations"]] == [api.org_id]


# Login throttle ---------------------------------------------------------------------------


def fail(api: Api, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return int(api.get("me/", auth=("api_wrong", ""), headers=headers).status_code)


def test_forwarded_for_is_believed_only_from_trusted_proxies(app: Any, api: Api) -> None:
    # The test client's peer (10.0.0.7) is a trusted proxy: each forwarded client counts apart.
    for _ in range(FAILURES_ALLOWED):
        assert fail(api, "203.0.113.5") == 401
    assert fail(api, "203.0.113.5") == 429
    assert fail(api, "203.0.113.6") == 401
    # Whatever the client prepends is not believed: the proxy's own entry is the last one.
    assert fail(api, "198.51.100.1, 203.0.113.5") == 429
    # The nearest untrusted hop counts, past a chain of trusted proxies.
    assert fail(api, "203.0.113.5, 192.0.2.1") == 429


def test_forwarded_for_from_anyone_else_is_ignored(settings: Settings) -> None:
    app = create_app(Settings(**{**settings.__dict__, "trusted_proxies": ""}), migrate_schema=False)
    with TestClient(app, client=(PROXY, 40000)) as client:
        api = make_org(app, client)
        # Rotating X-Forwarded-For does not reset the count: the peer is the client.
        statuses = [fail(api, f"203.0.113.{i}") for i in range(FAILURES_ALLOWED + 2)]
    app.state.db.dispose()
    assert statuses == [401] * FAILURES_ALLOWED + [429, 429]


def test_the_throttle_never_locks_out_working_credentials(app: Any, api: Api) -> None:
    fresh = add_member(app, api, "fresh@acme.example")
    assert api.get("me/").status_code == 200  # known good from this address
    for _ in range(FAILURES_ALLOWED):
        assert fail(api) == 401
    assert fail(api) == 429  # guesses are refused unchecked
    assert api.get("me/").status_code == 200  # the working key still works
    # A valid key never seen working is refused like a guess: a lockout confirms nothing.
    assert fresh.get("me/").status_code == 429
    with app.state.db.write() as conn:
        accounts.revoke_api_key(conn, api.key)
    assert api.get("me/").status_code == 401  # known, but revoked: checked, refused


# Durability setting -----------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_synchronous_follows_the_setting(
    database_url: str, monkeypatch: pytest.MonkeyPatch, setting: str, pragma: int
) -> None:
    monkeypatch.setenv("CRMAPI_SQLITE_SYNCHRONOUS", setting.lower())
    app = create_app(Settings.from_env(database_url=database_url), migrate_schema=False)
    with TestClient(app) as client:
        api = make_org(app, client)
        assert api.ok("POST", "lead/", {"name": "durable"})["name"] == "durable"
    if app.state.db.dialect == "sqlite":
        with app.state.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
    app.state.db.dispose()


def test_an_unknown_synchronous_setting_is_refused(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite setting")
    with pytest.raises(ValueError, match="CRMAPI_SQLITE_SYNCHRONOUS"):
        create_app(Settings(database_url=database_url, sqlite_synchronous="OFF"))
