"""Send As (``/send_as/``, more.md §8.3): one member (``allowing_user_id``) lets another
(``allowed_user_id``) send email as them.

Close's rules, all about the caller: a list names the caller on one side (neither parameter:
``allowing_user_id=<caller>``), a create has the caller allowing, a delete is the allowing
member's. Breaking one is a 403 (a permission, not a malformed request; more.md leaves the
status open). Creating an existing pair answers that association again.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, select

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import APIError
from crmapi.domain.fields import Field, FieldSet
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec
from crmapi.resources import config_rows, repository
from crmapi.resources.handlers import creating, deleting
from crmapi.resources.render import listing
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

SEND_AS = t.send_as
SIDES = ("allowing_user_id", "allowed_user_id")
FIELDS = FieldSet(
    (
        # Only the caller may allow: absent means the caller.
        Field("allowing_user_id", "id", references="user"),
        Field("allowed_user_id", "id", required=True, nullable=False, references="user"),
    )
)
LIST = ListSpec(
    filters={side: FilterSpec(side, "eq", "id") for side in SIDES},
    orderings={"date_created": OrderSpec("date_created")},
    default_order="date_created",
)
NOT_YOURS = "You can only manage Send As associations where you are the allowing user."
NOT_LISTED = "allowing_user_id or allowed_user_id must be your own user id."


class Forbidden(APIError):
    status = 403


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "allowing_user_id": r.allowing_user_id,
            "allowed_user_id": r.allowed_user_id,
        }
        for r in rows
    ]


def list_send_as(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    named = {side: query.values(side) for side in SIDES}
    scope = and_(SEND_AS.c.organization_id == ctx.org)
    if not any(named.values()):
        scope = and_(scope, SEND_AS.c.allowing_user_id == ctx.user_id)
    elif not any(values == (ctx.user_id,) for values in named.values()):
        raise Forbidden(NOT_LISTED)
    with ctx.db.read() as conn:
        rows = conn.execute(qc.page(select(SEND_AS), SEND_AS, query, scope)).all()
        return listing(render_rows(conn, ctx.org, rows), query)


def add(conn: Connection, org_id: str, allowing: str, allowed: str) -> str:
    """The association of this pair: the existing one, or a new one."""
    found = conn.execute(
        select(SEND_AS.c.id).where(
            SEND_AS.c.organization_id == org_id,
            SEND_AS.c.allowing_user_id == allowing,
            SEND_AS.c.allowed_user_id == allowed,
        )
    ).scalar()
    if found is not None:
        return str(found)
    sides = {"allowing_user_id": allowing, "allowed_user_id": allowed}
    return config_rows.add(conn, SEND_AS, "sdas", org_id, allowing, sides, {})


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=True)
    repository.check_references(conn, ctx.org, FIELDS.fields, values)
    allowing = values.get("allowing_user_id") or ctx.user_id
    if allowing != ctx.user_id:
        raise Forbidden(NOT_YOURS)
    send_as_id = add(conn, ctx.org, allowing, values["allowed_user_id"])
    return repository.render_one(conn, SPEC, ctx.org, send_as_id)


def remove(conn: Connection, ctx: Actor, send_as_id: str) -> None:
    row = repository.get_row(conn, SPEC, ctx.org, send_as_id)
    if row.allowing_user_id != ctx.user_id:
        raise Forbidden(NOT_YOURS)
    conn.execute(
        delete(SEND_AS).where(SEND_AS.c.organization_id == ctx.org, SEND_AS.c.id == send_as_id)
    )


SPEC = ResourceSpec(
    name="send_as",
    path="/send_as/",
    model="SendAs",
    table=SEND_AS,
    id_prefix="sdas",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    operations={
        "list": Operation(list_send_as, "List Send As associations the caller is part of"),
        "create": Operation(creating(create), "Allow another member to send as the caller", 201),
        "get": Operation(None, "Get a Send As association"),
        "delete": Operation(deleting(remove), "Remove a Send As association", 204),
    },
    docs="https://developer.close.com/api/resources/send-as",
)
