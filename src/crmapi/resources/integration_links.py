"""Integration links (``/integration_link/``, more.md §8.4): URL templates an organization
shows on its leads, contacts or opportunities (``{{lead.display_name}}`` and the like).

Full CRUD through the API as in Close (create and delete answer 200); Close's event log has
no ``integration_link`` object type, so changes emit no events. ``url`` must be an
``http(s)`` URL with a host once its ``{{…}}`` placeholders are filled; one that is not gets
Django's wording, "Enter a valid URL." (the webhook URL policy's message, which the fuzz check
already knows as a rule a schema cannot state).
"""

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row

from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec
from crmapi.resources import config_rows, repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

LINK = t.integration_link
TYPES = ("lead", "contact", "opportunity")
INVALID_URL = "Enter a valid URL."
PLACEHOLDER = re.compile(r"{{[^{}]*}}")
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("type", "enum", choices=TYPES, required=True, nullable=False),
        Field("url", "str", required=True, nullable=False, max_length=2000, blank=False),
    )
)
LIST = ListSpec(
    filters={"type": FilterSpec("type", "eq", "str", choices=TYPES)},
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
)
COLUMNS = ("name", "type", "url")


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "type": r.type,
            "url": r.url,
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def valid_url(url: str) -> bool:
    """An http(s) URL with a host once each ``{{…}}`` placeholder holds a plain word."""
    filled = PLACEHOLDER.sub("x", url.strip())
    try:
        parts = urlsplit(filled)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in filled


def _values(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating)
    if values.get("url") is not None and not valid_url(values["url"]):
        raise InvalidRequest(field_errors={"url": INVALID_URL})
    return {k: v for k, v in values.items() if v is not None}


def add(conn: Connection, org_id: str, user_id: str | None, values: dict[str, Any]) -> str:
    columns = {name: values[name] for name in COLUMNS}
    return config_rows.add(conn, LINK, "ilink", org_id, user_id, columns, {})


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    link_id = add(conn, ctx.org, ctx.user_id, _values(body, creating=True))
    return repository.render_one(conn, SPEC, ctx.org, link_id)


def update_(conn: Connection, ctx: Actor, link_id: str, body: dict[str, Any]) -> dict[str, Any]:
    # Another organization's id: the 404 comes before the body's 400.
    before = repository.render_one(conn, SPEC, ctx.org, link_id)
    return repository.update_row(conn, SPEC, ctx, before, _values(body, creating=False))


def remove(conn: Connection, ctx: Actor, link_id: str) -> None:
    repository.delete_row(conn, SPEC, ctx, link_id)


SPEC = ResourceSpec(
    name="integration_link",
    path="/integration_link/",
    model="IntegrationLink",
    table=LINK,
    id_prefix="ilink",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    operations={
        "list": Operation(None, "List integration links"),
        "create": Operation(creating(create), "Create an integration link"),
        "get": Operation(None, "Get an integration link"),
        "update": Operation(updating(update_), "Update an integration link"),
        "delete": Operation(deleting(remove), "Delete an integration link"),
    },
    docs="https://developer.close.com/api/resources/integration-links",
)
