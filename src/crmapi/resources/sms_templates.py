"""SMS templates (``/sms_template/``, more.md §4.2): a text with template tags, rendered for
SMS activities created with a ``template_id``.

Close answers 201 on create and 204 on delete. Archiving is ``status: archived`` (email
templates have ``is_archived`` instead); ``owned_by`` is the creator.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from crmapi.domain.context import Actor
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import repository, template_render
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

TEMPLATE = t.sms_template
STATUSES = ("active", "archived")
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("text", "str", nullable=False, max_length=10_000),
        Field("is_shared", "bool", nullable=False),
        # Close's CreateSMSTemplate has no status: a new template is active.
        Field("status", "enum", choices=STATUSES, nullable=False, create=False),
        Field("attachments", "object_list", max_items=10, nullable=False),
    )
)
TAGGED = ("text",)
LIST = ListSpec(
    filters={},  # Close's list takes paging only
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
)


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "text": r.text,
            "is_shared": r.is_shared,
            "status": r.status,
            "owned_by": r.owned_by,
            "attachments": list(r.attachments or ()),
            "last_used_at": None,
            "last_used_by": None,
            "last_used_type": None,
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def _values(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating)
    template_render.check_tags(values, TAGGED)
    return values


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(body, creating=True)
    columns = {
        "name": values["name"],
        "text": values.get("text", ""),
        "is_shared": values.get("is_shared", False),
        "status": "active",
        "owned_by": ctx.user_id,
        "attachments": values.get("attachments", []),
    }
    return repository.insert_row(conn, SPEC, ctx, columns)


def update_(conn: Connection, ctx: Actor, template_id: str, body: dict[str, Any]) -> dict[str, Any]:
    before = repository.render_one(conn, SPEC, ctx.org, template_id)
    return repository.update_row(conn, SPEC, ctx, before, _values(body, creating=False))


def remove(conn: Connection, ctx: Actor, template_id: str) -> None:
    repository.delete_row(conn, SPEC, ctx, template_id)


SPEC = ResourceSpec(
    name="sms_template",
    path="/sms_template/",
    model="SMSTemplate",
    table=TEMPLATE,
    id_prefix="smstmpl",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="sms_template",
    operations={
        "list": Operation(None, "List SMS templates"),
        "create": Operation(creating(create), "Create an SMS template", 201),
        "get": Operation(None, "Get an SMS template"),
        "update": Operation(updating(update_), "Update an SMS template"),
        "delete": Operation(deleting(remove), "Delete an SMS template", 204),
    },
    docs="https://developer.close.com/api/resources/sms-templates",
)
