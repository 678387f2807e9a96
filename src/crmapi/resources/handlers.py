"""The generic handlers: every declared resource is listed, read and written through these.

A list parses the query with the resource's ``ListSpec``, scopes it to the organization (and
the resource's ``where``), adds the resource's ``totals``, renders the page with its
``render`` and applies ``_fields``; a get reads one row through the repository (Close's 404);
a write runs the resource's domain function in one transaction and renders what it returns.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, and_, select

from crmapi.domain.context import Actor, Call
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.resources import repository
from crmapi.resources.render import listing, project
from crmapi.resources.spec import ResourceSpec

Handler = Callable[[Call], Any]
Create = Callable[[Connection, Actor, dict[str, Any]], dict[str, Any]]
Update = Callable[[Connection, Actor, str, dict[str, Any]], dict[str, Any]]
Delete = Callable[[Connection, Actor, str], Any]


def list_handler(spec: ResourceSpec) -> Handler:
    table, render, list_spec = spec.table, spec.render, spec.list_spec
    assert table is not None, spec.name
    assert render is not None, spec.name
    assert list_spec is not None, spec.name

    def list_objects(ctx: Call) -> dict[str, Any]:
        query = grammar.parse(ctx.params, list_spec, ctx.tz)
        scope = and_(table.c.organization_id == ctx.org, *spec.where)
        with ctx.db.read() as conn:
            totals = spec.totals(conn, query, scope) if spec.totals else {}
            rows = conn.execute(qc.page(select(table), table, query, scope)).all()
            return listing(render(conn, ctx.org, rows, ctx.tz), query, **totals)

    return list_objects


def get_handler(spec: ResourceSpec) -> Handler:
    def get_object(ctx: Call) -> dict[str, Any]:
        with ctx.db.read() as conn:
            obj = repository.render_one(conn, spec, ctx.org, ctx.path_params["id"], ctx.tz)
        return project(obj, ctx.params)

    return get_object


def creating(create: Create) -> Handler:
    """``POST``: ``create(conn, ctx, body)`` in one transaction; the object it returns."""

    def create_object(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            return project(create(conn, ctx, ctx.body), ctx.params)

    return create_object


def updating(update: Update) -> Handler:
    """``PUT``: ``update(conn, ctx, id, body)`` in one transaction; the object it returns."""

    def update_object(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            return project(update(conn, ctx, ctx.path_params["id"], ctx.body), ctx.params)

    return update_object


def deleting(delete: Delete) -> Handler:
    """``DELETE``: ``delete(conn, ctx, id)`` in one transaction; an empty body."""

    def delete_object(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            delete(conn, ctx, ctx.path_params["id"])
        return {}

    return delete_object


def acting(act: Create) -> Handler:
    """An action (``POST /lead/merge/``): ``act(conn, ctx, body)`` in one transaction; ``{}``."""

    def perform(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            act(conn, ctx, ctx.body)
        return {}

    return perform


# Verbs a resource may leave to the generic pipeline (declared with ``handler=None``).
GENERIC: dict[str, Callable[[ResourceSpec], Handler]] = {
    "list": list_handler,
    "get": get_handler,
}
