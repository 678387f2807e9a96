"""Pipelines (``/pipeline/``) and opportunity statuses (``/status/opportunity/``).

A pipeline is an ordered list of opportunity statuses; every status belongs to exactly one
pipeline and has a ``type`` (``active``, ``won`` or ``lost``) that opportunities report as
``status_type``. The read helpers used elsewhere (``/me/``, lead rendering) live in
``statuses``; this module owns the writes and the status lookups opportunities need.
"""

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from crmapi.domain.context import Call, Reply
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest, object_not_found
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import UNPAGED
from crmapi.resources import repository, statuses
from crmapi.resources.render import project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

P = t.pipeline
S = t.opportunity_status
STATUS_TYPES = ("active", "won", "lost")

PIPELINE_FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255),
        Field("statuses", "object_list", nullable=False, max_items=1000),
    )
)
STATUS_FIELDS = FieldSet(
    (
        Field("label", "str", required=True, nullable=False, max_length=255),
        Field("type", "enum", choices=STATUS_TYPES, required=True, nullable=False, update=False),
        Field(
            "pipeline_id",
            "id",
            required=True,
            nullable=False,
            update=False,
            error_key="pipeline",
            references="pipeline",
        ),
    )
)


# --- lookups used by opportunities -------------------------------------------------------


def opportunity_status(conn: Connection, org_id: str, status_id: str) -> dict[str, Any] | None:
    """One status with its pipeline's name, or None (unknown or another organization's)."""
    row = conn.execute(
        select(S, P.c.name.label("pipeline_name"))
        .join(P, (P.c.organization_id == S.c.organization_id) & (P.c.id == S.c.pipeline_id))
        .where(S.c.organization_id == org_id, S.c.id == status_id)
    ).first()
    return _status_info(row) if row is not None else None


def status_by_label(
    conn: Connection, org_id: str, label: str, pipeline_id: str | None
) -> dict[str, Any] | None:
    """The deprecated ``status`` (label) form: first match, within the pipeline when given."""
    stmt = (
        select(S, P.c.name.label("pipeline_name"))
        .join(P, (P.c.organization_id == S.c.organization_id) & (P.c.id == S.c.pipeline_id))
        .where(S.c.organization_id == org_id, func.lower(S.c.label) == label.lower())
        .order_by(P.c.position, P.c.date_created, S.c.position, S.c.date_created)
    )
    if pipeline_id is not None:
        stmt = stmt.where(S.c.pipeline_id == pipeline_id)
    row = conn.execute(stmt.limit(1)).first()
    return _status_info(row) if row is not None else None


def first_status(conn: Connection, org_id: str, pipeline_id: str | None) -> dict[str, Any] | None:
    """The default status: the first of ``pipeline_id``, or of the first pipeline."""
    stmt = (
        select(S, P.c.name.label("pipeline_name"))
        .join(P, (P.c.organization_id == S.c.organization_id) & (P.c.id == S.c.pipeline_id))
        .where(S.c.organization_id == org_id)
        .order_by(P.c.position, P.c.date_created, S.c.position, S.c.date_created)
    )
    if pipeline_id is not None:
        stmt = stmt.where(S.c.pipeline_id == pipeline_id)
    row = conn.execute(stmt.limit(1)).first()
    return _status_info(row) if row is not None else None


def status_map(conn: Connection, org_id: str) -> dict[str, dict[str, Any]]:
    """Every status of the organization by id (a handful of rows), for rendering a page."""
    rows = conn.execute(
        select(S, P.c.name.label("pipeline_name"))
        .join(P, (P.c.organization_id == S.c.organization_id) & (P.c.id == S.c.pipeline_id))
        .where(S.c.organization_id == org_id)
    ).all()
    return {r.id: _status_info(r) for r in rows}


def _status_info(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "type": row.type,
        "pipeline_id": row.pipeline_id,
        "pipeline_name": row.pipeline_name,
    }


# --- pipelines -----------------------------------------------------------------------------


