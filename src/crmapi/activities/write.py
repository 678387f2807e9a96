"""Creating, updating and deleting activities: one transaction, every rule declared by the type."""

from typing import Any

from sqlalchemy import Connection

from crmapi.activities import store
from crmapi.activities.base import BASE_FIELDS
from crmapi.activities.context import WriteContext
from crmapi.activities.spec import ActivitySpec
from crmapi.domain.context import Actor
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.domain.fields import REQUIRED
from crmapi.events.emit import change_meta
from crmapi.resources import comment_threads, repository
from crmapi.util.ids import new_id


def write_context(ctx: Actor, conn: Connection) -> WriteContext:
    """The write context of a domain call (an HTTP request, the demo story...)."""
    return WriteContext(
        conn=conn,
        principal=ctx.principal,
        tz=ctx.tz,
        request_id=ctx.request_id,
        meta=change_meta(ctx),
    )


def check_references(wc: WriteContext, values: dict[str, Any]) -> None:
    """``lead_id``, ``contact_id`` and user ids must name objects of the caller's organization."""
    repository.check_references(wc.conn, wc.org, BASE_FIELDS, values)


def contact_lead(conn: Connection, org: str, contact_id: str) -> str | None:
    return repository.contact_lead(conn, org, contact_id)


def create(
    wc: WriteContext,
    spec: ActivitySpec,
    body: dict[str, Any],
    system: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``body`` for ``spec``, apply its rules, store it; return the new object.

    ``system`` holds read-only fields our own code sets (a sequence step's ``sequence_id``...),
    never taken from a request body."""
    values = spec.fieldset(BASE_FIELDS).validate(body, creating=True, tz=wc.tz)
    wc.body = body
    if values.get("lead_id") is None and values.get("contact_id") is not None:
        # A contact names its lead; Close fills lead_id from it.
        values["lead_id"] = contact_lead(wc.conn, wc.org, values["contact_id"])
    if spec.lead_required and values.get("lead_id") is None:
        raise InvalidRequest(field_errors={"lead": REQUIRED})
    check_references(wc, values)
    full = {**spec.defaults, **values, **(system or {})}
    full["id"] = new_id("acti")
    full["_type"] = spec.type
    full["organization_id"] = wc.org
    full.setdefault("contact_id", None)
    full.setdefault("lead_id", None)
    full["user_id"] = values.get("user_id") or wc.principal.user_id
    full["created_by"] = values.get("created_by") or wc.principal.user_id
    full["updated_by"] = wc.principal.user_id
    full["date_created"] = values.get("date_created") or wc.now
    full["date_updated"] = wc.now
    full.setdefault("users", [])
    if spec.prepare is not None:
        spec.prepare(wc, full, values, None)
    # activity_at is never null: sorting on it must mean the same on both backends.
    full["activity_at"] = full.get("activity_at") or full["date_created"]
    store.insert_activity(wc.conn, full)
    created = load(wc, spec, full["id"])
    wc.emit(spec, "created", None, created)
    _extra_events(wc, spec, values, None, created)
    if spec.after_write is not None:
        spec.after_write(wc, None, created)
    return created


def _extra_events(
    wc: WriteContext,
    spec: ActivitySpec,
    sent: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    if spec.extra_actions is not None:
        for action in spec.extra_actions(sent, before, after):
            wc.emit(spec, action, None, after)


def load(wc: WriteContext, spec: ActivitySpec | None, activity_id: str) -> dict[str, Any]:
    """The stored object (scoped to the organization and type) or a 404."""
    row = store.fetch_one(wc.conn, wc.org, activity_id, spec.type if spec else None)
    if row is None:
        raise object_not_found("Activity")
    return store.render_rows(wc.conn, [row])[0]


def update(
    wc: WriteContext, spec: ActivitySpec, activity_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT: only the fields sent change (PATCH semantics)."""
    existing = load(wc, spec, activity_id)
    values = spec.fieldset(BASE_FIELDS).validate(body, creating=False, tz=wc.tz)
    wc.body = body
    check_references(wc, values)
    if "lead_id" in values and values["lead_id"] is None and spec.lead_required:
        raise InvalidRequest(field_errors={"lead": "This field may not be null."})
    full = {**existing, **values}
    if spec.prepare is not None:
        spec.prepare(wc, full, values, existing)
    full["activity_at"] = full.get("activity_at") or full["date_created"]
    full["updated_by"] = wc.principal.user_id
    full["date_updated"] = wc.now
    store.update_activity(wc.conn, wc.org, full)
    updated = load(wc, spec, activity_id)
    wc.emit(spec, "updated", existing, updated)
    _extra_events(wc, spec, values, existing, updated)
    if spec.after_write is not None:
        spec.after_write(wc, existing, updated)
    return updated


def delete(wc: WriteContext, spec: ActivitySpec, activity_id: str) -> dict[str, Any]:
    existing = load(wc, spec, activity_id)
    if spec.on_delete is not None:
        spec.on_delete(wc, existing)
    comment_threads.remove_for(wc.conn, wc.org, [activity_id], wc.emit_object)
    store.delete_activities(wc.conn, wc.org, store.A.c.id == activity_id)
    wc.emit(spec, "deleted", existing, None)
    if spec.after_write is not None:
        spec.after_write(wc, existing, None)
    return existing


def system_create(wc: WriteContext, spec: ActivitySpec, values: dict[str, Any]) -> dict[str, Any]:
    """Write an activity the system produces (Created, LeadStatusChange...), unvalidated.

    ``values`` come from our own code, never from a request body.
    """
    full = {**spec.defaults, **values}
    full["id"] = new_id("acti")
    full["_type"] = spec.type
    full["organization_id"] = wc.org
    full.setdefault("lead_id", None)
    full.setdefault("contact_id", None)
    full.setdefault("user_id", wc.principal.user_id)
    full.setdefault("created_by", wc.principal.user_id)
    full["updated_by"] = full.get("updated_by", wc.principal.user_id)
    full.setdefault("date_created", wc.now)
    full.setdefault("date_updated", wc.now)
    full.setdefault("users", [])
    full["activity_at"] = full.get("activity_at") or full["date_created"]
    store.insert_activity(wc.conn, full)
    created = load(wc, spec, full["id"])
    wc.emit(spec, "created", None, created)
    return created
