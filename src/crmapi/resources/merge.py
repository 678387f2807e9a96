"""Lead merge (``POST /lead/merge/``): the source lead is folded into the destination.

Contacts, opportunities, tasks and every activity of the source move to the destination, a
``LeadMerge`` activity is written on the destination, and the source is deleted: one
transaction, so a failure anywhere leaves both leads as they were.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, select, update

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import FieldSet
from crmapi.events.emit import emit
from crmapi.resources import catalog, repository
from crmapi.resources.spec import ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates

L = t.lead


def _lead_row(conn: Connection, org_id: str, lead_id: str) -> Row[Any] | None:
    return conn.execute(select(L).where(L.c.organization_id == org_id, L.c.id == lead_id)).first()


def _validate(
    conn: Connection, ctx: Actor, body: dict[str, Any], fields: FieldSet
) -> tuple[Row[Any], Row[Any]]:
    values = fields.validate(body, creating=True)
    source = _lead_row(conn, ctx.org, values["source"])
    if source is None:
        raise InvalidRequest(["Source lead does not exist."])
    destination = _lead_row(conn, ctx.org, values["destination"])
    if destination is None:
        raise InvalidRequest(["Destination lead does not exist."])
    if source.id == destination.id:
        raise InvalidRequest(["Source and destination leads must be different."])
    return source, destination


def _lead_children() -> list[ResourceSpec]:
    return catalog.LEAD_CHILDREN


def child_tables(reverse: bool = False) -> list[Table]:
    """The tables of a lead's children, in registry order (``reverse``: the last first)."""
    tables = [spec.table for spec in _lead_children() if spec.table is not None]
    return tables[::-1] if reverse else tables


def children(conn: Connection, ctx: Actor, lead_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every child of a lead as (event object type, rendered object): what a merge moves and
    a lead delete removes, each of which gets its own event."""
    out: list[tuple[str, dict[str, Any]]] = []
    for spec in _lead_children():
        assert spec.render is not None
        rows = _rows(conn, spec, ctx.org, lead_id)
        out += [(spec.object_type(obj), obj) for obj in spec.render(conn, ctx.org, rows, ctx.tz)]
    return out


def _rows(conn: Connection, spec: ResourceSpec, org_id: str, lead_id: str) -> Sequence[Row[Any]]:
    table = spec.table
    assert table is not None
    return conn.execute(
        select(*spec.row_columns).where(
            table.c.organization_id == org_id, table.c.lead_id == lead_id
        )
    ).all()


def _fold_fields(source: Row[Any], destination: Row[Any]) -> dict[str, Any]:
    """The destination keeps its own fields; the source fills its unset custom fields and
    adds its addresses, so no data of the source is lost."""
    custom = {**(source.custom or {}), **(destination.custom or {})}
    addresses = list(destination.addresses or []) + [
        a for a in (source.addresses or []) if a not in (destination.addresses or [])
    ]
    return {"custom": custom, "addresses": addresses}


def merge_leads(
    conn: Connection, ctx: Actor, body: dict[str, Any], lead: ResourceSpec, fields: FieldSet
) -> dict[str, Any]:
    """Fold the source lead into the destination; return the destination as rendered.

    ``lead`` is the lead's declaration (how a lead renders), ``fields`` the action's body.
    """
    source, destination = _validate(conn, ctx, body, fields)
    assert lead.render is not None
    now = dates.now()
    meta = {
        "request_method": ctx.method,
        "request_path": ctx.path,
        "merge_source_lead_id": source.id,
        "merge_destination_lead_id": destination.id,
    }
    source_before = lead.render(conn, ctx.org, [source], 0.0)[0]
    destination_before = lead.render(conn, ctx.org, [destination], 0.0)[0]
    moved = children(conn, ctx, source.id)
    for table in child_tables():
        conn.execute(
            update(table)
            .where(table.c.organization_id == ctx.org, table.c.lead_id == source.id)
            .values(lead_id=destination.id)
        )
    conn.execute(
        update(L)
        .where(L.c.organization_id == ctx.org, L.c.id == destination.id)
        .values(**_fold_fields(source, destination), updated_by=ctx.user_id, date_updated=now)
    )
    conn.execute(delete(L).where(L.c.organization_id == ctx.org, L.c.id == source.id))
    wc = write.write_context(ctx, conn)
    wc.now = now
    wc.meta = meta
    write.system_create(
        wc,
        BY_TYPE["LeadMerge"],
        {
            "lead_id": destination.id,
            "source_lead_id": source.id,
            "source_display_name": source_before["display_name"],
            "destination_lead_id": destination.id,
            "destination_display_name": destination_before["display_name"],
            "merge_status": "completed",
            "error_message": None,
        },
    )
    destination_after = repository.render_one(conn, lead, ctx.org, destination.id)

    def event(kind: str, action: str, before: Any, after: Any, lead_id: str) -> None:
        obj = after or before
        emit(
            conn,
            ctx.principal,
            object_type=kind,
            action=action,
            object_id=obj["id"],
            lead_id=lead_id,
            before=before,
            after=after,
            request_id=ctx.request_id,
            meta=meta,
        )

    for kind, before in moved:
        event(kind, "updated", before, {**before, "lead_id": destination.id}, destination.id)
    event("lead", "updated", destination_before, destination_after, destination.id)
    event("lead", "deleted", source_before, None, source.id)
    event("lead", "merged", None, destination_after, destination.id)
    return destination_after
