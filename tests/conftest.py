"""Every storage and HTTP test runs on a real SQLite file and a real PostgreSQL server.

PostgreSQL comes from ``CRMAPI_TEST_POSTGRES_URL`` or is started from the installed binaries.
When neither works the postgres leg is skipped loudly, unless ``CRMAPI_REQUIRE_POSTGRES=1``
(set by ``make test`` and so by CI), which turns the skip into a failure.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.resources import accounts
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database
from crmapi.storage.tables import metadata
from tests.pg import PostgresServer

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    configured = os.environ.get("CRMAPI_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    server = PostgresServer() if _can_start_postgres() else None
    if server is None:
        yield None
        return
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _can_start_postgres() -> bool:
    from tests.pg import find_bindir

    return find_bindir() is not None


@pytest.fixture(scope="session")
def _pg_migrated(postgres_url: str | None) -> str | None:
    if postgres_url is None:
        return None
    db = Database(postgres_url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(db)
    db.dispose()
    return postgres_url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def _truncate(url: str) -> None:
    db = Database(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
    db.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "crmapi.db"
        shutil.copy(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("_pg_migrated")
    if url is None:
        if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                "PostgreSQL is required (CRMAPI_REQUIRE_POSTGRES=1) but could not be started"
            )
        pytest.skip("PostgreSQL not available: install postgresql or set CRMAPI_TEST_POSTGRES_URL")
    _truncate(url)
    yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Background work (webhook delivery, retention) is driven by hand where a test needs it:
    # a thread of its own would change rows under tests that compare snapshots.
    return Settings(database_url=database_url, auth_cache_seconds=0, background_workers=False)


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings, migrate_schema=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


class Api:
    """A client of one organization: paths are relative to /api/v1/."""

    def __init__(self, client: TestClient, key: str, org: dict[str, str]) -> None:
        self.client = client
        self.key = key
        self.org_id = org["organization_id"]
        self.user_id = org["user_id"]

    def request(self, method: str, path: str, **kw: Any) -> Any:
        kw.setdefault("auth", (self.key, ""))
        return self.client.request(method, "/api/v1/" + path.lstrip("/"), **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, json=body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """Send and insist on a 200; return the JSON body."""
        if body is not None:
            kw["json"] = body
        response = self.request(method, path, **kw)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()


def make_org(
    app: Any, client: TestClient, name: str = "Acme", email: str = "owner@acme.example"
) -> Api:
    with app.state.db.write() as conn:
        created = accounts.create_organization(
            conn, name, email, first_name="Bruce", last_name="Wayne"
        )
    return Api(client, created["api_key"], created)


@pytest.fixture
def api(app: Any, client: TestClient) -> Api:
    return make_org(app, client)


@pytest.fixture
def other(app: Any, client: TestClient) -> Api:
    """A second, unrelated organization (for tenancy tests)."""
    return make_org(app, client, "Globex", "owner@globex.example")


def case_id(value: object) -> str:
    """``ids=case_id`` for tables whose cells hold sets: str() with sets sorted (string hashing
    is salted per process, and every pytest-xdist worker must collect the same ids)."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return str(value)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Sets get a sorted id: string hashing is salted per process, and pytest-xdist needs every
    worker to collect the same test ids."""
    if isinstance(val, set | frozenset):
        return "{" + ", ".join(sorted(map(repr, val))) + "}"
    return None
