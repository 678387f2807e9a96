"""SQL for the one activity store, and turning its rows into Close-shaped objects.

This is the hot path of the feed: rows are turned into dicts directly (no model objects),
user names for a whole page come from one query, and type-specific expansions run once per
type per page.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, select, update

from crmapi.activities.registry import BY_TYPE
from crmapi.activities.spec import ActivitySpec
from crmapi.query import compile as qc
from crmapi.query.model import ListQuery
from crmapi.resources.users import user_names
from crmapi.storage import tables as t

A = t.activity
COLUMNS = (
    A.c.id,
    A.c.organization_id,
    A.c.type,
    A.c.lead_id,
    A.c.contact_id,
    A.c.user_id,
    A.c.created_by,
    A.c.updated_by,
    A.c.date_created,
    A.c.date_updated,
    A.c.activity_at,
    A.c.data,
)


def scope(org_id: str) -> ColumnElement[bool]:
    return A.c.organization_id == org_id


def fetch_page(
    conn: Connection, org_id: str, query: ListQuery, extra: Iterable[ColumnElement[bool]] = ()
) -> Sequence[Any]:
    stmt = qc.page(select(*COLUMNS), A, query, and_(scope(org_id), *extra))
    rows: Sequence[Any] = conn.execute(stmt).all()
    return rows


def fetch_one(conn: Connection, org_id: str, activity_id: str, type_name: str | None) -> Any | None:
    stmt = select(*COLUMNS).where(scope(org_id), A.c.id == activity_id)
    if type_name is not None:
        stmt = stmt.where(A.c.type == type_name)
    row: Any | None = conn.execute(stmt).first()
    return row


def fetch_by(conn: Connection, org_id: str, *where: ColumnElement[bool]) -> Sequence[Any]:
    rows: Sequence[Any] = conn.execute(select(*COLUMNS).where(scope(org_id), *where)).all()
    return rows


def render_rows(
    conn: Connection,
    rows: Sequence[Any],
    fields: frozenset[str] | None = None,
    preview: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Rows to objects: base columns, the type's fields, user names, then expansions."""
    ids: set[str] = set()
    for r in rows:
        ids.update((r.user_id, r.created_by, r.updated_by))
    names = user_names(conn, ids)
    out = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        spec = BY_TYPE[r.type]
        obj = {**spec.defaults, **r.data}
        obj["id"] = r.id
        obj["_type"] = r.type
        obj["organization_id"] = r.organization_id
        obj["lead_id"] = r.lead_id
        obj["contact_id"] = r.contact_id
        obj["user_id"] = r.user_id
        obj["user_name"] = names.get(r.user_id)
        obj["created_by"] = r.created_by
        obj["created_by_name"] = names.get(r.created_by)
        obj["updated_by"] = r.updated_by
        obj["updated_by_name"] = names.get(r.updated_by)
        obj["date_created"] = r.date_created
        obj["date_updated"] = r.date_updated
        obj["activity_at"] = r.activity_at
        if spec.on_request:
            # Transcripts and the like are returned only when _fields asks for them.
            for name in spec.on_request:
                if fields is not None and name in fields:
                    obj.setdefault(name, None)
                else:
                    obj.pop(name, None)
        if r.type in preview and spec.preview_fields:
            obj = {k: obj[k] for k in spec.preview_fields if k in obj}
        out.append(obj)
        by_type.setdefault(r.type, []).append(obj)
    for type_name, objs in by_type.items():
        spec = BY_TYPE[type_name]
        # Expansions fill computed fields; skip their query when _fields asks for none.
        if spec.expand is not None and (fields is None or fields & spec.expanded_fields):
            spec.expand(conn, objs[0]["organization_id"], objs)
    return out


def row_values(values: dict[str, Any]) -> dict[str, Any]:
    """Split a full object into table columns and the ``data`` document."""
    columns = {
        c: values[c]
        for c in (
            "id",
            "organization_id",
            "lead_id",
            "contact_id",
            "user_id",
            "created_by",
            "updated_by",
            "date_created",
            "date_updated",
            "activity_at",
        )
    }
    columns["type"] = values["_type"]
    columns["thread_id"] = values.get("thread_id")
    columns["custom_activity_type_id"] = values.get("custom_activity_type_id")
    # thread_id and custom_activity_type_id stay in data too: they are fields of their types.
    skip = set(columns) - {"thread_id", "custom_activity_type_id"}
    skip |= {"_type", "user_name", "created_by_name", "updated_by_name"}
    columns["data"] = {k: v for k, v in values.items() if k not in skip}
    return columns


def insert_activity(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(A).values(**row_values(values)))


def insert_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(A), [row_values(v) for v in rows])


def update_activity(conn: Connection, org_id: str, values: dict[str, Any]) -> None:
    columns = row_values(values)
    conn.execute(update(A).where(scope(org_id), A.c.id == values["id"]).values(**columns))


def delete_activities(conn: Connection, org_id: str, *where: ColumnElement[bool]) -> None:
    conn.execute(delete(A).where(scope(org_id), *where))


def spec_of(type_name: str) -> ActivitySpec:
    return BY_TYPE[type_name]
