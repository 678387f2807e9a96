"""Smart views (``/saved_search/``): saved searches, private or shared (more.md §6).

A view selects ``type`` objects (leads by default) by an Advanced Filtering ``s_query`` or, for
older views, the legacy text ``query``. Both are read through the one search layer
(``crmapi.search``) when written, so a view that is stored is a view that runs; ``s_query`` is
stored the way Close returns it: every node with its ``negate``, ``results_limit`` and
``sort`` present. Other searches name a view with ``in:<id or name>`` and opportunity lists
with ``lead_saved_search_id`` (``search/parser.py``, ``search/listing.py``); a view read
there is the stored one of that moment.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import REQUIRED, Field, FieldSet
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec
from crmapi.resources import repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.render import listing
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.search import fields as search_fields
from crmapi.search import keywords, parser, stored
from crmapi.search.compile import Compiler
from crmapi.search.env import Env
from crmapi.search.errors import SearchSyntaxError, invalid_query
from crmapi.storage import tables as t
from crmapi.util import dates

VIEW = t.saved_search
TYPES = tuple(stored.VIEW_OBJECT_TYPES)
# The legacy text language reads these object types (its scopes); other views need s_query.
TEXT_TYPES = frozenset(k for k, v in stored.VIEW_OBJECT_TYPES.items() if v in keywords.SCOPES)
MAX_SHARED_WITH = 1000
SHARING = ("is_shared", "shared_with")  # what ``sharing_settings`` reports changes of
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("description", "str", max_length=10_000),
        # What the view selects is fixed when it is made (its query is about that type).
        Field("type", "enum", choices=TYPES, nullable=False, update=False),
        Field("s_query", "object"),
        Field("query", "str", max_length=parser.MAX_LENGTH),
        Field("is_shared", "bool", nullable=False),
        Field("shared_with", "str_list", max_items=MAX_SHARED_WITH),
        Field("selected_fields", "object_list", max_items=1000),
    )
)
_TYPE = FilterSpec("type", "in", "str", multi=True, choices=TYPES)
LIST = ListSpec(
    filters={"type": _TYPE, "type__in": _TYPE},
    orderings={name: OrderSpec(name) for name in ("date_created", "date_updated", "name")},
    default_order="date_created",
    # Airbyte's smart_views stream pages with _limit=600, so Close accepts at least that.
    max_limit=1000,
)


# --- rendering ------------------------------------------------------------------------------


def _member_users(conn: Connection, org_id: str, rows: Sequence[Row[Any]]) -> dict[str, str]:
    """Membership id -> user id for every membership the page's views are shared with."""
    wanted = {m for r in rows for m in r.shared_with or []}
    if not wanted:
        return {}
    m = t.membership
    found = conn.execute(
        select(m.c.id, m.c.user_id).where(m.c.organization_id == org_id, m.c.id.in_(wanted))
    )
    return {str(r.id): str(r.user_id) for r in found}


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    users = _member_users(conn, org_id, rows)
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "description": r.description,
            "type": r.type,
            "query": r.query,
            "s_query": r.s_query,
            "is_shared": r.is_shared,
            "shared_with": r.shared_with,
            # The newer sharing model, derived from the one stored (more.md §11 row 14).
            "sharing_settings": {
                "whole_org": r.is_shared,
                "user_ids": [users[m] for m in r.shared_with or [] if m in users],
                "group_ids": [],
                "created_at": r.date_created,
                "created_by_id": r.created_by,
                "updated_at": r.date_sharing_updated,
                "updated_by_id": r.sharing_updated_by,
            },
            "selected_fields": r.selected_fields,
            "is_user_dependent": r.is_user_dependent,
            "user_id": r.user_id,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


# --- what a view selects ----------------------------------------------------------------------


def _bad_s_query(reason: str) -> InvalidRequest:
    message = f"Invalid query: {reason}."
    return InvalidRequest([message], {"s_query": message})


def _normalised(node: Any) -> Any:
    """Close's stored form of a query tree: every node says whether it is negated."""
    if not isinstance(node, dict):
        return node
    out = {**node, "negate": bool(node.get("negate", False))}
    if isinstance(node.get("queries"), list):
        out["queries"] = [_normalised(q) for q in node["queries"]]
    if isinstance(node.get("related_query"), dict):
        out["related_query"] = _normalised(node["related_query"])
    return out


