"""Shared custom fields (``/custom_field/shared/``) and their associations (more.md §7.3).

A shared field is one definition (a ``custom_field`` row of object type ``shared``) attached
to several object types by associations; its values are stored and typed on each associated
object exactly like a regular field's (``custom.cf_...``, ``custom_values.py``). An
association is named in the URL by its target: ``lead``, ``contact``, ``opportunity`` or
``custom_activity_type/<actitype_id>``. Deleting one removes the field's values there.
"""

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.resources import custom_fields, field_schema, repository
from crmapi.resources.render import project
from crmapi.resources.spec import Action, Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates

CF = t.custom_field
ASSOC = t.custom_field_association
SHARED = field_schema.SHARED
MODEL = "SharedCustomFieldAssociation"
TYPE_KEY = "custom_activity_type_id"
# Association object types crmapi serves (custom objects are not served: more.md §7.3 lists
# ``custom_object_type`` too, refused as an unknown choice).
ASSOCIABLE = tuple(custom_fields.ASSOCIATED)

_SETTINGS = (
    Field("editable_with_roles", "str_list", nullable=False, max_items=100),
    Field("required", "bool", nullable=False),
)
CREATE_FIELDS = FieldSet(
    (
        Field("object_type", "enum", choices=ASSOCIABLE, required=True, nullable=False),
        Field(TYPE_KEY, "id", references="custom_activity_type"),
        *_SETTINGS,
    )
)
UPDATE_FIELDS = FieldSet(_SETTINGS)


def _target(object_type: str, type_id: str | None) -> field_schema.Target:
    return field_schema.Target(custom_fields.ASSOCIATED[object_type], type_id)


def _emit(ctx: Actor, conn: Connection, before: dict[str, Any], after: dict[str, Any]) -> None:
    emit_change(conn, ctx, f"custom_fields.{SHARED}", "updated", before, after)


def _association(conn: Connection, org_id: str, field_id: str, target: str) -> Row[Any]:
    row = conn.execute(
        select(ASSOC).where(
            ASSOC.c.organization_id == org_id,
            ASSOC.c.custom_field_id == field_id,
            ASSOC.c.target == target,
        )
    ).first()
    if row is None:
        raise object_not_found(MODEL)
    return row


def _check_target(values: dict[str, Any]) -> None:
    """A custom activity type id goes with (and only with) ``custom_activity_type``."""
    wants_type = values["object_type"] == "custom_activity_type"
    if wants_type and not values.get(TYPE_KEY):
        raise InvalidRequest(field_errors={TYPE_KEY: "This field is required."})
    if not wants_type and values.get(TYPE_KEY):
        raise InvalidRequest(
            field_errors={
                TYPE_KEY: f"{TYPE_KEY} can only be used together with object_type "
                "custom_activity_type."
            }
        )


