"""Custom field definitions: ``/custom_field/{lead,contact,opportunity,activity}/``.

The legacy plural spelling ``/custom_fields/...`` (tap-closeio reads it) is served by the same
handlers. Values live on the objects (``resources/custom_values.py``); deleting a field
removes its values everywhere in the same transaction.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, Text, cast, delete, func, insert, select, update

from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.http.context import Ctx
from crmapi.http.endpoint import Op
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources.custom_values import MULTI_TYPES, PREFIX
from crmapi.resources.lookup import scoped_row
from crmapi.resources.render import listing, project
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

CF = t.custom_field
OBJECT_TYPES = ("lead", "contact", "opportunity", "activity")
FIELD_TYPES = (
    "text",
    "textarea",
    "number",
    "date",
    "datetime",
    "choices",
    "user",
    "contact",
    "hidden",
)
# Tables holding each object type's values in a ``custom`` JSON column.
VALUE_TABLES = {"lead": t.lead, "contact": t.contact, "opportunity": t.opportunity}

_COMMON = (
    Field("name", "str", required=True, nullable=False, max_length=255),
    Field("description", "str", max_length=280),
    Field("type", "enum", choices=FIELD_TYPES, required=True, nullable=False),
    Field("choices", "str_list", max_items=1000),
    Field("accepts_multiple_values", "bool", nullable=False),
    Field("editable_with_roles", "str_list", nullable=False, max_items=100),
)
FIELDS = FieldSet(_COMMON)
ACTIVITY_FIELDS = FieldSet(
    (
        *_COMMON,
        Field("required", "bool", nullable=False),
        Field("custom_activity_type_id", "id", required=True),
    )
)

LIST = ListSpec(
    filters={},
    orderings={"position": OrderSpec("position"), "date_created": OrderSpec("date_created")},
    default_order="position",
    max_limit=1000,
)


def render(row: Row[Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "type": row.type,
        "choices": list(row.choices or []) if row.type == "choices" else None,
        "accepts_multiple_values": row.accepts_multiple_values,
        "editable_with_roles": list(row.editable_with_roles or []),
        "converting_to_type": None,
        "organization_id": row.organization_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "date_created": row.date_created,
        "date_updated": row.date_updated,
    }
    if row.object_type == "activity":
        obj["custom_activity_type_id"] = row.custom_activity_type_id
        obj["required"] = row.required
    return obj


def get_row(conn: Connection, org_id: str, object_type: str, field_id: str) -> Row[Any]:
    return scoped_row(conn, CF, org_id, field_id, "CustomField", CF.c.object_type == object_type)


def activity_type_exists(conn: Connection, org_id: str, type_id: str) -> bool:
    cat = t.custom_activity_type
    found = conn.execute(
        select(cat.c.id).where(cat.c.organization_id == org_id, cat.c.id == type_id)
    ).first()
    return found is not None


def _check_shape(values: dict[str, Any], object_type: str) -> None:
    """Rules between attributes of one definition (``values`` is the merged result)."""
    errors: dict[str, str] = {}
    if not values["name"].strip():
        errors["name"] = "This field may not be blank."
    kind = values["type"]
    if kind == "textarea" and object_type != "activity":
        errors["type"] = "textarea fields exist only on custom activities."
    if kind == "choices":
        choices = values.get("choices") or []
        if not choices:
            errors["choices"] = "A choices field needs at least one choice."
        elif len(set(choices)) != len(choices) or not all(c.strip() for c in choices):
            errors["choices"] = "Choices must be unique, non-empty strings."
    elif values.get("choices"):
        errors["choices"] = "Only choices fields have choices."
    if values.get("accepts_multiple_values") and kind not in MULTI_TYPES:
        errors["accepts_multiple_values"] = (
            "Only user, choices and contact fields accept multiple values."
        )
    if errors:
        raise InvalidRequest(field_errors=errors)


def _emit(ctx: Ctx, conn: Connection, object_type: str, action: str, **change: Any) -> None:
    before, after = change.get("before"), change.get("after")
    emit_change(conn, ctx, f"custom_fields.{object_type}", action, before, after)


def make_handlers(object_type: str) -> tuple[dict[str, Op], dict[str, Op]]:
    fieldset = ACTIVITY_FIELDS if object_type == "activity" else FIELDS

    def list_(ctx: Ctx) -> dict[str, Any]:
        query = grammar.parse(ctx.params, LIST, ctx.tz)
        scope = (CF.c.organization_id == ctx.org) & (CF.c.object_type == object_type)
        with ctx.db.read() as conn:
            rows = conn.execute(qc.page(select(CF), CF, query, scope)).all()
        return listing([render(r) for r in rows], query)

    def create(ctx: Ctx) -> dict[str, Any]:
        values = fieldset.validate(ctx.body, creating=True)
        values.setdefault("accepts_multiple_values", False)
        _check_shape(values, object_type)
        now = dates.now()
        field_id = new_id("cf")
        with ctx.db.write() as conn:
            type_id = values.get("custom_activity_type_id")
            if type_id is not None and not activity_type_exists(conn, ctx.org, type_id):
                raise InvalidRequest(field_errors={"custom_activity_type_id": DOES_NOT_EXIST})
            position = conn.execute(
                select(func.count()).where(
                    CF.c.organization_id == ctx.org, CF.c.object_type == object_type
                )
            ).scalar_one()
            conn.execute(
                insert(CF).values(
                    id=field_id,
                    organization_id=ctx.org,
                    object_type=object_type,
                    custom_activity_type_id=type_id,
                    name=values["name"],
                    description=values.get("description"),
                    type=values["type"],
                    choices=values.get("choices") if values["type"] == "choices" else None,
                    accepts_multiple_values=values["accepts_multiple_values"],
                    required=values.get("required", False),
                    editable_with_roles=values.get("editable_with_roles") or [],
                    position=position,
                    created_by=ctx.user_id,
                    updated_by=ctx.user_id,
                    date_created=now,
                    date_updated=now,
                )
            )
            created = render(get_row(conn, ctx.org, object_type, field_id))
            _emit(ctx, conn, object_type, "created", after=created)
        return project(created, ctx.params)

    def get(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.read() as conn:
            row = get_row(conn, ctx.org, object_type, ctx.path_params["id"])
        return project(render(row), ctx.params)

    def update_(ctx: Ctx) -> dict[str, Any]:
        values = fieldset.validate(ctx.body, creating=False)
        with ctx.db.write() as conn:
            row = get_row(conn, ctx.org, object_type, ctx.path_params["id"])
            before = render(row)
            _check_fixed(before, values)
            if values.get("choices", ()) is None and row.type == "choices":
                del values["choices"]  # a choices field always keeps its choices
            _check_shape({**before, **values}, object_type)
            if values.get("accepts_multiple_values") is not None:
                _convert_multiple(conn, row, bool(values["accepts_multiple_values"]))
            changes = {k: v for k, v in values.items() if k != "custom_activity_type_id"}
            if "editable_with_roles" in changes:
                changes["editable_with_roles"] = changes["editable_with_roles"] or []
            conn.execute(
                update(CF)
                .where(CF.c.organization_id == ctx.org, CF.c.id == row.id)
                .values(**changes, updated_by=ctx.user_id, date_updated=dates.now())
            )
            after = render(get_row(conn, ctx.org, object_type, row.id))
            _emit(ctx, conn, object_type, "updated", before=before, after=after)
        return project(after, ctx.params)

    def delete_(ctx: Ctx) -> dict[str, Any]:
        with ctx.db.write() as conn:
            row = get_row(conn, ctx.org, object_type, ctx.path_params["id"])
            before = render(row)
            remove_field(conn, row)
            _emit(ctx, conn, object_type, "deleted", before=before)
        return {}

    name = f"{object_type} custom field"
    collection = {
        "GET": Op(list_, summary=f"List {name}s", list_spec=LIST, fields=fieldset),
        "POST": Op(create, summary=f"Create a {name}", fields=fieldset),
    }
    item = {
        "GET": Op(get, summary=f"Get a {name}", fields=fieldset),
        "PUT": Op(update_, summary=f"Update a {name}", fields=fieldset),
        "DELETE": Op(delete_, summary=f"Delete a {name} and its values"),
    }
    return collection, item


DOES_NOT_EXIST = "Object does not exist."


def _check_fixed(before: dict[str, Any], values: dict[str, Any]) -> None:
    """The type and the custom activity type of a field are fixed once it exists."""
    errors = {}
    if "type" in values and values["type"] != before["type"]:
        errors["type"] = "The type of a custom field cannot be changed."
    type_id = values.get("custom_activity_type_id")
    if type_id is not None and type_id != before.get("custom_activity_type_id"):
        errors["custom_activity_type_id"] = "The custom activity type cannot be changed."
    if errors:
        raise InvalidRequest(field_errors=errors)


def remove_field(conn: Connection, row: Row[Any]) -> None:
    """Delete a definition and every value stored for it."""
    rewrite_values(conn, row, lambda value: None)
    conn.execute(delete(CF).where(CF.c.organization_id == row.organization_id, CF.c.id == row.id))


def _convert_multiple(conn: Connection, row: Row[Any], multiple: bool) -> None:
    """Switching ``accepts_multiple_values`` reshapes stored values (list <-> first item)."""
    if multiple == row.accepts_multiple_values:
        return
    if multiple:
        rewrite_values(conn, row, lambda v: v if isinstance(v, list) else [v])
    else:
        rewrite_values(conn, row, lambda v: (v[0] if v else None) if isinstance(v, list) else v)


def rewrite_values(conn: Connection, row: Row[Any], change: Callable[[Any], Any]) -> None:
    """Apply ``change`` to every stored value of one field (``None`` removes the value)."""
    if row.object_type == "activity":
        _rewrite_activities(conn, row, change)
        return
    table = VALUE_TABLES[row.object_type]
    org = row.organization_id
    # A cheap pre-filter on the JSON text; the exact key test happens in Python.
    found = conn.execute(
        select(table.c.id, table.c.custom).where(
            table.c.organization_id == org, cast(table.c.custom, Text).contains(f'"{row.id}"')
        )
    ).all()
    for obj in found:
        custom = dict(obj.custom or {})
        if row.id not in custom:
            continue
        _apply(custom, row.id, change)
        conn.execute(
            update(table)
            .where(table.c.organization_id == org, table.c.id == obj.id)
            .values(custom=custom)
        )


def _rewrite_activities(conn: Connection, row: Row[Any], change: Callable[[Any], Any]) -> None:
    a = t.activity
    key = f"{PREFIX}{row.id}"
    org = row.organization_id
    found = conn.execute(
        select(a.c.id, a.c.data).where(
            a.c.organization_id == org,
            a.c.type == "CustomActivity",
            a.c.custom_activity_type_id == row.custom_activity_type_id,
        )
    ).all()
    for obj in found:
        data = dict(obj.data or {})
        if key not in data:
            continue
        _apply(data, key, change)
        conn.execute(
            update(a).where(a.c.organization_id == org, a.c.id == obj.id).values(data=data)
        )


def _apply(values: dict[str, Any], key: str, change: Callable[[Any], Any]) -> None:
    new = change(values[key])
    if new is None or new == []:
        del values[key]
    else:
        values[key] = new


def routes() -> list[tuple[str, dict[str, Op]]]:
    out: list[tuple[str, dict[str, Op]]] = []
    for object_type in OBJECT_TYPES:
        collection, item = make_handlers(object_type)
        for base in ("custom_field", "custom_fields"):
            out.append((f"/{base}/{object_type}/", collection))
            out.append((f"/{base}/{object_type}/{{id}}/", item))
    return out


ROUTES = routes()
