"""Custom activity types (``/custom_activity/``): the ``actitype_`` definitions instances use.

A type's ``fields`` are its activity custom fields (``/custom_field/activity/``), shown with
their metadata in the type's display order; PUT may reorder them but never adds any.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

BLANK = "This field may not be blank."
CAT = t.custom_activity_type
CF = t.custom_field
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("description", "str", max_length=10_000),
        Field("api_create_only", "bool", nullable=False),
        Field("editable_with_roles", "str_list", nullable=False, max_items=100),
        Field("is_archived", "bool", nullable=False, create=False),
        Field("fields", "any", create=False),
    )
)
LIST = ListSpec(
    filters={},
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
    max_limit=1000,
)


def _field_meta(row: Row[Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "type": row.type,
        "required": row.required,
        "accepts_multiple_values": row.accepts_multiple_values,
        "editable_with_roles": list(row.editable_with_roles or []),
        "converting_to_type": None,
    }
    if row.type == "choices":
        meta["choices"] = list(row.choices or [])
    return meta


def _fields_by_type(conn: Connection, org_id: str, type_ids: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {type_id: [] for type_id in type_ids}
    if not type_ids:
        return out
    rows = conn.execute(
        select(CF)
        .where(
            CF.c.organization_id == org_id,
            CF.c.object_type == "activity",
            CF.c.custom_activity_type_id.in_(type_ids),
        )
        .order_by(CF.c.position, CF.c.date_created)
    )
    for r in rows:
        out[r.custom_activity_type_id].append(r)
    return out


def _ordered(rows: list[Any], order: list[str]) -> list[Any]:
    """The display order: ids named in ``order`` first, then the rest by creation."""
    rank = {field_id: i for i, field_id in enumerate(order)}
    return sorted(rows, key=lambda r: rank.get(r.id, len(rank)))


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    fields = _fields_by_type(conn, org_id, [r.id for r in rows])
    return [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "api_create_only": r.api_create_only,
            "editable_with_roles": list(r.editable_with_roles or []),
            "is_archived": r.is_archived,
            "fields": [_field_meta(f) for f in _ordered(fields[r.id], list(r.field_order or []))],
            "organization_id": r.organization_id,
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def render_one(conn: Connection, org_id: str, type_id: str) -> dict[str, Any]:
    return repository.render_one(conn, SPEC, org_id, type_id)


def _emit(ctx: Actor, conn: Connection, action: str, **change: Any) -> None:
    emit_change(
        conn, ctx, "custom_activity_type", action, change.get("before"), change.get("after")
    )


def _check_name(values: dict[str, Any]) -> None:
    if "name" in values and not str(values["name"]).strip():
        raise InvalidRequest(field_errors={"name": BLANK})


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=True)
    _check_name(values)
    now = dates.now()
    type_id = new_id("actitype")
    conn.execute(
        insert(CAT).values(
            id=type_id,
            organization_id=ctx.org,
            name=values["name"],
            description=values.get("description"),
            api_create_only=values.get("api_create_only", False),
            editable_with_roles=values.get("editable_with_roles") or [],
            is_archived=False,
            field_order=[],
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    created = render_one(conn, ctx.org, type_id)
    _emit(ctx, conn, "created", after=created)
    return created


def _field_order(raw: Any, known: set[str]) -> list[str]:
    """``fields: [{"id": ...}, ...]`` (plain ids accepted too); only the type's own fields."""
    if not isinstance(raw, list):
        raise InvalidRequest(field_errors={"fields": 'Send a list of {"id": ...} objects.'})
    order: list[str] = []
    for item in raw:
        field_id = item.get("id") if isinstance(item, dict) else item
        if not isinstance(field_id, str) or field_id not in known:
            raise InvalidRequest(
                field_errors={"fields": f"{str(field_id)[:100]!r} is not a field of this type."}
            )
        if field_id not in order:
            order.append(field_id)
    return order


def update_(conn: Connection, ctx: Actor, type_id: str, body: dict[str, Any]) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=False)
    _check_name(values)
    row = repository.get_row(conn, SPEC, ctx.org, type_id)
    before = render_rows(conn, ctx.org, [row])[0]
    changes = {k: v for k, v in values.items() if k != "fields"}
    if "editable_with_roles" in changes:
        changes["editable_with_roles"] = changes["editable_with_roles"] or []
    if values.get("fields") is not None:
        changes["field_order"] = _field_order(values["fields"], {f["id"] for f in before["fields"]})
    conn.execute(
        update(CAT)
        .where(CAT.c.organization_id == ctx.org, CAT.c.id == row.id)
        .values(**changes, updated_by=ctx.user_id, date_updated=dates.now())
    )
    after = render_one(conn, ctx.org, row.id)
    _emit(ctx, conn, "updated", before=before, after=after)
    return after


def remove(conn: Connection, ctx: Actor, type_id: str) -> None:
    row = repository.get_row(conn, SPEC, ctx.org, type_id)
    used = conn.execute(
        select(func.count()).where(
            t.activity.c.organization_id == ctx.org,
            t.activity.c.custom_activity_type_id == row.id,
        )
    ).scalar_one()
    if used:
        raise InvalidRequest(
            [
                f"This custom activity type has {used} activities; delete them or archive "
                "the type (is_archived) instead."
            ]
        )
    before = render_rows(conn, ctx.org, [row])[0]
    conn.execute(
        delete(CF).where(
            CF.c.organization_id == ctx.org,
            CF.c.object_type == "activity",
            CF.c.custom_activity_type_id == row.id,
        )
    )
    # Shared fields stay; only their attachment to this type goes.
    assoc = t.custom_field_association
    conn.execute(
        delete(assoc).where(
            assoc.c.organization_id == ctx.org,
            assoc.c.target == f"custom_activity_type/{row.id}",
        )
    )
    conn.execute(delete(CAT).where(CAT.c.organization_id == ctx.org, CAT.c.id == row.id))
    _emit(ctx, conn, "deleted", before=before)
    # answered as 204 No Content (the operation declares it)


SPEC = ResourceSpec(
    name="custom_activity_type",
    path="/custom_activity/",
    model="CustomActivityType",
    table=CAT,
    id_prefix="actitype",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="custom_activity_type",
    operations={
        "list": Operation(None, "List custom activity types"),
        "create": Operation(creating(create), "Create a custom activity type", 201),
        "get": Operation(None, "Get a custom activity type"),
        "update": Operation(updating(update_), "Update a custom activity type"),
        "delete": Operation(deleting(remove), "Delete an unused custom activity type", 204),
    },
    docs="https://developer.close.com/api/resources/custom-activities",
)
