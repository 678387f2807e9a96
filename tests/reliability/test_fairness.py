"""Fairness: one organization's heaviest valid lists do not slow another organization down.

Organization A (tens of thousands of activities) runs its four heaviest valid lists in
parallel, each in a loop, from a separate process; organization B meanwhile sends simple
requests one after another. B's p95 must stay within 3x of its p95 with the server idle.
The machine is shared (CI's too, and ``make test`` runs another pytest worker beside this
one), so idle and busy are measured in alternating short windows: a neighbour's burst then
lands in both about equally instead of spoiling one of them; and each figure is the best of
a few rounds.

``CRMAPI_FAIRNESS_COMPARE=1`` (``make fairness``) also measures the server as it was before
(reads unbounded on the event loop, no gate), for docs/reliability.md.
"""

import os
import time

import pytest
import requests

from crmapi import seed
from crmapi.storage import migrate
from crmapi.storage.db import Database
from tests.reliability.conftest import backend_of, record
from tests.reliability.load import Heavy, latencies, p95
from tests.reliability.server import Server

ACTIVITIES = int(os.environ.get("CRMAPI_FAIRNESS_ACTIVITIES", "60000"))
LEADS = 2000
ROUNDS = 8  # a round stops the test once it meets the target; noise only inflates a ratio
WINDOWS = 4  # idle/busy window pairs per round
IDLE_SECONDS, BUSY_SECONDS = 0.75, 1.25  # per window
SETTLE_SECONDS = 0.4  # after resuming: the heavy loops are running again
TARGET = 3.0
# The server as it was: every SQLite read on the event loop, no per-organization gate.
UNBOUNDED = {"CRMAPI_LOOP_BUDGET_MS": "1000000", "CRMAPI_ORG_CONCURRENCY": "1000"}


def heaviest(org: seed.Seeded) -> list[str]:
    """A's four heaviest valid lists: the deepest skips Close allows on the biggest lists."""
    deep = org.activities - 100
    return [
        f"/api/v1/activity/?_skip={deep}",
        f"/api/v1/activity/?date_created__gte=2000-01-01T00:00:00&_skip={deep}",
        f"/api/v1/lead/?_skip={LEADS - 200}&_limit=200",
        f"/api/v1/contact/?_skip={LEADS - 200}&_limit=200",
    ]


def one_round(server: Server, a: seed.Seeded, b: seed.Seeded) -> dict[str, object]:
    simple = ["/api/v1/me/", f"/api/v1/lead/{b.lead_ids[0]}/", "/api/v1/activity/?_limit=10"]
    idle: list[float] = []
    busy: list[float] = []
    with Heavy(server.base, a.api_key, heaviest(a)) as load:
        for _ in range(WINDOWS):
            load.pause()  # returns when A has nothing in flight
            idle += latencies(server.base, b.api_key, simple, IDLE_SECONDS)
            load.resume()
            time.sleep(SETTLE_SECONDS)
            busy += latencies(server.base, b.api_key, simple, BUSY_SECONDS)
    statuses: dict[int, int] = {}
    for counts in load.result.values():
        for status, n in counts.items():
            statuses[int(status)] = statuses.get(int(status), 0) + n
    return {
        "idle_p95_ms": round(p95(idle) * 1000, 1),
        "busy_p95_ms": round(p95(busy) * 1000, 1),
        "ratio": round(p95(busy) / p95(idle), 2),
        "b_requests": len(busy),
        "a_statuses": statuses,
    }


def measure(url: str, a: seed.Seeded, b: seed.Seeded, **env: str) -> dict[str, object]:
    rounds = []
    with Server(url, **env) as server:
        for path in heaviest(a):  # warm the caches; each must be a valid list
            response = requests.get(server.base + path, auth=(a.api_key, ""), timeout=60)
            assert response.status_code == 200, (path, response.text[:200])
        for _ in range(ROUNDS):
            rounds.append(one_round(server, a, b))
            if float(rounds[-1]["ratio"]) <= TARGET:  # type: ignore[arg-type]
                break
    best = min(rounds, key=lambda r: float(r["ratio"]))  # type: ignore[arg-type]
    return {**best, "rounds": len(rounds)}


# Both backends on one xdist worker, one after the other: two fairness loads at once would be
# each other's noisy tenant.
@pytest.mark.xdist_group("fairness")
@pytest.mark.timeout(900)
def test_another_organizations_p95_stays_within_3x_of_idle(fresh_database_url: str) -> None:
    url = fresh_database_url
    db = Database(url)
    migrate.upgrade(db)
    a, b = seed.populate(db, LEADS, ACTIVITIES, 2, 7)
    db.dispose()
    fair = measure(url, a, b)
    figures: dict[str, object] = {
        "backend": backend_of(url),
        "activities_a": a.activities,
        "heavy_lists": [p.split("?")[0] for p in heaviest(a)],
        **{f"fair_{k}": v for k, v in fair.items()},
    }
    if os.environ.get("CRMAPI_FAIRNESS_COMPARE") == "1":
        before = measure(url, a, b, **UNBOUNDED)
        figures.update({f"unbounded_{k}": v for k, v in before.items()})
    record("fairness", url, figures)
    statuses = fair["a_statuses"]
    assert isinstance(statuses, dict)
    assert set(statuses) == {200}, statuses  # A is slowed, never refused or failed
    assert float(fair["ratio"]) <= TARGET, figures  # type: ignore[arg-type]
