"""Custom field schemas (``/custom_field_schema/{object_type}/``, more.md §7.1-§7.2).

A schema is every field (regular and shared) an object type holds, in display order
(``field_schema.py``). PUT reorders it: the ids sent first, in that order, then the ones left
out in their previous order; it never adds, removes or changes a field. Object types are
``lead``, ``contact``, ``opportunity`` and ``activity/<actitype_id>`` (custom objects are not
served, so ``custom_object/...`` answers 404 like any unknown path).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.resources import custom_activity_types, custom_fields, field_schema
from crmapi.resources.render import project
from crmapi.resources.spec import Action, Operation, ResourceSpec

ORDER_FIELDS = FieldSet((Field("fields", "object_list", required=True, nullable=False),))
NOT_IN_SCHEMA = "is not a field of this schema"  # the 400 for an id the schema lacks


@dataclass(frozen=True)
class Schema:
    """One object type's schema as the API names it."""

    object_type: str  # the URL's name: ``lead``, ``activity/actitype_...``
    name: str
    target: field_schema.Target


# The fixed object types and their display names; activities name theirs by type.
NAMES = {"lead": "Lead", "contact": "Contact", "opportunity": "Opportunity"}


def _fixed(object_type: str) -> Callable[[Connection, Actor, Call], Schema]:
    def find(conn: Connection, ctx: Actor, call: Call) -> Schema:
        return Schema(object_type, NAMES[object_type], field_schema.Target(object_type))

    return find


def _activity(conn: Connection, ctx: Actor, call: Call) -> Schema:
    """A custom activity type's schema (Close's 404 for a type the organization lacks)."""
    found = custom_activity_types.render_one(conn, ctx.org, call.path_params["id"])
    return Schema(
        f"activity/{found['id']}", found["name"], field_schema.Target("activity", found["id"])
    )


def _render_field(member: field_schema.Member, obj: dict[str, Any], schema: Schema) -> Any:
    if member.association is not None and schema.target.object_type == "activity":
        obj["required"] = member.required  # a shared field is required per association
    return obj


def render(conn: Connection, org_id: str, schema: Schema) -> dict[str, Any]:
    found = field_schema.members(conn, org_id, schema.target)
    rendered = custom_fields.render_rows(conn, org_id, [m.field for m in found])
    return {
        "object_type": schema.object_type,
        "name": schema.name,
        "organization_id": org_id,
        "fields": [_render_field(m, obj, schema) for m, obj in zip(found, rendered, strict=True)],
    }


def _order(sent: list[dict[str, Any]], known: list[str]) -> list[str]:
    """The new order: ``sent`` ids, then the others in their previous order."""
    order: list[str] = []
    errors = []
    for item in sent:
        field_id = item.get("id")
        if not isinstance(field_id, str):
            errors.append('Each item needs an "id".')
        elif field_id not in known:
            errors.append(f"{field_id[:100]!r} {NOT_IN_SCHEMA}.")
        elif field_id not in order:
            order.append(field_id)
    if errors:
        raise InvalidRequest(field_errors={"fields": " ".join(dict.fromkeys(errors))})
    return order + [field_id for field_id in known if field_id not in order]


def reorder(conn: Connection, ctx: Actor, schema: Schema, body: dict[str, Any]) -> None:
    values = ORDER_FIELDS.validate(body, creating=True)
    found = field_schema.members(conn, ctx.org, schema.target)
    by_id = {m.field.id: m for m in found}
    order = _order(values["fields"], list(by_id))
    if schema.target.object_type != "activity":
        field_schema.place(conn, ctx.org, schema.target, [by_id[i] for i in order])
        return
    # A type's ``fields`` follow its schema: the type's update event carries the new order.
    type_id = str(schema.target.activity_type_id)
    before = custom_activity_types.render_one(conn, ctx.org, type_id)
    field_schema.place(conn, ctx.org, schema.target, [by_id[i] for i in order])
    after = custom_activity_types.render_one(conn, ctx.org, type_id)
    if before != after:
        emit_change(conn, ctx, "custom_activity_type", "updated", before, after)


def _operations(
    find: Callable[[Connection, Actor, Call], Schema],
) -> tuple[Callable[[Call], Any], Callable[[Call], Any]]:
    def show(ctx: Call) -> dict[str, Any]:
        with ctx.db.read() as conn:
            return project(render(conn, ctx.org, find(conn, ctx, ctx)), ctx.params)

    def put(ctx: Call) -> dict[str, Any]:
        with ctx.db.write() as conn:
            schema = find(conn, ctx, ctx)
            reorder(conn, ctx, schema, ctx.body)
            return project(render(conn, ctx.org, schema), ctx.params)

    return show, put


def _spec(object_type: str) -> ResourceSpec:
    show, put = _operations(_fixed(object_type))
    return ResourceSpec(
        name=f"custom_field_schema.{object_type}",
        path=f"/custom_field_schema/{object_type}/",
        model="CustomFieldSchema",
        operations={"show": Operation(show, f"The {object_type} custom field schema")},
        actions=(
            Action(
                "PUT",
                "",
                Operation(
                    put, f"Reorder the {object_type} custom field schema", fields=ORDER_FIELDS
                ),
            ),
        ),
        docs=DOCS,
    )


DOCS = "https://developer.close.com/api/resources/custom-fields/custom-field-schemas"
_show_activity, _put_activity = _operations(_activity)
ACTIVITY = ResourceSpec(
    name="custom_field_schema.activity",
    path="/custom_field_schema/activity/",
    model="CustomActivityType",
    operations={"get": Operation(_show_activity, "A custom activity type's custom field schema")},
    actions=(
        Action(
            "PUT",
            "{id}/",
            Operation(
                _put_activity,
                "Reorder a custom activity type's custom field schema",
                fields=ORDER_FIELDS,
            ),
        ),
    ),
    docs=DOCS,
)

# One resource per object type a schema describes.
SPECS: tuple[ResourceSpec, ...] = (*(_spec(o) for o in NAMES), ACTIVITY)
