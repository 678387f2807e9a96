"""The kinds of due work, as declarations: what is pending up to an instant, and firing one.

Each kind (sends, follow-ups, bulk actions, exports, sequence steps, deliveries) is a
``DueKind``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from crmapi.domain.clock import OrgClock
from crmapi.due import bulk_actions, exports, followups, messages, sequences, webhooks
from crmapi.settings import Settings
from crmapi.storage.db import Database


@dataclass(frozen=True, order=True)
class DueItem:
    due: str
    kind: str
    org: str
    id: str


# (conn, org or None for every organization on wall time, until, limit) -> (org, id, due)
Pending = Callable[[Connection, str | None, str, int], list[tuple[str, str, str]]]
# (db, settings, org, id, due, the org's clock) -> what fired, as reported by advance. It runs
# with "now" on that clock already (at the item's time during an advance).
Fire = Callable[[Database, Settings, str, str, str, OrgClock], list[dict[str, Any]]]


@dataclass(frozen=True)
class DueKind:
    name: str
    pending: Pending
    fire: Fire


KINDS: tuple[DueKind, ...] = (
    DueKind("message.send", messages.pending, messages.fire),
    DueKind("email.followup", followups.pending, followups.fire),
    DueKind("bulk_action.step", bulk_actions.pending, bulk_actions.fire),
    DueKind("export.step", exports.pending, exports.fire),
    DueKind("sequence.step", sequences.pending, sequences.fire),
    DueKind("webhook.delivery", webhooks.pending, webhooks.fire),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def next_items(conn: Connection, org: str | None, until: str, limit: int) -> list[DueItem]:
    """Due items of every kind up to ``until``, earliest first."""
    items = [
        DueItem(due, kind.name, item_org, item_id)
        for kind in KINDS
        for item_org, item_id, due in kind.pending(conn, org, until, limit)
    ]
    return sorted(items)[:limit]
