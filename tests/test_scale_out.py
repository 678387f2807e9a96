"""Several hosts on one database: shared rate limits, delivery and job leases, one slow
receiver not delaying another, the health endpoint and migrations that wait for each other.

Each "host" is a separate app (its own engine, limiter and lease identity) on the same real
database, which is what the processes of a deployment share; tests/test_multi_host.py runs
real processes behind HAProxy.
"""

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from starlette.testclient import TestClient

from crmapi import __version__
from crmapi.app import create_app
from crmapi.domain.context import Principal
from crmapi.domain.errors import RateLimited
from crmapi.events import delivery, jobs, retention
from crmapi.events.scheduler import Scheduler
from crmapi.http.ratelimit import RateLimiter
from crmapi.http.ratelimit_store import RedisWindows
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates
from tests.conftest import Api, make_org
from tests.services import redis_server
from tests.test_webhooks import NOTE_EVENTS, Receiver, quiet, subscribe

D = t.webhook_delivery


def later(seconds: float) -> str:
    return dates.canonical(dates.to_datetime(dates.now()) + timedelta(seconds=seconds))


# --- health ---------------------------------------------------------------------------------


def test_health_reports_the_backend_and_version(app: Any, client: TestClient) -> None:
    backend = "sqlite" if app.state.db.dialect == "sqlite" else "postgresql"
    for path in ("/_crmapi/health", "/_crmapi/health/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "backend": backend, "version": __version__}


def test_health_is_served_in_production_mode(database_url: str) -> None:
    settings = Settings(database_url=database_url, background_workers=False, mode="production")
    app = create_app(settings, migrate_schema=False)
    try:
        with TestClient(app) as client:
            assert client.get("/_crmapi/health").json()["status"] == "ok"
    finally:
        app.state.db.dispose()


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:////nonexistent-dir/crmapi.db", "sqlite"),
        ("postgresql://postgres@127.0.0.1:9/postgres", "postgresql"),  # nothing listens
    ],
)
def test_health_is_503_when_the_database_is_unreachable(url: str, backend: str) -> None:
    app = create_app(Settings(database_url=url, background_workers=False), migrate_schema=False)
    with TestClient(app) as client:
        response = client.get("/_crmapi/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "backend": backend, "version": __version__}
    assert response.headers["Retry-After"] == "2"


# --- shared rate limits -------------------------------------------------------------------


@pytest.fixture
def hosts(database_url: str) -> Iterator[list[Any]]:
    """Three apps on one database, as three hosts behind a load balancer."""
    settings = Settings(
        database_url=database_url,
        auth_cache_seconds=0,
        background_workers=False,
        rate_limit_per_key=4,
        rate_limit_window=60,
    )
    apps = [create_app(settings, migrate_schema=False) for _ in range(3)]
    yield apps
    for app in apps:
        app.state.limiter.close()
        app.state.db.dispose()


def test_one_key_has_one_limit_across_hosts_on_postgresql(hosts: list[Any]) -> None:
    shared = hosts[0].state.db.dialect == "postgresql"
    clients = [TestClient(app) for app in hosts]
    api = make_org(hosts[0], clients[0])
    seen = []
    for i in range(6):  # round robin, as HAProxy does
        response = clients[i % 3].get("/api/v1/me/", auth=(api.key, ""))
        seen.append((response.status_code, response.headers.get("RateLimit-Remaining")))
    if shared:
        # One window, counted down whichever host answers; the fifth request is refused.
        assert seen == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0"), (429, "0")]
    else:
        # SQLite is one machine: each process keeps its own windows (documented).
        assert [s for s, _ in seen] == [200] * 6


@pytest.fixture
def pg_url(postgres_url: str | None, _pg_migrated: str | None) -> str:
    """The session's migrated PostgreSQL; a failure in CI when there is none (as conftest)."""
    if _pg_migrated is None:
        if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (CRMAPI_REQUIRE_POSTGRES=1)")
        pytest.skip("PostgreSQL not available")
    return _pg_migrated


def test_with_redis_configured_every_backend_shares_one_limit(
    database_url: str, tmp_path: Path
) -> None:
    with redis_server(tmp_path) as redis_url:
        settings = Settings(
            database_url=database_url,
            auth_cache_seconds=0,
            background_workers=False,
            rate_limit_per_key=2,
            rate_limit_window=60,
            redis_url=redis_url,
        )
        apps = [create_app(settings, migrate_schema=False) for _ in range(2)]
        try:
            clients = [TestClient(app) for app in apps]
            api = make_org(apps[0], clients[0])
            seen = [
                (r.status_code, r.headers["RateLimit-Remaining"])
                for r in (clients[i % 2].get("/api/v1/me/", auth=(api.key, "")) for i in range(3))
            ]
        finally:
            for app in apps:
                app.state.limiter.close()
                app.state.db.dispose()
    assert seen == [(200, "1"), (200, "0"), (429, "0")]


SETTINGS_FROM_ENV = {
    "CRMAPI_REDIS_URL": ("redis_url", "redis://cache:6379/0"),
    "CRMAPI_WEBHOOK_LEASE_SECONDS": ("webhook_lease_seconds", 12.5),
    "CRMAPI_WEBHOOK_CONCURRENCY": ("webhook_concurrency", 32),
    "CRMAPI_WEBHOOK_CONCURRENCY_PER_DESTINATION": ("webhook_concurrency_per_destination", 3),
    "CRMAPI_WEBHOOK_CONCURRENCY_PER_ORGANIZATION": ("webhook_concurrency_per_organization", 5),
}


@pytest.mark.parametrize(("env", "expected"), SETTINGS_FROM_ENV.items(), ids=SETTINGS_FROM_ENV)
def test_scale_out_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: tuple[str, Any]
) -> None:
    monkeypatch.setenv(env, str(expected[1]))
    assert getattr(Settings.from_env(), expected[0]) == expected[1]


