"""The rule for ``outcome_id`` on calls and meetings: an outcome of the caller's organization,
not deleted, that applies to this kind of activity (``resources/outcomes.py``).

Only a value being written is checked: an activity keeps an outcome deleted after it was set.
"""

from typing import Any

from sqlalchemy import select

from crmapi.domain.errors import InvalidRequest
from crmapi.storage import tables as t

# Which outcome types apply to which activity (Close derives ``applies_to`` from ``type``).
TYPES_FOR = {"call": ("custom", "vm-dropped"), "meeting": ("custom",)}


def check(wc: Any, sent: dict[str, Any], kind: str) -> None:
    outcome_id = sent.get("outcome_id")
    if outcome_id is None:
        return
    o = t.outcome
    found = wc.conn.execute(
        select(o.c.type).where(
            o.c.organization_id == wc.org, o.c.id == outcome_id, o.c.date_deleted.is_(None)
        )
    ).first()
    if found is None:
        raise InvalidRequest(field_errors={"outcome_id": "Outcome does not exist."})
    if found.type not in TYPES_FOR[kind]:
        raise InvalidRequest(
            field_errors={"outcome_id": f"This outcome does not apply to {kind}s."}
        )
