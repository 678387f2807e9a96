"""Fixtures of the acceptance suite: one live crmapi server per session, seeded through the
official ``closeio`` client, and a runner for each third-party client in its own venv.

Deselect with ``-m "not acceptance"`` while iterating on something else.
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.harness import HERE, Server, client_env, ensure_clients, python_of, run

Closeio = Callable[..., Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "acceptance: drives real third-party Close clients")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(pytest.mark.acceptance)
            # One worker runs them all: they share one live server, its seed and the client
            # venvs (installed once, not raced by two workers).
            item.add_marker(pytest.mark.xdist_group("acceptance"))
            # The first test also pays for a cold install of the client venvs.
            item.add_marker(pytest.mark.timeout(600))


@pytest.fixture(scope="session")
def client_venvs() -> None:
    ensure_clients()


@pytest.fixture(scope="session")
def accept_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("accept")


@pytest.fixture(scope="session")
def server(client_venvs: None, accept_tmp: Path) -> Iterator[Server]:
    live = Server(accept_tmp / "server")
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def closeio(accept_tmp: Path) -> Closeio:
    """``closeio(scenario, base, key, *args)`` -> the driver's JSON result."""

    def drive(scenario: str, base: str, key: str, *args: str, timeout: float = 180) -> Any:
        done = run(
            [
                str(python_of("closeio")),
                str(HERE / "closeio_driver.py"),
                scenario,
                base,
                key,
                *args,
            ],
            client_env(accept_tmp),
            timeout=timeout,
        )
        return json.loads(done.stdout)

    return drive


@pytest.fixture(scope="session")
def seed_org(server: Server) -> dict[str, Any]:
    return server.create_org("Seed Org")


@pytest.fixture(scope="session")
def seeded(server: Server, seed_org: dict[str, Any], closeio: Closeio, accept_tmp: Path) -> Any:
    """What the seed wrote (ids, dates, leads); saved for the driver's read scenarios too."""
    manifest = closeio("seed", server.base, seed_org["api_key"])
    (accept_tmp / "manifest.json").write_text(json.dumps(manifest))
    return manifest


@pytest.fixture(scope="session")
def reads(
    server: Server, seed_org: dict[str, Any], seeded: Any, closeio: Closeio, accept_tmp: Path
) -> Any:
    return closeio("reads", server.base, seed_org["api_key"], str(accept_tmp / "manifest.json"))


@pytest.fixture(scope="session")
def truth(reads: Any) -> dict[str, dict[str, Any]]:
    """Every activity in the seeded organization by id, as the typed endpoints list them."""
    return {a["id"]: a for items in reads["typed"].values() for a in items}