def test_the_default_lease_outlasts_two_timeouts() -> None:
    assert delivery.lease_seconds(Settings(webhook_timeout_seconds=10)) == 50
    assert delivery.lease_seconds(Settings(webhook_lease_seconds=8)) == 8


def test_postgresql_windows_restart_after_their_length(pg_url: str) -> None:
    settings = Settings(database_url=pg_url, rate_limit_per_key=1, rate_limit_window=1)
    app = create_app(settings, migrate_schema=False)
    limiter: RateLimiter = app.state.limiter
    who = Principal(organization_id="orga_x", user_id="user_x", api_key_id="k")
    try:
        assert limiter.check(who, "g")["RateLimit-Remaining"] == "0"
        with pytest.raises(RateLimited) as refused:
            limiter.check(who, "g")
        assert refused.value.limit_type == "key"
        assert 0 < refused.value.reset <= 1
        time.sleep(refused.value.reset + 0.05)
        assert limiter.check(who, "g")["RateLimit-Remaining"] == "0"
    finally:
        limiter.close()
        app.state.db.dispose()


REDIS_CASES = {
    # (per_key, [(key, org)], expected remaining or 429 kind) across two limiters
    "key limit shared by two hosts": (2, [("k1", "A"), ("k1", "A"), ("k1", "A")], [1, 0, "key"]),
    "organization gets 3x": (
        1,
        [("k1", "A"), ("k2", "A"), ("k3", "A"), ("k4", "A")],
        [0, 0, 0, "organization"],
    ),
    "organizations apart": (1, [("k1", "A"), ("k1", "B")], [0, 0]),
}


@pytest.mark.parametrize(("per_key", "steps", "expected"), REDIS_CASES.values(), ids=REDIS_CASES)
def test_redis_windows_are_shared_by_every_host(
    tmp_path: Path, per_key: int, steps: list[tuple[str, str]], expected: list[Any]
) -> None:
    with redis_server(tmp_path) as url:
        limiters = [RateLimiter(per_key, 60, store=RedisWindows(url)) for _ in range(2)]
        out: list[Any] = []
        for i, (key, org) in enumerate(steps):
            who = Principal(organization_id=org, user_id="u", api_key_id=key)
            try:
                out.append(int(limiters[i % 2].check(who, "g")["RateLimit-Remaining"]))
            except RateLimited as exc:
                out.append(exc.limit_type)
        for limiter in limiters:
            limiter.close()
    assert out == expected


def test_redis_down_serves_without_limits() -> None:
    limiter = RateLimiter(1, 60, store=RedisWindows("redis://127.0.0.1:9/0", timeout=0.2))
    who = Principal(organization_id="o", user_id="u", api_key_id="k")
    assert [limiter.check(who, "g")["RateLimit-Remaining"] for _ in range(3)] == ["0"] * 3


