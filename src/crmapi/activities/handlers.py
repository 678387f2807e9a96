"""Typed activity endpoints (``/activity/<type>/``), generated from the registry."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from crmapi.activities import store, write
from crmapi.activities.base import BASE_FIELDS, typed_list_spec
from crmapi.activities.context import WriteContext
from crmapi.activities.feed import FEED, list_feed
from crmapi.activities.registry import BY_TYPE
from crmapi.activities.spec import ActivitySpec
from crmapi.domain.context import Call
from crmapi.domain.errors import object_not_found
from crmapi.query import grammar
from crmapi.resources.render import listing, project
from crmapi.resources.spec import LeadChild, Operation, ResourceSpec


def _write_context(ctx: Call, conn: Any) -> WriteContext:
    return write.write_context(ctx, conn)


def _read_one(ctx: Call, spec: ActivitySpec, activity_id: str, conn: Any) -> dict[str, Any]:
    row = store.fetch_one(conn, ctx.org, activity_id, spec.type)
    if row is None:
        raise object_not_found("Activity")
    fields = grammar.field_names(ctx.params.get("_fields"))
    obj = store.render_rows(conn, [row], fields)[0]
    if spec.detail is not None:
        spec.detail(conn, ctx.org, obj)
    return project(obj, ctx.params)


def operations(spec: ActivitySpec) -> dict[str, Operation]:
    """The operations Close offers for this type, by verb (others answer 405)."""
    list_spec = typed_list_spec(dict(spec.filters))
    type_filter = store.A.c.type == spec.type

    def list_(ctx: Call) -> dict[str, Any]:
        query = grammar.parse(ctx.params, list_spec, ctx.tz)
        with ctx.db.read() as conn:
            rows = store.fetch_page(
                conn, ctx.org, query, [type_filter], extra_key=("type", spec.type)
            )
            return listing(store.page_items(conn, rows, query.fields), query)

    def create(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            return project(write.create(_write_context(ctx, conn), spec, ctx.body), ctx.params)

    def get(ctx: Call) -> dict[str, Any]:
        with ctx.db.read() as conn:
            return _read_one(ctx, spec, ctx.path_params["id"], conn)

    def update(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            wc = _write_context(ctx, conn)
            return project(write.update(wc, spec, ctx.path_params["id"], ctx.body), ctx.params)

    def delete(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            write.delete(_write_context(ctx, conn), spec, ctx.path_params["id"])
        return {}

    fields = spec.fieldset(BASE_FIELDS)  # also describes the operations in /openapi.json
    name = spec.type
    offered = {
        "list": Operation(list_, f"List {name}", list_spec=list_spec, fields=fields),
        "create": Operation(create, f"Create {name}", fields=fields),
        "get": Operation(get, f"Get {name}", fields=fields),
        "update": Operation(update, f"Update {name}", fields=fields),
        "delete": Operation(delete, f"Delete {name}"),
    }
    return {verb: op for verb, op in offered.items() if verb in spec.verbs}


def _render(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return store.render_rows(conn, rows)


def _object_type(activity: dict[str, Any]) -> str:
    return f"activity.{BY_TYPE[activity['_type']].event_type}"


# The feed, and every activity as a lead's child; each type's own paths come from its
# ``ActivitySpec`` (``operations`` above).
SPEC = ResourceSpec(
    name="activity",
    path="/activity/",
    model="Activity",
    table=store.A,
    id_prefix="acti",
    list_spec=FEED,
    render=_render,
    columns=tuple(store.COLUMNS),
    operations={"list": Operation(list_feed, "The activity feed")},
    lead_child=LeadChild(),
    event_type_of=_object_type,
    docs="https://developer.close.com/api/resources/activities",
)
