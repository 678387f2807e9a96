"""Leads for the incremental lead-stream checks of tap-closeio and Airbyte.

Five leads in an organization of their own, last updated on five different days (set in the
server's database after creating them through the API), so that a search that ignored its
``date_updated`` bound would visibly hand a client every lead again.
"""

import sqlite3
from dataclasses import dataclass
from typing import Any

from tests.acceptance.harness import Server

NAMES = ("Ada", "Brunel", "Curie", "Darwin", "Euler")


@dataclass
class LeadWorld:
    server: Server
    org: dict[str, Any]
    ids: dict[str, str]

    @property
    def key(self) -> str:
        return str(self.org["api_key"])

    def change(self, *names: str) -> set[str]:
        """Rename leads through the API (their ``date_updated`` becomes now)."""
        for name in names:
            self.server.request("PUT", f"lead/{self.ids[name]}/", self.key, {"name": f"{name} 2"})
        return {self.ids[n] for n in names}


def build(server: Server, org_name: str) -> LeadWorld:
    org = server.create_org(org_name)
    ids = {
        name: server.request("POST", "lead/", org["api_key"], {"name": name})["id"]
        for name in NAMES
    }
    db = sqlite3.connect(server.workdir / "crmapi.db", timeout=30)
    try:
        with db:
            for day, name in enumerate(NAMES, start=1):
                stamp = f"2026-01-0{day}T12:00:00.000000+00:00"
                db.execute(
                    "UPDATE lead SET date_created = ?, date_updated = ? "
                    "WHERE organization_id = ? AND id = ?",
                    (stamp, stamp, org["organization_id"], ids[name]),
                )
    finally:
        db.close()
    return LeadWorld(server, org, ids)
