"""Outcomes (``/outcome/``): what a call or a meeting came to (core.md §10, more.md §3).

``applies_to`` is never stored: Close derives it from ``type`` (a ``vm-dropped`` outcome is set
on calls by a voicemail drop, so it applies to calls only). A delete keeps the row with
``date_deleted``: calls and meetings keep the id they carry, the API no longer shows it, and
the activity rules (``activities/types/_outcome.py``) refuse it on new writes.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

OUTCOME = t.outcome
TYPES = ("custom", "vm-dropped")
APPLIES_TO = {"custom": ["calls", "meetings"], "vm-dropped": ["calls"]}
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("description", "str", max_length=10_000),
        Field("type", "enum", choices=TYPES, nullable=False),
        # Deprecated for writes (Close derives it from ``type``): accepted and ignored.
        Field("applies_to", "any"),
    )
)
LIST = ListSpec(
    filters={},
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
)
LIVE = (OUTCOME.c.date_deleted.is_(None),)


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "description": r.description,
            "type": r.type,
            "applies_to": list(APPLIES_TO[r.type]),
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def _values(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating)
    values.pop("applies_to", None)
    if "name" in values and not str(values["name"]).strip():
        raise InvalidRequest(field_errors={"name": "This field may not be blank."})
    return values


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(body, creating=True)
    columns = {
        "name": values["name"],
        "description": values.get("description"),
        "type": values.get("type") or "custom",
    }
    return repository.insert_row(conn, SPEC, ctx, columns)


def update_(conn: Connection, ctx: Actor, outcome_id: str, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(body, creating=False)
    before = repository.render_one(conn, SPEC, ctx.org, outcome_id)
    return repository.update_row(conn, SPEC, ctx, before, values)


def remove(conn: Connection, ctx: Actor, outcome_id: str) -> None:
    repository.delete_row(conn, SPEC, ctx, outcome_id)


SPEC = ResourceSpec(
    name="outcome",
    path="/outcome/",
    model="Outcome",
    table=OUTCOME,
    id_prefix="outcome",
    where=LIVE,
    soft_delete="date_deleted",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="outcome",
    operations={
        "list": Operation(None, "List outcomes"),
        "create": Operation(creating(create), "Create an outcome", 201),
        "get": Operation(None, "Get an outcome"),
        "update": Operation(updating(update_), "Update an outcome"),
        "delete": Operation(deleting(remove), "Delete an outcome (activities keep its id)"),
    },
    docs="https://developer.close.com/api/resources/outcomes",
)
