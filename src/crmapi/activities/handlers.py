"""Typed activity endpoints (``/activity/<type>/``), generated from the registry."""

from typing import Any

from crmapi.activities import store, write
from crmapi.activities.base import BASE_FIELDS, typed_list_spec
from crmapi.activities.feed import FEED, list_feed
from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.activities.spec import ActivitySpec
from crmapi.domain.errors import object_not_found
from crmapi.http.context import Ctx
from crmapi.http.endpoint import Op
from crmapi.query import grammar
from crmapi.resources.render import listing, project


def _write_context(ctx: Ctx, conn: Any) -> write.WriteContext:
    return write.write_context(ctx, conn)


def _read_one(ctx: Ctx, spec: ActivitySpec, activity_id: str, conn: Any) -> dict[str, Any]:
    row = store.fetch_one(conn, ctx.org, activity_id, spec.type)
    if row is None:
        raise object_not_found("Activity")
    fields = frozenset(ctx.params["_fields"].split(",")) if ctx.params.get("_fields") else None
    obj = store.render_rows(conn, [row], fields)[0]
    if spec.detail is not None:
        spec.detail(conn, ctx.org, obj)
    return project(obj, ctx.params)


def make_ops(spec: ActivitySpec) -> tuple[dict[str, Op], dict[str, Op]]:
    """The collection and item operations Close offers for this type (others answer 405)."""
    list_spec = typed_list_spec(dict(spec.filters))
    type_filter = store.A.c.type == spec.type

    def list_(ctx: Ctx) -> dict[str, Any]:
        query = grammar.parse(ctx.params, list_spec, ctx.tz)
        with ctx.db.read() as conn:
            rows = store.fetch_page(
                conn, ctx.org, query, [type_filter], extra_key=("type", spec.type)
            )
            return listing(store.page_items(conn, rows, query.fields), query)

    def create(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.write() as conn:
            return project(write.create(_write_context(ctx, conn), spec, ctx.body), ctx.params)

    def get(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.read() as conn:
            return _read_one(ctx, spec, ctx.path_params["id"], conn)

    def update(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.write() as conn:
            wc = _write_context(ctx, conn)
            return project(write.update(wc, spec, ctx.path_params["id"], ctx.body), ctx.params)

    def delete(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.write() as conn:
            write.delete(_write_context(ctx, conn), spec, ctx.path_params["id"])
        return {}

    group = f"activity/{spec.path}"
    fields = spec.fieldset(BASE_FIELDS)  # also describes the operations in /openapi.json
    name = spec.type
    collection: dict[str, Op] = {}
    if "list" in spec.verbs:
        collection["GET"] = Op(
            list_, group=group, summary=f"List {name}", list_spec=list_spec, fields=fields
        )
    if "create" in spec.verbs:
        collection["POST"] = Op(
            create, group=group + ":write", summary=f"Create {name}", fields=fields
        )
    item: dict[str, Op] = {}
    if "get" in spec.verbs:
        item["GET"] = Op(get, group=group, summary=f"Get {name}", fields=fields)
    if "update" in spec.verbs:
        item["PUT"] = Op(update, group=group + ":write", summary=f"Update {name}", fields=fields)
    if "delete" in spec.verbs:
        item["DELETE"] = Op(delete, group=group + ":write", summary=f"Delete {name}")
    return collection, item


def routes() -> list[tuple[str, dict[str, Op]]]:
    out: list[tuple[str, dict[str, Op]]] = [
        (
            "/activity/",
            {"GET": Op(list_feed, group="activity", summary="The activity feed", list_spec=FEED)},
        )
    ]
    for spec in ACTIVITY_TYPES:
        collection, item = make_ops(spec)
        out.append((f"/activity/{spec.path}/", collection))
        out.append((f"/activity/{spec.path}/{{id}}/", item))
    return out
