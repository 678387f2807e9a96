"""SQL for the one activity store, and turning its rows into Close-shaped objects.

This is the hot path of the feed: rows are turned into dicts directly (no model objects),
user names for a whole page come from one query, and type-specific expansions run once per
type per page.
"""

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    insert,
    null,
    select,
    update,
)

from crmapi.activities.base import BASE_COLUMNS
from crmapi.activities.registry import BY_TYPE
from crmapi.activities.spec import ActivitySpec
from crmapi.query import compile as qc
from crmapi.query.model import ListQuery
from crmapi.resources.users import full_name
from crmapi.storage import tables as t
from crmapi.util.jsonutil import loads

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


# Fields rendered from columns alone: a page whose _fields asks only for these skips reading
# and parsing the JSON documents; one that asks for no *_name skips the user names query.
BASE_NAMES = frozenset({"_type", *BASE_COLUMNS})
NAME_FIELDS = frozenset({"user_name", "created_by_name", "updated_by_name"})
COLUMNS_NO_DATA = (*COLUMNS[:-1], null().label("data"))


def scope(org_id: str) -> ColumnElement[bool]:
    return A.c.organization_id == org_id


def fetch_page(
    conn: Connection,
    org_id: str,
    query: ListQuery,
    extra: Iterable[ColumnElement[bool]] = (),
    extra_key: Hashable | None = None,
) -> Sequence[Any]:
    """One page plus one row. With ``extra_key`` (a name for exactly what ``extra`` filters)
    the statement is built once per query shape and reused with new parameters."""
    fields = query.fields
    slim = fields is not None and fields <= BASE_NAMES | NAME_FIELDS
    columns = COLUMNS_NO_DATA if slim else COLUMNS
    if extra_key is None:
        stmt = qc.page(select(*columns), A, query, and_(scope(org_id), *extra))
        rows: Sequence[Any] = conn.execute(stmt).all()
        return rows
    where = list(extra)
    template, params = qc.cached_page(
        (extra_key, slim), columns, A, query, lambda org: and_(A.c.organization_id == org, *where)
    )
    params["org"] = org_id
    if conn.dialect.name == "sqlite":
        return _driver_rows(conn, template, params)
    rows = conn.execute(template, params).all()
    return rows


# SQLite pages skip SQLAlchemy's execution context and Row objects (a sixth of a page's CPU):
# each cached statement is compiled once to SQL text and its parameter order, then run on the
# driver cursor inside the connection's transaction. ``data`` comes back as JSON text.
_DRIVER_SQL: dict[Any, tuple[str, tuple[str, ...], dict[str, Any]]] = {}


def _driver_rows(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[Any]:
    entry = _DRIVER_SQL.get(stmt)
    if entry is None:
        compiled = stmt.compile(dialect=conn.dialect)
        expanded = compiled.construct_expanded_state(dict.fromkeys(params))
        entry = (expanded.statement, tuple(expanded.positiontup or ()), expanded.parameters)
        if len(_DRIVER_SQL) >= 1024:
            _DRIVER_SQL.clear()
        _DRIVER_SQL[stmt] = entry
    sql, names, literals = entry
    if not conn.in_transaction():
        conn.begin()  # the read snapshot (BEGIN) every other query of the request shares
    values = [params[n] if n in params else literals[n] for n in names]
    cursor = conn.connection.driver_connection.execute(sql, values)  # type: ignore[union-attr]
    rows: list[Any] = cursor.fetchall()
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


# users.user_names with its statement built once (it runs on every feed page).
_NAMES = select(t.user.c.id, t.user.c.first_name, t.user.c.last_name).where(
    t.user.c.id.in_(bindparam("ids", expanding=True))
)


def _user_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {r[0]: full_name(r[1], r[2]) for r in conn.execute(_NAMES, {"ids": wanted})}


def render_rows(
    conn: Connection,
    rows: Sequence[Any],
    fields: frozenset[str] | None = None,
    preview: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Rows to objects: base columns, the type's fields, user names, then expansions."""
    # Rows are unpacked positionally (the COLUMNS order): attribute access on Row objects
    # was a measurable share of a feed page.
    names: dict[str, str] = {}
    if fields is None or fields & NAME_FIELDS:
        ids: set[str] = set()
        for r in rows:
            ids.update(r[5:8])
        names = _user_names(conn, ids)
    out = []
    by_type: dict[str, list[dict[str, Any]]] = {}
    get = names.get
    for (
        id_,
        org_id,
        type_name,
        lead_id,
        contact_id,
        user_id,
        created_by,
        updated_by,
        date_created,
        date_updated,
        activity_at,
        data,
    ) in rows:
        spec, defaults, hidden = _shape(type_name)
        obj = dict(defaults)
        if data:
            obj.update(loads(data) if data.__class__ is str else data)
        obj["id"] = id_
        obj["_type"] = type_name
        obj["organization_id"] = org_id
        obj["lead_id"] = lead_id
        obj["contact_id"] = contact_id
        obj["user_id"] = user_id
        obj["user_name"] = get(user_id)
        obj["created_by"] = created_by
        obj["created_by_name"] = get(created_by)
        obj["updated_by"] = updated_by
        obj["updated_by_name"] = get(updated_by)
        obj["date_created"] = date_created
        obj["date_updated"] = date_updated
        obj["activity_at"] = activity_at
        if hidden:
            # Transcripts and the like are returned only when _fields asks for them.
            for name in hidden:
                if fields is not None and name in fields:
                    obj.setdefault(name, None)
                else:
                    obj.pop(name, None)
        if type_name in preview and spec.preview_fields:
            obj = {k: obj[k] for k in spec.preview_fields if k in obj}
        out.append(obj)
        group = by_type.get(type_name)
        if group is None:
            by_type[type_name] = [obj]
        else:
            group.append(obj)
    for type_name, objs in by_type.items():
        spec = BY_TYPE[type_name]
        # Expansions fill computed fields; skip their query when _fields asks for none.
        if spec.expand is not None and (fields is None or fields & spec.expanded_fields):
            spec.expand(conn, objs[0]["organization_id"], objs)
    return out


_SHAPES: dict[str, tuple[ActivitySpec, dict[str, Any], frozenset[str]]] = {}


def _shape(type_name: str) -> tuple[ActivitySpec, dict[str, Any], frozenset[str]]:
    """A type's spec, defaults and on-request fields, computed once per process."""
    found = _SHAPES.get(type_name)
    if found is None:
        spec = BY_TYPE[type_name]
        found = _SHAPES[type_name] = (spec, spec.defaults, spec.on_request)
    return found


def row_values(values: dict[str, Any]) -> dict[str, Any]:
    """Split a full object into table columns and the ``data`` document."""
    columns = {c: values[c] for c in BASE_COLUMNS}
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
