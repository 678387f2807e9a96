"""Fixtures for tests that run a real ``crmapi serve`` process on each backend."""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import BACKENDS
from tests.reliability.server import new_postgres_database

# Figures for docs/reliability.md are written here (one JSON file per test and backend).
RESULTS = Path(os.environ.get("CRMAPI_RELIABILITY_RESULTS", ".reliability"))


@pytest.fixture(params=BACKENDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of its own (a server subprocess migrates and owns it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'served.db'}"
    server = request.getfixturevalue("postgres_url")
    if server is None:
        if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (CRMAPI_REQUIRE_POSTGRES=1) but unavailable")
        pytest.skip("PostgreSQL not available")
    return new_postgres_database(server)


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def record(name: str, url: str, figures: dict[str, object]) -> None:
    """Keep a test's figures for docs/reliability.md (``make reliability-report`` prints them)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{backend_of(url)}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