def _pipeline(conn: Connection, org_id: str, pipeline_id: str) -> dict[str, Any]:
    for pipe in statuses.pipelines(conn, org_id):
        if pipe["id"] == pipeline_id:
            return pipe
    raise object_not_found("Pipeline")


def _place_statuses(
    conn: Connection, org_id: str, pipeline_id: str, items: list[dict[str, Any]], now: str
) -> None:
    """Order ``items`` (``[{id}, ...]``) first in the pipeline, moving in foreign statuses.

    Statuses of the pipeline that are not listed keep their order after the listed ones.
    """
    ids = []
    for item in items:
        status_id = item.get("id")
        if not isinstance(status_id, str) or opportunity_status(conn, org_id, status_id) is None:
            raise InvalidRequest(field_errors={"statuses": DOES_NOT_EXIST})
        if status_id not in ids:
            ids.append(status_id)
    rest = [
        r.id
        for r in conn.execute(
            select(S.c.id)
            .where(S.c.organization_id == org_id, S.c.pipeline_id == pipeline_id)
            .order_by(S.c.position, S.c.date_created)
        )
        if r.id not in ids
    ]
    for position, status_id in enumerate(ids + rest):
        conn.execute(
            update(S)
            .where(S.c.organization_id == org_id, S.c.id == status_id)
            .values(pipeline_id=pipeline_id, position=position, date_updated=now)
        )


