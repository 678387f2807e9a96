"""The event log: ``GET /event/`` (cursor-paged, newest first) and ``GET /event/{id}/``."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select

from crmapi.domain.context import Call
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.events import cursor as cursors
from crmapi.events.emit import EVENT_KEYS
from crmapi.query.model import MAX_VALUE_LENGTH, FilterSpec, ListSpec, range_filters
from crmapi.resources.render import project
from crmapi.resources.spec import Operation
from crmapi.storage import tables as t
from crmapi.util import dates

E = t.event
MAX_LIMIT = 50

# Filters that select events by equality on a column of the same name.
FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
# The combinations Close's GET /event/ documents; each may add date_updated ranges. No filter
# at all is the plain log (tap-closeio's discovery and Airbyte's incremental read).
COMBINATIONS = frozenset(
    frozenset(c)
    for c in (
        (),
        ("object_type", "object_id"),
        ("object_type", "action"),
        ("object_id", "action"),
        ("lead_id", "object_type"),
        ("lead_id", "object_type", "action"),
        ("lead_id", "user_id", "object_type"),
        ("lead_id", "user_id", "object_type", "action"),
        ("lead_id", "user_id"),
        ("user_id", "object_id"),
        ("user_id", "object_id", "action"),
        ("user_id", "object_type"),
        ("user_id", "object_type", "action"),
        ("lead_id",),
        ("user_id",),
        ("request_id",),
    )
)
_SQL_OPS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
# The declaration ``parse`` reads and ``/openapi.json`` shows. Only FILTERS combinations apply.
LIST = ListSpec(
    filters={
        **{name: FilterSpec(name, "eq", "str") for name in FILTERS},
        **range_filters("date_updated"),
    },
    orderings={},
    default_limit=MAX_LIMIT,
    max_limit=MAX_LIMIT,
    paging="cursor",
)


@dataclass(frozen=True)
class EventQuery:
    conditions: tuple[ColumnElement[bool], ...]
    cursor: cursors.Cursor | None
    limit: int


def _combination_error(names: set[str]) -> str:
    allowed = "; ".join(
        " + ".join(sorted(c)) for c in sorted(COMBINATIONS, key=lambda c: (len(c), sorted(c))) if c
    )
    return (
        f"Unsupported combination of event filters: {' + '.join(sorted(names))}. "
        f"Supported (each optionally with date_updated ranges): {allowed}."
    )


def _limit(params: Mapping[str, str], field_errors: dict[str, str]) -> int:
    raw = params.get("_limit") or ""
    if not raw:
        return LIST.default_limit
    try:
        limit = int(raw)
    except ValueError:
        field_errors["_limit"] = f"_limit must be a whole number, got {raw[:50]!r}."
        return MAX_LIMIT
    if not 1 <= limit <= LIST.max_limit:
        field_errors["_limit"] = f"_limit must be between 1 and {LIST.max_limit}."
    return limit


def parse(params: Mapping[str, str], tz: float) -> EventQuery:
    """Validate the event-log parameters; one 400 lists every problem."""
    errors: list[str] = []
    field_errors: dict[str, str] = {}
    # Empty values count as absent: restore scripts send "_cursor=" on their first request.
    given = {name: params[name] for name in FILTERS if params.get(name)}
    if set(given) not in COMBINATIONS:
        errors.append(_combination_error(set(given)))
    for name, value in given.items():
        if "\x00" in value or len(value) > MAX_VALUE_LENGTH:  # as every other list
            field_errors[name] = "Invalid value."
    conditions = [E.c[name] == value for name, value in given.items()]
    for name, spec in LIST.filters.items():
        raw = params.get(name)
        if not raw or spec.op == "eq":
            continue
        try:
            conditions.append(getattr(E.c[spec.column], _SQL_OPS[spec.op])(dates.parse(raw, tz)))
        except ValueError:
            field_errors[name] = f"{name} must be an ISO-8601 date or datetime."
    skip = params.get("_skip") or "0"
    if skip != "0":
        field_errors["_skip"] = "The event log does not support _skip; page with _cursor."
    limit = _limit(params, field_errors)
    cursor = None
    if params.get("_cursor"):
        try:
            cursor = cursors.decode(params["_cursor"])
        except ValueError:
            field_errors["_cursor"] = "Invalid cursor; use cursor_next or cursor_previous as given."
    if errors or field_errors:
        raise InvalidRequest(errors, field_errors)
    return EventQuery(tuple(conditions), cursor, limit)


def _beyond(position: cursors.Cursor) -> ColumnElement[bool]:
    """Events strictly past the position in its direction (keyset on date_updated, id)."""
    du, eid = position.date_updated, position.id
    if position.direction == "next":
        return or_(E.c.date_updated < du, and_(E.c.date_updated == du, E.c.id < eid))
    return or_(E.c.date_updated > du, and_(E.c.date_updated == du, E.c.id > eid))


def _page(conn: Connection, scope: list[ColumnElement[bool]], query: EventQuery) -> list[Any]:
    where = list(scope)
    newer_first = query.cursor is None or query.cursor.direction == "next"
    if query.cursor is not None:
        where.append(_beyond(query.cursor))
    order = (
        (E.c.date_updated.desc(), E.c.id.desc())
        if newer_first
        else (E.c.date_updated.asc(), E.c.id.asc())
    )
    rows = list(conn.execute(select(E).where(*where).order_by(*order).limit(query.limit)).all())
    return rows if newer_first else rows[::-1]


def _any_beyond(
    conn: Connection, scope: list[ColumnElement[bool]], position: cursors.Cursor
) -> bool:
    return bool(conn.execute(select(exists().where(*scope, _beyond(position)))).scalar())


def render(row: Any) -> dict[str, Any]:
    return {key: getattr(row, key) for key in EVENT_KEYS}


def list_events(ctx: Call) -> dict[str, Any]:
    query = parse(ctx.params, ctx.tz)
    scope = [E.c.organization_id == ctx.org, *query.conditions]
    with ctx.db.read() as conn:
        rows = _page(conn, scope, query)
        cursor_next = cursor_previous = None
        if rows:
            first, last = rows[0], rows[-1]
            older = cursors.Cursor(last.date_updated, last.id, "next")
            newer = cursors.Cursor(first.date_updated, first.id, "previous")
            if _any_beyond(conn, scope, older):
                cursor_next = cursors.encode(older)
            if _any_beyond(conn, scope, newer):
                cursor_previous = cursors.encode(newer)
    return {
        "data": [render(r) for r in rows],
        "cursor_next": cursor_next,
        "cursor_previous": cursor_previous,
    }


def get_event(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = conn.execute(
            select(E).where(E.c.organization_id == ctx.org, E.c.id == ctx.path_params["id"])
        ).first()
    if row is None:
        raise object_not_found("Event")
    return project(render(row), ctx.params)


ROUTES: list[tuple[str, dict[str, Operation]]] = [
    (
        "/event/",
        {"GET": Operation(list_events, summary="The event log, newest first", list_spec=LIST)},
    ),
    ("/event/{id}/", {"GET": Operation(get_event, summary="Get an event")}),
]
