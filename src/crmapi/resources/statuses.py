"""Lead statuses (``/status/lead/``), and the read side of pipelines and opportunity statuses
(their writes are in ``pipelines``)."""

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from crmapi.domain.context import Call
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import UNPAGED
from crmapi.resources.render import project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

COLORS = ("blue", "gray", "green", "magenta", "orange", "purple", "teal", "yellow")
LEAD_STATUS_FIELDS = FieldSet(
    (
        Field("label", "str", required=True, nullable=False, max_length=255),
        Field("color", "enum", choices=COLORS),
    )
)


def render_lead_status(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "color": row.color,
        "organization_id": row.organization_id,
    }


def lead_statuses(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.lead_status)
        .where(t.lead_status.c.organization_id == org_id)
        .order_by(t.lead_status.c.position, t.lead_status.c.date_created)
    )
    return [render_lead_status(r) for r in rows]


def lead_status(conn: Connection, org_id: str, status_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.lead_status).where(
            t.lead_status.c.organization_id == org_id, t.lead_status.c.id == status_id
        )
    ).first()
    return render_lead_status(row) if row is not None else None


def lead_status_by_label(conn: Connection, org_id: str, label: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.lead_status).where(
            t.lead_status.c.organization_id == org_id,
            func.lower(t.lead_status.c.label) == label.lower(),
        )
    ).first()
    return render_lead_status(row) if row is not None else None


def default_lead_status(conn: Connection, org_id: str) -> dict[str, Any]:
    found = lead_statuses(conn, org_id)
    if not found:
        raise InvalidRequest(["The organization has no lead statuses; create one first."])
    return found[0]


def pipelines(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    pipes = conn.execute(
        select(t.pipeline)
        .where(t.pipeline.c.organization_id == org_id)
        .order_by(t.pipeline.c.position, t.pipeline.c.date_created)
    ).all()
    by_pipe: dict[str, list[dict[str, Any]]] = {p.id: [] for p in pipes}
    for s in opportunity_statuses(conn, org_id):
        by_pipe.setdefault(s["pipeline_id"], []).append(
            {"id": s["id"], "label": s["label"], "type": s["type"]}
        )
    return [
        {
            "id": p.id,
            "name": p.name,
            "organization_id": p.organization_id,
            "statuses": by_pipe.get(p.id, []),
            "created_by": p.created_by,
            "updated_by": p.updated_by,
            "date_created": p.date_created,
            "date_updated": p.date_updated,
        }
        for p in pipes
    ]


def opportunity_statuses(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    s, p = t.opportunity_status, t.pipeline
    # Pipeline order first, then each pipeline's own order (positions are per pipeline).
    rows = conn.execute(
        select(s)
        .join(p, (p.c.organization_id == s.c.organization_id) & (p.c.id == s.c.pipeline_id))
        .where(s.c.organization_id == org_id)
        .order_by(p.c.position, p.c.date_created, s.c.position, s.c.date_created)
    )
    return [
        {
            "id": r.id,
            "label": r.label,
            "type": r.type,
            "pipeline_id": r.pipeline_id,
            "organization_id": r.organization_id,
        }
        for r in rows
    ]


def list_lead_statuses(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        items = [project(s, ctx.params) for s in lead_statuses(conn, ctx.org)]
    return {"data": items, "has_more": False}


def get_lead_status(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        found = lead_status(conn, ctx.org, ctx.path_params["id"])
    if found is None:
        raise object_not_found("Status")
    return project(found, ctx.params)


def create_lead_status(ctx: Call) -> dict[str, Any]:
    values = LEAD_STATUS_FIELDS.validate(ctx.body, creating=True)
    now = dates.now()
    status_id = new_id("stat")
    with ctx.db.write() as conn:
        position = conn.execute(
            select(func.count()).where(t.lead_status.c.organization_id == ctx.org)
        ).scalar_one()
        conn.execute(
            insert(t.lead_status).values(
                id=status_id,
                organization_id=ctx.org,
                label=values["label"],
                color=values.get("color"),
                position=position,
                created_by=ctx.user_id,
                updated_by=ctx.user_id,
                date_created=now,
                date_updated=now,
            )
        )
        found = lead_status(conn, ctx.org, status_id)
    assert found is not None
    return found


def update_lead_status(ctx: Call) -> dict[str, Any]:
    values = LEAD_STATUS_FIELDS.validate(ctx.body, creating=False)
    if "label" in values and values["label"] is None:
        raise InvalidRequest(field_errors={"label": "This field may not be null."})
    with ctx.db.write() as conn:
        if lead_status(conn, ctx.org, ctx.path_params["id"]) is None:
            raise object_not_found("Status")
        if values:
            conn.execute(
                update(t.lead_status)
                .where(
                    t.lead_status.c.organization_id == ctx.org,
                    t.lead_status.c.id == ctx.path_params["id"],
                )
                .values(**values, updated_by=ctx.user_id, date_updated=dates.now())
            )
        found = lead_status(conn, ctx.org, ctx.path_params["id"])
    assert found is not None
    return found


def delete_lead_status(ctx: Call) -> dict[str, Any]:
    status_id = ctx.path_params["id"]
    with ctx.db.write() as conn:
        if lead_status(conn, ctx.org, status_id) is None:
            raise object_not_found("Status")
        in_use = conn.execute(
            select(func.count()).where(
                t.lead.c.organization_id == ctx.org, t.lead.c.status_id == status_id
            )
        ).scalar_one()
        if in_use:
            raise InvalidRequest(
                [f"This status is used by {in_use} lead(s); move them to another status first."]
            )
        conn.execute(
            delete(t.lead_status).where(
                t.lead_status.c.organization_id == ctx.org, t.lead_status.c.id == status_id
            )
        )
    return {}


LEAD_STATUS = ResourceSpec(
    name="lead_status",
    path="/status/lead/",
    model="Status",
    table=t.lead_status,
    id_prefix="stat",
    fields=LEAD_STATUS_FIELDS,
    list_spec=UNPAGED,
    operations={
        "list": Operation(list_lead_statuses, "List lead statuses"),
        "create": Operation(create_lead_status, "Create a lead status"),
        "get": Operation(get_lead_status, "Get a lead status"),
        "update": Operation(update_lead_status, "Update a lead status"),
        "delete": Operation(delete_lead_status, "Delete an unused lead status"),
    },
    docs="https://developer.close.com/api/resources/lead-statuses",
)