def associate(conn: Connection, ctx: Actor, field_id: str, body: dict[str, Any]) -> dict[str, Any]:
    values = CREATE_FIELDS.validate(body, creating=True)
    _check_target(values)
    repository.check_references(conn, ctx.org, CREATE_FIELDS.fields, values)
    field = custom_fields.get_row(conn, ctx.org, SHARED, field_id)
    before = custom_fields.render_one(conn, ctx.org, SHARED, field.id)
    target = _target(values["object_type"], values.get(TYPE_KEY))
    taken = conn.execute(
        select(ASSOC.c.target).where(
            ASSOC.c.organization_id == ctx.org,
            ASSOC.c.custom_field_id == field.id,
            ASSOC.c.target == target.association,
        )
    ).first()
    if taken is not None:
        raise InvalidRequest([f"This field is already associated with {target.association}."])
    now = dates.now()
    conn.execute(
        insert(ASSOC).values(
            organization_id=ctx.org,
            custom_field_id=field.id,
            target=target.association,
            object_type=values["object_type"],
            custom_activity_type_id=values.get(TYPE_KEY),
            editable_with_roles=values.get("editable_with_roles") or [],
            required=values.get("required", False),
            position=field_schema.next_position(conn, ctx.org, target),
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    _emit(ctx, conn, before, custom_fields.render_one(conn, ctx.org, SHARED, field.id))
    return custom_fields.render_association(
        _association(conn, ctx.org, field.id, target.association)
    )


def read(conn: Connection, ctx: Actor, field_id: str, target: str) -> dict[str, Any]:
    field = custom_fields.get_row(conn, ctx.org, SHARED, field_id)
    return custom_fields.render_association(_association(conn, ctx.org, field.id, target))


def change(
    conn: Connection, ctx: Actor, field_id: str, target: str, body: dict[str, Any]
) -> dict[str, Any]:
    values = UPDATE_FIELDS.validate(body, creating=False)
    field = custom_fields.get_row(conn, ctx.org, SHARED, field_id)
    row = _association(conn, ctx.org, field.id, target)
    before = custom_fields.render_one(conn, ctx.org, SHARED, field.id)
    if "editable_with_roles" in values:
        values["editable_with_roles"] = values["editable_with_roles"] or []
    conn.execute(
        update(ASSOC)
        .where(
            ASSOC.c.organization_id == ctx.org,
            ASSOC.c.custom_field_id == field.id,
            ASSOC.c.target == row.target,
        )
        .values(**values, updated_by=ctx.user_id, date_updated=dates.now())
    )
    _emit(ctx, conn, before, custom_fields.render_one(conn, ctx.org, SHARED, field.id))
    return custom_fields.render_association(_association(conn, ctx.org, field.id, target))


def dissociate(conn: Connection, ctx: Actor, field_id: str, target: str) -> None:
    """Remove the field from one object type, and its values there (as Close does)."""
    field = custom_fields.get_row(conn, ctx.org, SHARED, field_id)
    row = _association(conn, ctx.org, field.id, target)
    before = custom_fields.render_one(conn, ctx.org, SHARED, field.id)
    where = _target(row.object_type, row.custom_activity_type_id)
    custom_fields.rewrite_target(conn, ctx.org, field.id, where, lambda value: None)
    conn.execute(
        delete(ASSOC).where(
            ASSOC.c.organization_id == ctx.org,
            ASSOC.c.custom_field_id == field.id,
            ASSOC.c.target == row.target,
        )
    )
    _emit(ctx, conn, before, custom_fields.render_one(conn, ctx.org, SHARED, field.id))


def _target_param(ctx: Call) -> str:
    """The association's name from the URL (``lead``; ``custom_activity_type/<id>``)."""
    params = ctx.path_params
    if TYPE_KEY in params:
        return f"custom_activity_type/{params[TYPE_KEY]}"
    name = str(params["object_type"])
    if name not in custom_fields.ASSOCIATED or name == "custom_activity_type":
        raise object_not_found(MODEL)
    return name


def _create_handler(ctx: Call) -> dict[str, Any]:
    with ctx.db.write() as conn:
        return project(associate(conn, ctx, ctx.path_params["id"], ctx.body), ctx.params)


def _get_handler(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(read(conn, ctx, ctx.path_params["id"], _target_param(ctx)), ctx.params)


def _update_handler(ctx: Call) -> dict[str, Any]:
    with ctx.db.write() as conn:
        found = change(conn, ctx, ctx.path_params["id"], _target_param(ctx), ctx.body)
    return project(found, ctx.params)


def _delete_handler(ctx: Call) -> dict[str, Any]:
    with ctx.db.write() as conn:
        dissociate(conn, ctx, ctx.path_params["id"], _target_param(ctx))
    return {}


def _association_actions(suffix: str) -> tuple[Action, ...]:
    return (
        Action("GET", suffix, Operation(_get_handler, "Get a shared custom field association")),
        Action(
            "PUT",
            suffix,
            Operation(
                _update_handler,
                "Update a shared custom field association (required, editable_with_roles)",
                fields=UPDATE_FIELDS,
            ),
        ),
        Action(
            "DELETE",
            suffix,
            Operation(_delete_handler, "Dissociate a shared custom field and drop its values"),
        ),
    )


SPEC = ResourceSpec(
    name="custom_field.shared",
    path="/custom_field/shared/",
    aliases=("/custom_fields/shared/",),  # the older spelling, as for the other kinds
    model="CustomField",
    table=CF,
    id_prefix="cf",
    fields=custom_fields.FIELDS,
    list_spec=custom_fields.LIST,
    render=custom_fields.render_rows,
    where=(CF.c.object_type == SHARED,),
    event_type=f"custom_fields.{SHARED}",
    operations=custom_fields.operations(SHARED),
    actions=(
        Action(
            "POST",
            "{id}/association/",
            Operation(
                _create_handler,
                "Associate a shared custom field with an object type",
                201,
                fields=CREATE_FIELDS,
            ),
        ),
        *_association_actions(f"{{id}}/association/custom_activity_type/{{{TYPE_KEY}}}/"),
        *_association_actions("{id}/association/{object_type}/"),
    ),
    docs="https://developer.close.com/api/resources/custom-fields/shared-custom-fields",
)