# --- delivery leases and the scheduler ------------------------------------------------------


@pytest.fixture
def hook_app(database_url: str) -> Iterator[Any]:
    app = create_app(quiet(database_url, webhook_lease_seconds=5.0), migrate_schema=False)
    yield app
    app.state.db.dispose()


@pytest.fixture
def hook_api(hook_app: Any) -> Iterator[Api]:
    with TestClient(hook_app) as client:
        yield make_org(hook_app, client)


def _notes(api: Api, n: int) -> None:
    lead = api.ok("POST", "lead/", {"name": "Lease Co"})
    for i in range(n):
        api.ok("POST", "activity/note/", {"lead_id": lead["id"], "note": str(i)})


def test_a_host_whose_lease_was_taken_over_cannot_record_its_outcome(
    hook_app: Any, hook_api: Api
) -> None:
    receiver = Receiver()
    try:
        subscribe(hook_api, receiver.url, NOTE_EVENTS)
        _notes(hook_api, 1)
        db, settings = hook_app.state.db, hook_app.state.settings
        (first,) = delivery.claim(db, settings, dates.now(), 5, host="host-a")
        assert delivery.claim(db, settings, dates.now(), 5, host="host-b") == []  # leased
        (second,) = delivery.claim(db, settings, later(6), 5, host="host-b")  # a expired
        assert (second.id, second.attempts) == (first.id, 2)
        assert delivery.record(db, settings, first, None) is False  # host a came back late
        assert delivery.record(db, settings, second, None) is True
        with db.read() as conn:
            row = conn.execute(select(D)).one()
        assert (row.status, row.attempts, row.leased_by) == ("delivered", 2, None)
    finally:
        receiver.stop()


def test_a_slow_receiver_does_not_delay_another(database_url: str) -> None:
    settings = quiet(
        database_url,
        webhook_timeout_seconds=10.0,
        webhook_concurrency=8,
        webhook_concurrency_per_destination=2,
    )
    app = create_app(settings, migrate_schema=False)
    slow, fast = Receiver(delay=6.0), Receiver()
    scheduler = Scheduler(app.state.db, settings, host="host-a")
    try:
        with TestClient(app) as client:
            api = make_org(app, client)
            subscribe(api, slow.url, NOTE_EVENTS)
            subscribe(api, fast.url, NOTE_EVENTS)
            _notes(api, 5)  # 5 deliveries to each receiver
        started = time.monotonic()
        deadline = started + 5.0  # before the slow receiver answers its first two
        while len(fast.received) < 5 and time.monotonic() < deadline:
            scheduler.dispatch()
            scheduler.finished.wait(0.2)
            scheduler.finished.clear()
        elapsed = time.monotonic() - started
        # All five fast deliveries went while the slow receiver still held its first two.
        assert len(fast.received) == 5, (len(fast.received), elapsed)
        assert slow.received == []
        # The receiver records a delivery before its sender thread frees the slot: give the
        # fast sends a moment to finish (the slow ones hold theirs for 6 s).
        while scheduler.in_flight() > 2 and time.monotonic() < started + 5.5:
            scheduler.finished.wait(0.05)
        assert scheduler.in_flight() == 2  # the slow one's two slots, nothing more
    finally:
        scheduler.close()
        slow.stop()
        fast.stop()
        app.state.db.dispose()


