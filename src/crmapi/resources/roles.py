"""Roles (``/role/``, core.md §11.4, more.md §8.1): read-only here.

Close's built-in roles have literal ids (``admin``, ``superuser``, ``user``,
``restricteduser``) in every organization and are not editable: they are constants, listed
first. Custom roles (``role_…``) are rows; Close creates them in its settings pages, here
``crmapi role add`` and the demo do.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from crmapi.domain.context import Call
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import config_rows, repository
from crmapi.resources.render import listing, project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

ROLE = t.role
EVERYTHING = (
    "bulk_delete",
    "bulk_edit",
    "bulk_email",
    "bulk_import",
    "bulk_sequence_subscriptions",
    "calling",
    "delete_leads",
    "export",
    "manage_customizations",
    "manage_group_numbers",
    "manage_others_activities",
    "manage_others_opportunities",
    "manage_others_tasks",
    "manage_team_smart_views",
    "merge_leads",
    "view_all_leads",
)
USER_PERMISSIONS = (
    "calling",
    "delete_own_activities",
    "delete_own_opportunities",
    "delete_own_tasks",
    "view_all_leads",
)
# name, permissions; restricted users see only leads assigned to them (no view_all_leads).
BUILT_IN: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Admin", (*EVERYTHING, "manage_organization")),
    "superuser": ("Super User", EVERYTHING),
    "user": ("User", USER_PERMISSIONS),
    "restricteduser": ("Restricted User", ("calling", "delete_own_activities")),
}
LIST = ListSpec(
    filters={},
    orderings={"date_created": OrderSpec("date_created")},
    default_order="date_created",
)
_render = config_rows.document(("name",))


def built_in(org_id: str, role_id: str) -> dict[str, Any]:
    name, permissions = BUILT_IN[role_id]
    return {
        "id": role_id,
        "organization_id": org_id,
        "name": name,
        "editable": False,
        "permissions": list(permissions),
        "visibility_user_lcf_ids": None,
        "visibility_user_lcf_behavior": None,
    }


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    """Custom roles: editable, unlike the built-in ones."""
    return [{**obj, "editable": True} for obj in _render(conn, org_id, rows, tz)]


def list_roles(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    stmt = select(ROLE).where(ROLE.c.organization_id == ctx.org)
    with ctx.db.read() as conn:
        rows = conn.execute(stmt.order_by(ROLE.c.date_created, ROLE.c.id)).all()
        every = [built_in(ctx.org, r) for r in BUILT_IN] + render_rows(conn, ctx.org, rows)
    if query.descending:
        every.reverse()
    return listing(every[query.skip : query.skip + query.limit + 1], query)


def get_role(ctx: Call) -> dict[str, Any]:
    role_id = ctx.path_params["id"]
    if role_id in BUILT_IN:
        return project(built_in(ctx.org, role_id), ctx.params)
    with ctx.db.read() as conn:
        row = repository.scoped_row(conn, ROLE, ctx.org, role_id, "Role")
        return project(render_rows(conn, ctx.org, [row])[0], ctx.params)


def add(conn: Connection, org_id: str, name: str, permissions: list[str]) -> str:
    """A custom role (Close's settings page; ``crmapi role add``)."""
    data = {
        "permissions": permissions,
        "visibility_user_lcf_ids": None,
        "visibility_user_lcf_behavior": None,
    }
    return config_rows.add(conn, ROLE, "role", org_id, None, {"name": name}, data)


SPEC = ResourceSpec(
    name="role",
    path="/role/",
    model="Role",
    table=ROLE,
    id_prefix="role",
    list_spec=LIST,
    render=render_rows,
    shared_ids=frozenset(BUILT_IN),
    operations={
        "list": Operation(list_roles, "List roles (the built-in ones first)"),
        "get": Operation(get_role, "Get a role"),
    },
    docs="https://developer.close.com/api/resources/roles",
)
