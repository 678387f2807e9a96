"""SQL for the one activity store, and turning its rows into Close-shaped objects.

This is the hot path of the feed: rows are turned into dicts directly (no model objects),
user names for a whole page come from one query, and type-specific expansions run once per
type per page.
"""

import functools
import zlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from psycopg.types.string import TextLoader
from sqlalchemy import (
    BindParameter,
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

from crmapi.activities import due
from crmapi.activities.base import BASE_COLUMNS
from crmapi.activities.catalog import BY_TYPE
from crmapi.activities.spec import ActivitySpec
from crmapi.query import compile as qc
from crmapi.query import seek
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
    A.c.shape,
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
    listing = (conn.dialect.name, org_id, extra_key)
    return _paged_rows(
        conn,
        listing,
        query,
        lambda sought: qc.cached_page(
            (extra_key, slim, "versioned"),
            (*columns, _VERSION),
            A,
            query,
            lambda org: and_(A.c.organization_id == org, *where),
            seek=sought,
        ),
        org_id,
    )


# The organization's activity version, read by the page's own statement (one snapshot even
# at READ COMMITTED): a page end is stored with it and reused only while it is unchanged.
_LV = t.listing_version
_VERSION = (
    select(_LV.c.version)
    .where(_LV.c.organization_id == bindparam("org"), _LV.c.listing == "activity")
    .scalar_subquery()
    .label("listing_version")
)
# Where each sortable column sits in a page row (COLUMNS order).
_SORT_AT = {str(c.name): i for i, c in enumerate(COLUMNS)}


def _paged_rows(
    conn: Connection,
    scope_key: Hashable,
    query: ListQuery,
    statement: Callable[[bool], tuple[Any, dict[str, Any]]],
    org_id: str,
) -> list[Any]:
    """A page's rows (plus one), sought from the previous page's end when one is known and
    still current, counted by offset otherwise; the end of this page is remembered."""
    listing = seek.listing_key(scope_key, query)
    at = _SORT_AT.get(query.order_column)
    end = seek.ENDS.get(listing, query.skip) if at is not None and seek.seekable(query) else None
    rows: list[Any] | None = None
    if end is not None:
        template, params = statement(True)
        params.update(org=org_id, skip=0, after_key=end.key, after_id=end.id)
        found = _driver_rows(conn, template, params)
        # An empty page cannot show its version: the counting query answers instead.
        if found and found[0][-1] == end.version:
            rows = found
            seek.ENDS.hits += 1
    if rows is None:
        template, params = statement(False)
        params["org"] = org_id
        rows = _driver_rows(conn, template, params)
    if at is not None and 0 < query.limit < len(rows):
        last = rows[query.limit - 1]
        if last[at] is not None and last[-1] is not None:
            seek.ENDS.put(
                listing, query.skip + query.limit, seek.PageEnd(last[at], last[0], last[-1])
            )
    return [r[:-1] for r in rows]


# Pages skip SQLAlchemy's execution context and Row objects (a sixth of a page's CPU): each
# cached statement is compiled once to SQL text and its parameter order, then run on the
# driver's cursor inside the connection's transaction. ``data`` comes back as JSON text on
# both backends (PostgreSQL's jsonb is read as text), ready to be spliced (page_items).
_DRIVER_SQL: dict[Any, tuple[str, tuple[tuple[str, Any], ...], dict[str, Any]]] = {}


def _driver_rows(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[Any]:
    key = (conn.dialect.name, stmt)  # one process may serve both backends (the tests do)
    entry = _DRIVER_SQL.get(key)
    if entry is None:
        entry = _driver_sql(conn, stmt, params)
        if len(_DRIVER_SQL) >= 1024:
            _DRIVER_SQL.clear()
        _DRIVER_SQL[key] = entry
    sql, names, literals = entry
    if not conn.in_transaction():
        conn.begin()  # the read snapshot (BEGIN) every other query of the request shares
    values = [
        literals[n] if n not in params else params[n] if proc is None else proc(params[n])
        for n, proc in names
    ]
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        rows: list[Any] = driver.execute(sql, values).fetchall()
        return rows
    with driver.cursor() as cursor:
        cursor.adapters.register_loader("jsonb", TextLoader)
        cursor.execute(sql, dict(zip((n for n, _ in names), values, strict=True)))
        rows = cursor.fetchall()
    return rows


def _driver_sql(
    conn: Connection, stmt: Any, params: dict[str, Any]
) -> tuple[str, tuple[tuple[str, Any], ...], dict[str, Any]]:
    """SQL text, parameter names in order with their bind processors (SQLAlchemy would apply
    them, e.g. JSON paths), and the statement's own values, already processed."""
    compiled = stmt.compile(dialect=conn.dialect)
    expanded = compiled.construct_expanded_state(dict.fromkeys(params))
    # Bind processors of the statement's own parameters (JSON paths) live on the compiled
    # form; expanded IN parameters get theirs from the expansion.
    processors = {**getattr(compiled, "_bind_processors", {}), **expanded.processors}
    order = expanded.positiontup or tuple(expanded.parameters)
    literals = {
        n: processors[n](v) if n in processors and n not in params else v
        for n, v in expanded.parameters.items()
    }
    names = tuple((n, processors.get(n)) for n in order)
    return expanded.statement, names, literals


def fetch_one(conn: Connection, org_id: str, activity_id: str, type_name: str | None) -> Any | None:
    stmt = select(*COLUMNS).where(scope(org_id), A.c.id == activity_id)
    if type_name is not None:
        stmt = stmt.where(A.c.type == type_name)
    row: Any | None = conn.execute(stmt).first()
    return row


def fetch_by(conn: Connection, org_id: str, *where: ColumnElement[bool]) -> Sequence[Any]:
    rows: Sequence[Any] = conn.execute(select(*COLUMNS).where(scope(org_id), *where)).all()
    return rows


_IN_TEMPLATES: dict[tuple[str, int], Any] = {}


def rows_in(
    conn: Connection,
    name: str,
    build: Callable[[list[BindParameter[Any]]], Any],
    values: Sequence[Any],
    params: dict[str, Any] | None = None,
) -> list[Any]:
    """Run ``build(binds)``, a select with one bound parameter per value (an IN list), on the
    driver. One statement per (name, number of values) is built, compiled and reused."""
    key = (name, len(values))
    stmt = _IN_TEMPLATES.get(key)
    if stmt is None:
        if len(_IN_TEMPLATES) >= 2048:
            _IN_TEMPLATES.clear()
        binds: list[BindParameter[Any]] = [bindparam(f"v{i}") for i in range(len(values))]
        stmt = _IN_TEMPLATES[key] = build(binds)
    bound = {f"v{i}": v for i, v in enumerate(values)}
    if params:
        bound.update(params)
    return _driver_rows(conn, stmt, bound)


def _names_select(binds: list[BindParameter[Any]]) -> Any:
    u = t.user
    return select(u.c.id, u.c.first_name, u.c.last_name).where(u.c.id.in_(binds))


def _user_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    return {r[0]: full_name(r[1], r[2]) for r in rows_in(conn, "user_names", _names_select, wanted)}


def page_names(
    conn: Connection, rows: Sequence[Any], fields: frozenset[str] | None
) -> dict[str, str]:
    """Display names of the users a page mentions (none when ``_fields`` asks for no name)."""
    if fields is not None and not fields & NAME_FIELDS:
        return {}
    ids: set[str] = set()
    for r in rows:
        ids.update(r[5:8])
    return _user_names(conn, ids)


def page_items(
    conn: Connection,
    rows: Sequence[Any],
    fields: frozenset[str] | None = None,
    preview: frozenset[str] = frozenset(),
) -> list[Any]:
    """A list page's items, in row order: complete stored documents are spliced in as JSON.

    A row whose ``data`` holds every field of its type (its ``shape`` is the type's current
    one) needs no parsing: its columns are encoded and joined to the stored text, which
    ``orjson.Fragment`` embeds as is. Rows needing work on the object (``_fields``, previews,
    expansions, fields shown only on request, older documents) are rendered as dicts.
    """
    if fields is not None:
        return render_rows(conn, rows, fields, preview)
    names = page_names(conn, rows, fields)
    get = names.get
    out: list[Any] = []
    slow: list[tuple[int, Any]] = []
    for row in rows:
        type_name = row[2]
        data = row[12]
        kind = layout(type_name)
        if (
            row[11] != kind.splice_shape
            or type_name in preview
            or data.__class__ is not str
            or (kind.hidden_keys and any(key in data for key in kind.hidden_keys))
        ):
            slow.append((len(out), row))
            out.append(None)
            continue
        head = _dumps(
            {
                "_type": type_name,
                "activity_at": row[10],
                "contact_id": row[4],
                "created_by": row[6],
                "created_by_name": get(row[6]),
                "date_created": row[8],
                "date_updated": row[9],
                "id": row[0],
                "lead_id": row[3],
                "organization_id": row[1],
                "updated_by": row[7],
                "updated_by_name": get(row[7]),
                "user_id": row[5],
                "user_name": get(row[5]),
            }
        )
        body = data.strip().encode()
        out.append(_Fragment(head[:-1] + b"," + body[1:] if len(body) > 2 else head))
    if slow:
        rendered = render_rows(conn, [r for _, r in slow], None, preview, names)
        for (at, _row), obj in zip(slow, rendered, strict=True):
            out[at] = obj
    return out


_dumps = orjson.dumps
_Fragment = orjson.Fragment
# Columns and derived names are never part of a stored document.
_NOT_STORED = frozenset(
    {"_type", "type", "user_name", "created_by_name", "updated_by_name", *BASE_COLUMNS}
)


class Layout(NamedTuple):
    """What rendering, storing and splicing need to know of one type, computed once."""

    spec: ActivitySpec
    defaults: dict[str, Any]  # every field a rendered object starts from
    hidden: frozenset[str]  # fields shown only when _fields asks for them
    shape: int  # checksum of the stored field names (see stored_shape)
    stored_defaults: dict[str, Any]  # what a complete stored document starts from
    # The shape a row must carry to be spliced: -1 (never) for types with an expansion,
    # which computes fields per page.
    splice_shape: int
    # Quoted names of hidden fields: a document mentioning one is rendered, so it can drop it.
    hidden_keys: tuple[str, ...]


@functools.cache
def layout(type_name: str) -> Layout:
    spec = BY_TYPE[type_name]
    stored = {k: v for k, v in spec.defaults.items() if k not in _NOT_STORED}
    shape = zlib.crc32(",".join(sorted(stored)).encode()) % 2_000_000_000 + 1
    return Layout(
        spec=spec,
        defaults=spec.defaults,
        hidden=spec.on_request,
        shape=shape,
        stored_defaults=stored,
        splice_shape=-1 if spec.expand is not None else shape,
        hidden_keys=tuple(f'"{name}"' for name in spec.on_request),
    )


def stored_shape(type_name: str) -> tuple[int, dict[str, Any]]:
    """The type's shape id and the defaults a complete stored document starts from.

    The id is a checksum of the stored field names, so a release that adds or removes a field
    stops older documents from being spliced (they are rendered field by field instead)."""
    found = layout(type_name)
    return found.shape, found.stored_defaults


def render_rows(
    conn: Connection,
    rows: Sequence[Any],
    fields: frozenset[str] | None = None,
    preview: frozenset[str] = frozenset(),
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Rows to objects: base columns, the type's fields, user names, then expansions."""
    # Rows are unpacked positionally (the COLUMNS order): attribute access on Row objects
    # was a measurable share of a feed page.
    if names is None:
        names = page_names(conn, rows, fields)
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
        _stored_shape,
        data,
    ) in rows:
        kind = layout(type_name)
        obj = dict(kind.defaults)
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
        if kind.hidden:
            # Transcripts and the like are returned only when _fields asks for them.
            for name in kind.hidden:
                if fields is not None and name in fields:
                    obj.setdefault(name, None)
                else:
                    obj.pop(name, None)
        if type_name in preview and kind.spec.preview_fields:
            obj = {k: obj[k] for k in kind.spec.preview_fields if k in obj}
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


def row_values(values: dict[str, Any]) -> dict[str, Any]:
    """Split a full object into table columns and the ``data`` document."""
    columns = {c: values[c] for c in BASE_COLUMNS}
    columns["type"] = values["_type"]
    columns["thread_id"] = values.get("thread_id")
    columns["custom_activity_type_id"] = values.get("custom_activity_type_id")
    # thread_id and custom_activity_type_id stay in data too: they are fields of their types.
    skip = set(columns) - {"thread_id", "custom_activity_type_id"}
    skip |= {"_type", "user_name", "created_by_name", "updated_by_name", due.SEND_AT}
    columns["due_at"] = due.due_at(values)
    shape, defaults = stored_shape(values["_type"])
    columns["shape"] = shape
    columns["data"] = {**defaults, **{k: v for k, v in values.items() if k not in skip}}
    return columns


# The bulk loader's rows: the table's columns in order, the document as JSON text.
ROW_COLUMNS = tuple(c.name for c in A.c)


def row_tuple(values: dict[str, Any]) -> tuple[Any, ...]:
    """``row_values`` as a bulk-loader row (``crmapi seed``): one encoder for both paths."""
    columns = row_values(values)
    columns["data"] = orjson.dumps(columns["data"]).decode()
    return tuple(columns[name] for name in ROW_COLUMNS)


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
