"""The official client completes a burst of writes under a low rate limit: it reads our 429
(RateLimit header), sleeps, retries, and every write lands exactly once."""

from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Closeio
from tests.acceptance.harness import Server

PER_KEY = 5  # requests per second per key and endpoint group


@pytest.fixture(scope="module")
def limited(client_venvs: None, accept_tmp: Path) -> Any:
    live = Server(
        accept_tmp / "limited",
        {"CRMAPI_RATE_LIMIT_PER_KEY": str(PER_KEY), "CRMAPI_RATE_LIMIT_WINDOW": "1"},
    )
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.parametrize(("threads", "per_thread"), [(1, 15), (3, 6)])
def test_it_completes_a_burst_without_losing_writes(
    limited: Server, closeio: Closeio, threads: int, per_thread: int
) -> None:
    org = limited.create_org(f"Burst {threads}")
    found = closeio("burst", limited.base, org["api_key"], str(threads), str(per_thread))
    total = threads * per_thread
    assert found["failures"] == []
    assert len(found["created"]) == total
    assert len(set(found["created"])) == total
    assert sorted(found["listed"]) == sorted(found["created"])  # nothing lost, nothing doubled
    assert 429 in found["statuses"]  # the limit really was hit and backed off from
    assert found["elapsed"] >= total / PER_KEY - 2
