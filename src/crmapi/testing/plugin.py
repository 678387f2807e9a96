"""The pytest fixtures (entry point ``pytest11: crmapi``); nothing starts unless a test asks."""

from collections.abc import Iterator
from typing import Any

import pytest

from crmapi.testing.client import Clock, EmulatorOrg, Outbox
from crmapi.testing.server import EmulatorServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crmapi", "crmapi emulator")
    group.addoption("--crmapi-database-url", default=None,
                    help="Database of the crmapi server the session starts (default: SQLite "
                         "in a temporary directory)")  # fmt: skip
    group.addoption("--crmapi-url", default=None,
                    help="Use this running crmapi (needs CRMAPI_ADMIN_TOKEN) instead")  # fmt: skip
    parser.addini("crmapi_seed_pack", "Seed pack of the baseline: empty, demo or a size",
                  default="empty")  # fmt: skip
    parser.addini("crmapi_clock", "Clock of new organizations: real, or frozen:<ISO instant>",
                  default="real")  # fmt: skip


def _clock(spec: str) -> dict[str, Any] | None:
    if spec in ("", "real"):
        return None
    mode, _, at = spec.partition(":")
    return {"mode": mode, **({"now": at} if at else {})}


@pytest.fixture(scope="session")
def crmapi_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorServer]:
    """A live crmapi for the whole session."""
    config = request.config
    server = EmulatorServer(
        tmp_path_factory.mktemp("crmapi"),
        database_url=config.getoption("--crmapi-database-url"),
        url=config.getoption("--crmapi-url"),
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def crmapi_org(
    crmapi_server: EmulatorServer, request: pytest.FixtureRequest
) -> Iterator[EmulatorOrg]:
    """A fresh organization per test, restored from the session's baseline as a new one."""
    pack: Any = request.config.getini("crmapi_seed_pack")
    pack = int(pack) if str(pack).isdigit() else pack
    baseline = crmapi_server.baseline(pack, _clock(str(request.config.getini("crmapi_clock"))))
    org = crmapi_server.org_from(baseline)
    try:
        yield org
    finally:
        org.delete()


@pytest.fixture
def crmapi_clock(crmapi_org: EmulatorOrg) -> Clock:
    return crmapi_org.clock


@pytest.fixture
def crmapi_outbox(crmapi_org: EmulatorOrg) -> Outbox:
    return crmapi_org.outbox