def check_s_query(
    conn: Connection, ctx: Actor, view_type: str, s_query: dict[str, Any]
) -> dict[str, Any]:
    """``s_query`` as stored: it must load, name ``view_type``'s objects and compile."""
    object_type = stored.VIEW_OBJECT_TYPES[view_type]
    limit = s_query.get("results_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise _bad_s_query("results_limit must be a positive integer or null")
    try:
        search = stored.load({"query": s_query.get("query"), "sort": s_query.get("sort")})
        if search.object_type != object_type:
            raise _bad_s_query(
                f"the object_type clause must be {object_type!r} for a {view_type} view"
            )
        compiler = Compiler(conn.dialect.name, dates.now(), ctx.tz, ctx.org)
        table = search_fields.table_of(object_type)
        compiler.where(search.query, object_type, table)
        compiler.order(search.sort, table)
    except stored.StoredQueryError as exc:
        raise _bad_s_query(str(exc)) from None
    except (KeyError, ValueError) as exc:  # a field of another object type at this level
        raise _bad_s_query(f"cannot search {object_type} by {exc}") from None
    return {
        **s_query,
        "query": _normalised(s_query["query"]),
        "results_limit": limit,
        "sort": s_query.get("sort") or [],
    }


def check_text(
    conn: Connection, ctx: Actor, view_type: str, text: str, view_id: str | None
) -> bool:
    """Parse the legacy ``query`` (with the view itself being expanded, so an ``in:`` cycle
    is refused); whether it depends on who runs it ("me")."""
    if view_type not in TEXT_TYPES:
        message = f"The text query applies to {', '.join(sorted(TEXT_TYPES))} views; use s_query."
        raise InvalidRequest([message], {"query": message})
    env = Env(conn, ctx.org, ctx.user_id, ctx.tz, expanding=[view_id] if view_id else [])
    try:
        parser.parse(text, env, stored.VIEW_OBJECT_TYPES[view_type])
    except SearchSyntaxError as exc:
        raise invalid_query(exc, text, "query") from None
    return env.used_me


def _check_shared_with(conn: Connection, org_id: str, members: list[str]) -> None:
    m = t.membership
    known = {
        str(r[0])
        for r in conn.execute(
            select(m.c.id).where(m.c.organization_id == org_id, m.c.id.in_(set(members)))
        )
    }
    missing = [memb for memb in members if memb not in known]
    if missing:
        raise InvalidRequest(
            field_errors={"shared_with": f"Membership {missing[0]} does not exist."}
        )


def _values(
    conn: Connection, ctx: Actor, body: dict[str, Any], current: dict[str, Any] | None
) -> dict[str, Any]:
    """The validated columns to write; ``current`` is the view being updated (None: new)."""
    values = FIELDS.validate(body, creating=current is None)
    merged = {**(current or {"type": "lead", "query": None, "s_query": None}), **values}
    view_type = str(merged["type"])
    if merged["s_query"] is None and not merged["query"]:
        raise InvalidRequest(field_errors={"s_query": REQUIRED})
    if values.get("s_query") is not None:
        values["s_query"] = check_s_query(conn, ctx, view_type, values["s_query"])
    if values.get("query"):
        view_id = current["id"] if current else None
        values["is_user_dependent"] = check_text(conn, ctx, view_type, values["query"], view_id)
    elif "query" in values:
        values["is_user_dependent"] = False
    if values.get("shared_with"):
        _check_shared_with(conn, ctx.org, values["shared_with"])
    return values


# --- writes ---------------------------------------------------------------------------------


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(conn, ctx, body, None)
    now = dates.now()
    columns = {
        "name": values["name"],
        "description": values.get("description", ""),
        "type": values.get("type") or "lead",
        "query": values.get("query"),
        "s_query": values.get("s_query"),
        "is_shared": values.get("is_shared", False),
        "shared_with": values.get("shared_with"),
        "selected_fields": values.get("selected_fields"),
        "is_user_dependent": values.get("is_user_dependent", False),
        "user_id": ctx.user_id,
        "sharing_updated_by": ctx.user_id,
        "date_sharing_updated": now,
        "date_created": now,
        "date_updated": now,
    }
    return repository.insert_row(conn, SPEC, ctx, columns)


def update_(conn: Connection, ctx: Actor, view_id: str, body: dict[str, Any]) -> dict[str, Any]:
    before = repository.render_one(conn, SPEC, ctx.org, view_id)
    values = _values(conn, ctx, body, before)
    if any(values.get(k, before[k]) != before[k] for k in SHARING):
        now = dates.now()
        values.update(sharing_updated_by=ctx.user_id, date_sharing_updated=now, date_updated=now)
    return repository.update_row(conn, SPEC, ctx, before, values)


def remove(conn: Connection, ctx: Actor, view_id: str) -> None:
    """Delete a view; searches naming it (``in:``) then answer that it does not exist."""
    repository.delete_row(conn, SPEC, ctx, view_id)


# --- list -----------------------------------------------------------------------------------


def list_views(ctx: Call) -> dict[str, Any]:
    """Lead views unless ``type``/``type__in`` says otherwise (Close's default, §6.1)."""
    params = dict(ctx.params)
    if "type" not in params and "type__in" not in params:
        params["type"] = "lead"
    query = grammar.parse(params, LIST, ctx.tz)
    with ctx.db.read() as conn:
        scope = VIEW.c.organization_id == ctx.org
        rows = conn.execute(qc.page(select(VIEW), VIEW, query, scope)).all()
        return listing(render_rows(conn, ctx.org, rows, ctx.tz), query)


SPEC = ResourceSpec(
    name="saved_search",
    path="/saved_search/",
    model="SavedSearch",
    table=VIEW,
    id_prefix="save",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="saved_search",
    operations={
        "list": Operation(list_views, "List smart views (lead views unless type is given)"),
        "create": Operation(creating(create), "Create a smart view"),
        "get": Operation(None, "Get a smart view"),
        "update": Operation(updating(update_), "Update a smart view"),
        "delete": Operation(deleting(remove), "Delete a smart view"),
    },
    docs="https://developer.close.com/api/resources/smart-views",
)