def list_pipelines(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        items = [project(p, ctx.params) for p in statuses.pipelines(conn, ctx.org)]
    return {"data": items, "has_more": False}


def get_pipeline(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(_pipeline(conn, ctx.org, ctx.path_params["id"]), ctx.params)


def create_pipeline(ctx: Call) -> Reply:
    values = PIPELINE_FIELDS.validate(ctx.body, creating=True)
    now = dates.now()
    pipeline_id = new_id("pipe")
    with ctx.db.write() as conn:
        position = conn.execute(
            select(func.count()).where(P.c.organization_id == ctx.org)
        ).scalar_one()
        conn.execute(
            insert(P).values(
                id=pipeline_id,
                organization_id=ctx.org,
                name=values["name"],
                position=position,
                created_by=ctx.user_id,
                updated_by=ctx.user_id,
                date_created=now,
                date_updated=now,
            )
        )
        if values.get("statuses"):
            _place_statuses(conn, ctx.org, pipeline_id, values["statuses"], now)
        created = _pipeline(conn, ctx.org, pipeline_id)
    return Reply(project(created, ctx.params), {"Location": f"{ctx.path}{pipeline_id}/"})


def update_pipeline(ctx: Call) -> dict[str, Any]:
    values = PIPELINE_FIELDS.validate(ctx.body, creating=False)
    now = dates.now()
    pipeline_id = ctx.path_params["id"]
    with ctx.db.write() as conn:
        _pipeline(conn, ctx.org, pipeline_id)
        if "statuses" in values:
            _place_statuses(conn, ctx.org, pipeline_id, values["statuses"], now)
        changes = {"name": values["name"]} if "name" in values else {}
        conn.execute(
            update(P)
            .where(P.c.organization_id == ctx.org, P.c.id == pipeline_id)
            .values(**changes, updated_by=ctx.user_id, date_updated=now)
        )
        return project(_pipeline(conn, ctx.org, pipeline_id), ctx.params)


def delete_pipeline(ctx: Call) -> dict[str, Any]:
    pipeline_id = ctx.path_params["id"]
    with ctx.db.write() as conn:
        pipe = _pipeline(conn, ctx.org, pipeline_id)
        if pipe["statuses"]:
            raise InvalidRequest(
                [
                    "A pipeline can only be deleted when it has no opportunity statuses; "
                    "delete them or move them to another pipeline first."
                ]
            )
        conn.execute(delete(P).where(P.c.organization_id == ctx.org, P.c.id == pipeline_id))
    return {}  # answered as 204 No Content (the Op declares it)


# --- opportunity statuses ------------------------------------------------------------------


def _render_status(conn: Connection, org_id: str, status_id: str) -> dict[str, Any]:
    for status in statuses.opportunity_statuses(conn, org_id):
        if status["id"] == status_id:
            return status
    raise object_not_found("Status")


def list_opportunity_statuses(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        items = [project(s, ctx.params) for s in statuses.opportunity_statuses(conn, ctx.org)]
    return {"data": items, "has_more": False}


def get_opportunity_status(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(_render_status(conn, ctx.org, ctx.path_params["id"]), ctx.params)


def create_opportunity_status(ctx: Call) -> dict[str, Any]:
    values = STATUS_FIELDS.validate(ctx.body, creating=True)
    now = dates.now()
    status_id = new_id("stat")
    with ctx.db.write() as conn:
        repository.check_references(conn, ctx.org, STATUS_FIELDS.fields, values)
        position = conn.execute(
            select(func.count()).where(
                S.c.organization_id == ctx.org, S.c.pipeline_id == values["pipeline_id"]
            )
        ).scalar_one()
        conn.execute(
            insert(S).values(
                id=status_id,
                organization_id=ctx.org,
                pipeline_id=values["pipeline_id"],
                label=values["label"],
                type=values["type"],
                position=position,
                created_by=ctx.user_id,
                updated_by=ctx.user_id,
                date_created=now,
                date_updated=now,
            )
        )
        return project(_render_status(conn, ctx.org, status_id), ctx.params)


def update_opportunity_status(ctx: Call) -> dict[str, Any]:
    values = STATUS_FIELDS.validate(ctx.body, creating=False)
    status_id = ctx.path_params["id"]
    with ctx.db.write() as conn:
        _render_status(conn, ctx.org, status_id)
        conn.execute(
            update(S)
            .where(S.c.organization_id == ctx.org, S.c.id == status_id)
            .values(**values, updated_by=ctx.user_id, date_updated=dates.now())
        )
        return project(_render_status(conn, ctx.org, status_id), ctx.params)


def delete_opportunity_status(ctx: Call) -> dict[str, Any]:
    status_id = ctx.path_params["id"]
    with ctx.db.write() as conn:
        _render_status(conn, ctx.org, status_id)
        in_use = conn.execute(
            select(func.count()).where(
                t.opportunity.c.organization_id == ctx.org, t.opportunity.c.status_id == status_id
            )
        ).scalar_one()
        if in_use:
            raise InvalidRequest(
                [
                    f"This status is used by {in_use} opportunity(ies); "
                    "move them to another status first."
                ]
            )
        conn.execute(delete(S).where(S.c.organization_id == ctx.org, S.c.id == status_id))
    return {}


PIPELINE = ResourceSpec(
    name="pipeline",
    path="/pipeline/",
    model="Pipeline",
    table=t.pipeline,
    id_prefix="pipe",
    fields=PIPELINE_FIELDS,
    list_spec=UNPAGED,
    operations={
        "list": Operation(list_pipelines, "List pipelines"),
        "create": Operation(create_pipeline, "Create a pipeline", 201),
        "get": Operation(get_pipeline, "Get a pipeline"),
        "update": Operation(update_pipeline, "Update a pipeline"),
        "delete": Operation(delete_pipeline, "Delete an empty pipeline", 204),
    },
    docs="https://developer.close.com/api/resources/pipelines",
)

OPPORTUNITY_STATUS = ResourceSpec(
    name="opportunity_status",
    path="/status/opportunity/",
    model="Status",
    table=t.opportunity_status,
    id_prefix="stat",
    fields=STATUS_FIELDS,
    list_spec=UNPAGED,
    operations={
        "list": Operation(list_opportunity_statuses, "List opportunity statuses"),
        "create": Operation(create_opportunity_status, "Create an opportunity status"),
        "get": Operation(get_opportunity_status, "Get an opportunity status"),
        "update": Operation(update_opportunity_status, "Update an opportunity status"),
        "delete": Operation(delete_opportunity_status, "Delete an unused opportunity status"),
    },
    docs="https://developer.close.com/api/resources/opportunity-statuses",
)
