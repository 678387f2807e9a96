"""Custom field definitions: ``/custom_field/{lead,contact,opportunity,activity}/``.

The legacy plural spelling ``/custom_fields/...`` (tap-closeio reads it) is served by the same
handlers. Values live on the objects (``resources/custom_values.py``); deleting a field
removes its values everywhere in the same transaction. The functions here also serve the
``shared`` kind, whose resource and associations ``resources/shared_fields.py`` declares.
"""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Text, cast, delete, insert, select, update

from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import field_schema, repository
from crmapi.resources.custom_values import MULTI_TYPES, PREFIX
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.spec import Operation, ResourceSpec
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
SHARED = field_schema.SHARED
# An association's ``object_type`` (Close's name) -> the object type its values live on.
ASSOCIATED = {
    "lead": "lead",
    "contact": "contact",
    "opportunity": "opportunity",
    "custom_activity_type": "activity",
}

_COMMON = (
    Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
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
        Field("custom_activity_type_id", "id", required=True, references="custom_activity_type"),
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


def render_association(row: Row[Any]) -> dict[str, Any]:
    """One object type a shared field is attached to, as the field's ``associations`` list it."""
    obj: dict[str, Any] = {"object_type": row.object_type}
    if row.object_type == "custom_activity_type":
        obj["custom_activity_type_id"] = row.custom_activity_type_id
    obj["editable_with_roles"] = list(row.editable_with_roles or [])
    obj["required"] = row.required
    return obj


def associations(conn: Connection, org_id: str, field_ids: list[str]) -> dict[str, list[Row[Any]]]:
    """The association rows of shared fields, oldest first."""
    out: dict[str, list[Row[Any]]] = {field_id: [] for field_id in field_ids}
    if field_ids:
        a = t.custom_field_association
        rows = conn.execute(
            select(a)
            .where(a.c.organization_id == org_id, a.c.custom_field_id.in_(field_ids))
            .order_by(a.c.date_created, a.c.target)
        )
        for r in rows:
            out[r.custom_field_id].append(r)
    return out


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    shared = associations(conn, org_id, [r.id for r in rows if r.object_type == SHARED])
    out = []
    for r in rows:
        obj = render(r)
        if r.id in shared:
            obj["associations"] = [render_association(a) for a in shared[r.id]]
        out.append(obj)
    return out


def get_row(conn: Connection, org_id: str, object_type: str, field_id: str) -> Row[Any]:
    """One field of a kind (``shared`` included), or Close's 404."""
    return repository.scoped_row(
        conn, CF, org_id, field_id, "CustomField", CF.c.object_type == object_type
    )


def render_one(conn: Connection, org_id: str, object_type: str, field_id: str) -> dict[str, Any]:
    return render_rows(conn, org_id, [get_row(conn, org_id, object_type, field_id)])[0]


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


def _emit(ctx: Actor, conn: Connection, object_type: str, action: str, **change: Any) -> None:
    before, after = change.get("before"), change.get("after")
    emit_change(conn, ctx, f"custom_fields.{object_type}", action, before, after)


def _fieldset(object_type: str) -> FieldSet:
    return ACTIVITY_FIELDS if object_type == "activity" else FIELDS


def create(conn: Connection, ctx: Actor, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
    fieldset = _fieldset(object_type)
    values = fieldset.validate(body, creating=True)
    values.setdefault("accepts_multiple_values", False)
    _check_shape(values, object_type)
    now = dates.now()
    field_id = new_id("cf")
    type_id = values.get("custom_activity_type_id")
    repository.check_references(conn, ctx.org, fieldset.fields, values)
    target = field_schema.Target(object_type, type_id)
    position = field_schema.next_position(conn, ctx.org, target)
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
    created = render_one(conn, ctx.org, object_type, field_id)
    _emit(ctx, conn, object_type, "created", after=created)
    return created


def update_(
    conn: Connection, ctx: Actor, object_type: str, field_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    fieldset = _fieldset(object_type)
    values = fieldset.validate(body, creating=False)
    row = get_row(conn, ctx.org, object_type, field_id)
    before = render_one(conn, ctx.org, object_type, field_id)
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
    after = render_one(conn, ctx.org, object_type, row.id)
    _emit(ctx, conn, object_type, "updated", before=before, after=after)
    return after


def remove(conn: Connection, ctx: Actor, object_type: str, field_id: str) -> None:
    row = get_row(conn, ctx.org, object_type, field_id)
    before = render_one(conn, ctx.org, object_type, field_id)
    remove_field(conn, row)
    _emit(ctx, conn, object_type, "deleted", before=before)


def operations(object_type: str) -> dict[str, Operation]:
    """The verbs of one kind's custom fields (the generic handlers over the functions above)."""
    name = f"{object_type} custom field"

    def create_one(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
        return create(conn, ctx, object_type, body)

    def update_one(
        conn: Connection, ctx: Actor, field_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        return update_(conn, ctx, object_type, field_id, body)

    def remove_one(conn: Connection, ctx: Actor, field_id: str) -> None:
        remove(conn, ctx, object_type, field_id)

    return {
        "list": Operation(None, f"List {name}s"),
        "create": Operation(creating(create_one), f"Create a {name}"),
        "get": Operation(None, f"Get a {name}"),
        "update": Operation(updating(update_one), f"Update a {name}"),
        "delete": Operation(deleting(remove_one), f"Delete a {name} and its values"),
    }


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
    """Delete a definition, its associations and every value stored for it."""
    rewrite_values(conn, row, lambda value: None)
    a = t.custom_field_association
    conn.execute(
        delete(a).where(a.c.organization_id == row.organization_id, a.c.custom_field_id == row.id)
    )
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
    for target in targets(conn, row):
        rewrite_target(conn, row.organization_id, row.id, target, change)


def targets(conn: Connection, row: Row[Any]) -> list[field_schema.Target]:
    """Where a field's values live: its own object type, or a shared field's associations."""
    if row.object_type != SHARED:
        return [field_schema.target_of(row)]
    return [
        field_schema.Target(ASSOCIATED[a.object_type], a.custom_activity_type_id)
        for a in associations(conn, row.organization_id, [row.id])[row.id]
    ]


def rewrite_target(
    conn: Connection,
    org: str,
    field_id: str,
    target: field_schema.Target,
    change: Callable[[Any], Any],
) -> None:
    """Apply ``change`` to a field's values on one target's records."""
    if target.object_type == "activity":
        _rewrite_activities(conn, org, field_id, target, change)
        return
    table = VALUE_TABLES[target.object_type]
    # A cheap pre-filter on the JSON text; the exact key test happens in Python.
    found = conn.execute(
        select(table.c.id, table.c.custom).where(
            table.c.organization_id == org, cast(table.c.custom, Text).contains(f'"{field_id}"')
        )
    ).all()
    for obj in found:
        custom = dict(obj.custom or {})
        if field_id not in custom:
            continue
        _apply(custom, field_id, change)
        conn.execute(
            update(table)
            .where(table.c.organization_id == org, table.c.id == obj.id)
            .values(custom=custom)
        )


def _rewrite_activities(
    conn: Connection,
    org: str,
    field_id: str,
    target: field_schema.Target,
    change: Callable[[Any], Any],
) -> None:
    a = t.activity
    key = f"{PREFIX}{field_id}"
    found = conn.execute(
        select(a.c.id, a.c.data).where(
            a.c.organization_id == org,
            a.c.type == "CustomActivity",
            a.c.custom_activity_type_id == target.activity_type_id,
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


def _spec(object_type: str) -> ResourceSpec:
    return ResourceSpec(
        name=f"custom_field.{object_type}",
        path=f"/custom_field/{object_type}/",
        aliases=(f"/custom_fields/{object_type}/",),  # the older spelling clients still use
        model="CustomField",
        table=CF,
        id_prefix="cf",
        fields=ACTIVITY_FIELDS if object_type == "activity" else FIELDS,
        list_spec=LIST,
        render=render_rows,
        where=(CF.c.object_type == object_type,),
        event_type=f"custom_fields.{object_type}",
        operations=operations(object_type),
        docs="https://developer.close.com/api/resources/custom-fields",
    )


# One resource per kind of object a custom field describes.
SPECS: dict[str, ResourceSpec] = {object_type: _spec(object_type) for object_type in OBJECT_TYPES}
