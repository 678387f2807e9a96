"""What the configuration objects share (more.md §8): rows whose filter columns sit beside a
``data`` document, rendered as Close's object, and the one insert that the API, the CLI and
the demo all write them with (Close creates most of them outside the API: a connected
mailbox, a rented number, a dialer session started in the app)."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, insert

from crmapi.resources.spec import Render
from crmapi.util import dates
from crmapi.util.ids import new_id

# Renames from a column to Close's key (the connected account's ``type`` is ``_type``).
Keys = Mapping[str, str]


def document(columns: Sequence[str], keys: Keys | None = None, dated: bool = True) -> Render:
    """A ``Render`` for a configuration table: id, organization, ``columns``, ``data``."""
    names = dict(keys or {})

    def one(row: Row[Any]) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": row.id, "organization_id": row.organization_id}
        obj.update({names.get(c, c): getattr(row, c) for c in columns})
        obj.update(row.data or {})
        if dated:
            obj.update(date_created=row.date_created, date_updated=row.date_updated)
        return obj

    def render(
        conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
    ) -> list[dict[str, Any]]:
        return [one(r) for r in rows]

    return render


def add(
    conn: Connection,
    table: Table,
    prefix: str,
    org_id: str,
    user_id: str | None,
    columns: Mapping[str, Any],
    data: Mapping[str, Any],
) -> str:
    """Insert one configuration object; its new id."""
    object_id = new_id(prefix)
    now = dates.now()
    conn.execute(
        insert(table).values(
            id=object_id,
            organization_id=org_id,
            **columns,
            data=dict(data),
            created_by=user_id,
            updated_by=user_id,
            date_created=now,
            date_updated=now,
        )
    )
    return object_id
