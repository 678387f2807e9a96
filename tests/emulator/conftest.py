"""Shared pieces of the emulator plane's tests: an app with an admin token and a snapshot
directory, and a client of one plane-made organization."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.settings import Settings
from tests.conftest import Api

ADMIN = "test-admin-token"
ADMIN_HEADERS = {"x-crmapi-admin-token": ADMIN}
FROZEN = "2030-01-01T09:00:00.000000+00:00"


def plane_settings(database_url: str, snapshot_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auth_cache_seconds": 0,
        "background_workers": False,
        "admin_token": ADMIN,
        "snapshot_dir": str(snapshot_dir),
        "webhook_retry_base_seconds": 10.0,
        "webhook_timeout_seconds": 2.0,
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def papp(database_url: str, tmp_path: Path) -> Iterator[Any]:
    application = create_app(plane_settings(database_url, tmp_path / "snaps"), migrate_schema=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def pclient(papp: Any) -> Iterator[TestClient]:
    with TestClient(papp, base_url="http://testserver") as c:
        yield c


class PlaneOrg(Api):
    """An organization made by ``POST /_crmapi/orgs``; ``plane()`` calls its own paths."""

    def plane(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        kw.setdefault("auth", (self.key, ""))
        if body is not None:
            kw["json"] = body
        return self.client.request(method, f"/_crmapi/orgs/{self.org_id}{path}", **kw)

    def plane_ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.plane(method, path, body)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json() if response.content else None

    def advance(self, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.plane_ok("POST", "/clock/advance", body)
        return result


def new_org(client: TestClient, **body: Any) -> PlaneOrg:
    response = client.post("/_crmapi/orgs", json=body, headers=ADMIN_HEADERS)
    assert response.status_code == 201, response.text
    made = response.json()
    return PlaneOrg(client, made["api_key"], made)


def frozen_org(client: TestClient, at: str = FROZEN, **body: Any) -> PlaneOrg:
    return new_org(client, clock={"mode": "frozen", "now": at}, **body)


def admin(client: TestClient, method: str, path: str, body: Any = None) -> Any:
    kw: dict[str, Any] = {"headers": ADMIN_HEADERS}
    if body is not None:
        kw["json"] = body
    return client.request(method, "/_crmapi" + path, **kw)
