"""Groups (``/group/``, core.md §11.5, more.md §8.1): read-only here.

As in Close, a group's ``members`` (``[{user_id}]``) appear only on the single-group GET and
only when ``_fields`` asks for them (``?_fields=name,members``); lists never carry them.
Close creates groups in its settings pages, here ``crmapi group add`` and the demo do.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from crmapi.domain.context import Call
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import config_rows, repository
from crmapi.resources.render import project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

GROUP = t.user_group
LIST = ListSpec(
    filters={},
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="name",
)


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [{"id": r.id, "organization_id": r.organization_id, "name": r.name} for r in rows]


def get_group(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = repository.scoped_row(conn, GROUP, ctx.org, ctx.path_params["id"], "Group")
        obj = render_rows(conn, ctx.org, [row])[0]
    if "members" in (grammar.field_names(ctx.params.get("_fields")) or ()):
        obj["members"] = list(row.data.get("members") or [])
    return project(obj, ctx.params)


def add(conn: Connection, org_id: str, name: str, user_ids: list[str]) -> str:
    """A group of members (Close's settings page; ``crmapi group add``)."""
    members = [{"user_id": u} for u in user_ids]
    return config_rows.add(conn, GROUP, "group", org_id, None, {"name": name}, {"members": members})


SPEC = ResourceSpec(
    name="group",
    path="/group/",
    model="Group",
    table=GROUP,
    id_prefix="group",
    list_spec=LIST,
    render=render_rows,
    operations={
        "list": Operation(None, "List groups (members: GET one with _fields=members)"),
        "get": Operation(get_group, "Get a group"),
    },
    docs="https://developer.close.com/api/resources/groups",
)
