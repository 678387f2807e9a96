"""Crash durability: 16 concurrent writers, the server SIGKILLed at random moments, restarted.

Every write that got a 200 must be there afterwards; none that failed may be there; a lead
created with nested contacts is all-or-nothing (lead + contacts + its Created activity);
the database passes its integrity check; nobody ever sees "database is locked".
CI runs a few cycles; ``make crash`` runs CRMAPI_CRASH_CYCLES=20.
"""

import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, text

from crmapi.storage import tables as t
from crmapi.storage.db import Database
from tests.reliability.conftest import backend_of, record
from tests.reliability.server import Server, create_org

WRITERS = 16
CYCLES = int(os.environ.get("CRMAPI_CRASH_CYCLES", "3"))
NESTED = 2  # contacts posted inside each lead


@dataclass
class Outcomes:
    acked: dict[str, str] = field(default_factory=dict)  # token -> "lead" | "note"
    failed: dict[str, str] = field(default_factory=dict)  # token -> response text
    unknown: set[str] = field(default_factory=set)  # connection died mid-request
    lock = threading.Lock()

    def add(self, kind: str, token: str, status: int | None, body: str) -> None:
        with self.lock:
            if status == 200:
                self.acked[token] = kind
            elif status is None:
                self.unknown.add(token)
            else:
                self.failed[token] = f"{status} {body[:200]}"


def writer(base: str, key: str, lead_id: str, n: int, out: Outcomes, stop: threading.Event) -> None:
    session = requests.Session()
    session.auth = (key, "")
    i = 0
    while not stop.is_set():
        token = f"{n}-{time.monotonic_ns()}-{i}"
        i += 1
        if i % 2:
            kind, path = "lead", "lead/"
            body: dict[str, Any] = {
                "name": token,
                "contacts": [{"name": f"{token}/c{c}"} for c in range(NESTED)],
            }
        else:
            kind, path, body = "note", "activity/note/", {"lead_id": lead_id, "note": token}
        try:
            response = session.post(f"{base}/api/v1/{path}", json=body, timeout=30)
        except requests.RequestException:
            out.add(kind, token, None, "")
            return  # the server is gone; the next cycle starts new writers
        out.add(kind, token, response.status_code, response.text)


def one_cycle(url: str, key: str, lead_id: str, out: Outcomes, rng: random.Random) -> None:
    server = Server(url).start()
    stop = threading.Event()
    threads = [
        threading.Thread(target=writer, args=(server.base, key, lead_id, n, out, stop))
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(rng.uniform(0.3, 1.5))
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(60)


def stored(url: str, org_id: str) -> tuple[dict[str, tuple[int, int]], set[str], list[str]]:
    """Leads by name -> (contacts, Created activities); note texts; consistency problems."""
    db = Database(url)
    problems = []
    with db.read() as conn:
        leads = {
            r.id: r.name
            for r in conn.execute(select(t.lead).where(t.lead.c.organization_id == org_id))
        }
        contacts: dict[str, int] = {}
        for (lead,) in conn.execute(select(t.contact.c.lead_id)):
            contacts[lead] = contacts.get(lead, 0) + 1
        created: dict[str, int] = {}
        notes = set()
        for row in conn.execute(select(t.activity.c.lead_id, t.activity.c.type, t.activity.c.data)):
            if row.type == "Created":
                created[row.lead_id] = created.get(row.lead_id, 0) + 1
            elif row.type == "Note":
                notes.add((row.data or {}).get("note"))
            if row.lead_id not in leads:
                problems.append(f"activity on a missing lead {row.lead_id}")
        problems += [f"contact on a missing lead {lead}" for lead in contacts if lead not in leads]
        if db.dialect == "sqlite":
            check = conn.execute(text("PRAGMA integrity_check")).scalar()
            if check != "ok":
                problems.append(f"integrity_check: {check}")
            problems += [
                f"foreign key: {r}" for r in conn.execute(text("PRAGMA foreign_key_check"))
            ]
        else:
            conn.execute(select(func.count()).select_from(t.activity)).scalar_one()
    db.dispose()
    by_name = {name: (contacts.get(lid, 0), created.get(lid, 0)) for lid, name in leads.items()}
    return by_name, notes, problems


def test_it_keeps_every_acknowledged_write_across_sigkills(
    fresh_database_url: str, tmp_path: Path
) -> None:
    url = fresh_database_url
    org = create_org(url, "Crash", "crash@example.com")
    rng = random.Random(os.environ.get("CRMAPI_CRASH_SEED"))
    with Server(url) as server:
        lead_id = requests.post(
            f"{server.base}/api/v1/lead/",
            json={"name": "anchor"},
            auth=(org["api_key"], ""),
            timeout=10,
        ).json()["id"]
    out = Outcomes()
    for _ in range(CYCLES):
        one_cycle(url, org["api_key"], lead_id, out, rng)
    leads, notes, problems = stored(url, org["organization_id"])
    acked_leads = [tok for tok, kind in out.acked.items() if kind == "lead"]
    acked_notes = [tok for tok, kind in out.acked.items() if kind == "note"]
    lost = [tok for tok in acked_leads if tok not in leads] + [
        tok for tok in acked_notes if tok not in notes
    ]
    half = {
        name: shape for name, shape in leads.items() if name != "anchor" and shape != (NESTED, 1)
    }
    failed_present = [tok for tok in out.failed if tok in leads or tok in notes]
    locked = [body for body in out.failed.values() if "locked" in body.lower()]
    record(
        "crash",
        url,
        {
            "backend": backend_of(url),
            "cycles": CYCLES,
            "writers": WRITERS,
            "acknowledged_writes": len(out.acked),
            "acknowledged_lost": len(lost),
            "failed_responses": len(out.failed),
            "failed_but_present": len(failed_present),
            "in_flight_at_kill": len(out.unknown),
            "in_flight_committed": len(
                [tok for tok in out.unknown if tok in leads or tok in notes]
            ),
            "half_present_leads": len(half),
            "database_is_locked": len(locked),
            "consistency_problems": problems[:10],
        },
    )
    assert len(out.acked) > CYCLES * WRITERS  # the writers really wrote
    assert lost == []
    assert half == {}
    assert out.failed == {}  # no 4xx/5xx at all, "database is locked" included
    assert failed_present == []
    assert problems == []