def test_one_organizations_slow_receivers_do_not_delay_another_organization(
    database_url: str,
) -> None:
    """The audit's case: one organization's hanging receivers delayed another organization's
    deliveries from 0.4 s to 19.5 s. The organization's cap keeps its slow sends to its own
    slots, however many subscriptions it spreads them over."""
    settings = quiet(
        database_url,
        webhook_timeout_seconds=10.0,
        webhook_concurrency=8,
        webhook_concurrency_per_destination=2,
        webhook_concurrency_per_organization=2,
    )
    app = create_app(settings, migrate_schema=False)
    slow = [Receiver(delay=6.0) for _ in range(3)]
    fast = Receiver()
    scheduler = Scheduler(app.state.db, settings, host="host-a")
    try:
        with TestClient(app) as client:
            noisy = make_org(app, client, "Noisy", "owner@noisy.example")
            quiet_org = make_org(app, client, "Quiet", "owner@quiet.example")
            for receiver in slow:
                subscribe(noisy, receiver.url, NOTE_EVENTS)
            _notes(noisy, 5)  # 15 deliveries to hanging receivers, all due first
            subscribe(quiet_org, fast.url, NOTE_EVENTS)
            _notes(quiet_org, 5)
        started = time.monotonic()
        deadline = started + 5.0  # before the noisy organization's first sends answer
        while len(fast.received) < 5 and time.monotonic() < deadline:
            scheduler.dispatch()
            scheduler.finished.wait(0.2)
            scheduler.finished.clear()
        assert len(fast.received) == 5, (len(fast.received), time.monotonic() - started)
        assert all(r.received == [] for r in slow)
        while scheduler.in_flight() > 2 and time.monotonic() < started + 5.5:
            scheduler.finished.wait(0.05)
        assert scheduler.in_flight() == 2  # the noisy organization's two slots, nothing more
    finally:
        scheduler.close()
        for receiver in (*slow, fast):
            receiver.stop()
        app.state.db.dispose()


def test_two_schedulers_send_each_delivery_once(database_url: str) -> None:
    settings = quiet(database_url, webhook_concurrency_per_destination=4)
    app = create_app(settings, migrate_schema=False)
    receiver = Receiver(delay=0.02)
    other_db = Database(database_url)
    schedulers = [
        Scheduler(app.state.db, settings, host="host-a"),
        Scheduler(other_db, settings, host="host-b"),
    ]
    try:
        with TestClient(app) as client:
            api = make_org(app, client)
            sub = subscribe(api, receiver.url, NOTE_EVENTS)
            _notes(api, 30)
        deadline = time.monotonic() + 20
        while len(receiver.received) < 30 and time.monotonic() < deadline:
            threads = [threading.Thread(target=s.dispatch) for s in schedulers]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            time.sleep(0.05)
        for s in schedulers:
            s.close()
        sent = [p["event"]["id"] for p in receiver.payloads(sub["signature_key"])]
        assert len(sent) == len(set(sent)) == 30
        with app.state.db.read() as conn:
            rows = conn.execute(select(D.c.status, D.c.attempts)).all()
        assert {(r.status, r.attempts) for r in rows} == {("delivered", 1)}
    finally:
        receiver.stop()
        other_db.dispose()
        app.state.db.dispose()


# --- job leases -------------------------------------------------------------------------


def test_each_organization_s_retention_is_claimed_by_one_host(
    app: Any, api: Api, other: Api
) -> None:
    db = app.state.db
    now = dates.now()
    first = jobs.claim(db, retention.JOB, "host-a", now, lease_seconds=60)
    assert sorted(first) == sorted([api.org_id, other.org_id])
    assert jobs.claim(db, retention.JOB, "host-b", now, lease_seconds=60) == []
    # host-a finishes one organization and dies holding the other.
    assert jobs.finish(db, retention.JOB, api.org_id, "host-a", interval_seconds=3600)
    assert jobs.claim(db, retention.JOB, "host-b", later(30), lease_seconds=60) == []
    taken = jobs.claim(db, retention.JOB, "host-b", later(61), lease_seconds=60)
    assert taken == [other.org_id]
    assert not jobs.finish(db, retention.JOB, other.org_id, "host-a", interval_seconds=3600)
    assert jobs.finish(db, retention.JOB, other.org_id, "host-b", interval_seconds=3600)
    assert jobs.claim(db, retention.JOB, "host-c", later(61), lease_seconds=60) == []


# --- migrations on rollout ------------------------------------------------------------------


def test_hosts_starting_at_once_migrate_one_at_a_time(pg_url: str) -> None:
    postgres_url = pg_url
    admin = Database(postgres_url)
    with admin.read() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS crmapi_rollout"))
        conn.execute(text("CREATE DATABASE crmapi_rollout"))
    url = postgres_url.rsplit("/", 1)[0] + "/crmapi_rollout"
    errors: list[BaseException] = []

    def start_host() -> None:
        db = Database(url)
        try:
            migrate.upgrade(db)
        except BaseException as exc:  # collected: the assertion below shows it
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start_host) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        assert errors == []
        db = Database(url)
        with db.read() as conn:
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                == migrate.heads()
            )
        db.dispose()
    finally:
        with admin.read() as conn:
            conn.execute(text("DROP DATABASE crmapi_rollout"))
        admin.dispose()
