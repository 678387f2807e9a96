"""Sequences (``/sequence/``, Close's "Workflows"): named, ordered steps a contact is run
through (more.md §5.1).

A sequence is one row; its steps are stored whole in ``steps``, each keeping its ``seqstep_``
id. A PUT with ``steps`` replaces the list: ``{"id": ...}`` keeps (and may change) an existing
step in its new place, a step without ``id`` is new, and every step left out is removed.
Each step's ``delay`` is the wait after the previous step (the first: after subscribing).

Changing ``status`` reaches the subscriptions: pausing a sequence pauses its running ones
(``workflow-paused``), activating it resumes exactly those; deleting it finishes them
(``sequence-deleted``). ``subscription_counts_by_status`` is on the single GET and the PUT.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import repository, sequence_runs, sequence_schedule
from crmapi.resources.handlers import creating, deleting
from crmapi.resources.render import project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

Q = t.sequence
S = t.sequence_subscription
STATUSES = ("active", "paused", "draft")  # Close's WorkflowStatus
STEP_TYPES = ("email", "call", "sms")
THREADING = ("old_thread", "new_thread")
MAX_STEPS = 100
MAX_DELAY = 10 * 365 * 86400
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("status", "enum", choices=STATUSES, nullable=False),
        Field("timezone", "str", required=True, nullable=False, max_length=64),
        # Checked by the resource: [{"step_type", "delay", "email_template_id"...}] (module doc).
        Field("steps", "object_list", required=True, nullable=False, max_items=MAX_STEPS),
        Field("schedule", "object"),
        Field("schedule_id", "id"),
        Field("trigger_query", "str", max_length=10_000),
        Field("allow_manual_enrollment", "bool", nullable=False),
    )
)
DATA_KEYS = ("schedule", "schedule_id", "trigger_query", "allow_manual_enrollment")
# Airbyte's email_sequences stream reads ``_limit=1000``.
LIST = ListSpec(
    filters={},
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
    max_limit=1000,
)
COUNTED = sequence_runs.STATUSES


# --- steps -----------------------------------------------------------------------------------


def _step_error(index: int, problem: str) -> InvalidRequest:
    return InvalidRequest(field_errors={"steps": f"Step {index}: {problem}"})


def _template(conn: Connection, org: str, table: Any, template_id: Any) -> Row[Any] | None:
    if not isinstance(template_id, str):
        return None
    return conn.execute(
        select(table).where(table.c.organization_id == org, table.c.id == template_id)
    ).first()


def _step_type(index: int, step: dict[str, Any]) -> str:
    kind = step.get("step_type")
    if kind is None:
        # Close answers ``email`` for a step sent with only a template.
        kind = "email" if step.get("email_template_id") else None
        kind = kind or ("sms" if step.get("sms_template_id") else None)
    if kind not in STEP_TYPES:
        raise _step_error(index, f"step_type must be one of {', '.join(STEP_TYPES)}.")
    return str(kind)


def _int(index: int, step: dict[str, Any], key: str, default: int | None) -> int | None:
    value = step.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DELAY:
        raise _step_error(index, f"{key} must be a whole number of seconds (0 to {MAX_DELAY}).")
    return value


def _templates(
    conn: Connection, org: str, index: int, kind: str, step: dict[str, Any]
) -> dict[str, Any]:
    email_id, sms_id = step.get("email_template_id"), step.get("sms_template_id")
    if kind == "email":
        row = _template(conn, org, t.email_template, email_id)
        if row is None:
            raise _step_error(index, f"email_template_id: {DOES_NOT_EXIST}")
        if not row.is_shared:
            raise _step_error(
                index,
                f'Template "{row.id}" cannot be used in Workflows because it is not shared.',
            )
        return {"email_template_id": row.id, "sms_template_id": None}
    if kind == "sms":
        if _template(conn, org, t.sms_template, sms_id) is None:
            raise _step_error(index, f"sms_template_id: {DOES_NOT_EXIST}")
        return {"email_template_id": None, "sms_template_id": sms_id}
    return {"email_template_id": None, "sms_template_id": None}


def _step(
    conn: Connection, ctx: Actor, index: int, step: Any, existing: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise _step_error(index, "each step must be an object.")
    kept = existing.get(step["id"]) if isinstance(step.get("id"), str) else None
    if step.get("id") is not None and kept is None:
        raise _step_error(index, f"id: {DOES_NOT_EXIST}")
    merged = {**(kept or {}), **step}
    kind = _step_type(index, merged)
    threading = merged.get("threading") if kind == "email" else None
    if threading is not None and threading not in THREADING:
        raise _step_error(index, f"threading must be one of {', '.join(THREADING)}.")
    required = merged.get("required", True)
    if not isinstance(required, bool):
        raise _step_error(index, "required must be a boolean.")
    now = dates.now()
    return {
        "id": kept["id"] if kept else new_id("seqstep"),
        "step_type": kind,
        "delay": _int(index, merged, "delay", 0) or 0,
        **_templates(conn, ctx.org, index, kind, merged),
        "threading": threading,
        "required": required,
        "step_allowed_delay": _int(index, merged, "step_allowed_delay", None),
        "created_by_id": kept["created_by_id"] if kept else ctx.user_id,
        "updated_by_id": ctx.user_id if kept is None or merged != kept else kept["updated_by_id"],
        "date_created": kept["date_created"] if kept else now,
        "date_updated": now if kept is None or merged != kept else kept["date_updated"],
    }


def _steps(
    conn: Connection, ctx: Actor, steps: list[Any], existing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if not steps:
        raise InvalidRequest(field_errors={"steps": "A sequence needs at least one step."})
    by_id = {step["id"]: step for step in existing}
    return [_step(conn, ctx, i, step, by_id) for i, step in enumerate(steps)]


# --- rendering -------------------------------------------------------------------------------


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        data = r.data or {}
        out.append(
            {
                "id": r.id,
                "organization_id": r.organization_id,
                "name": r.name,
                "status": r.status,
                "timezone": r.timezone,
                "schedule": data.get("schedule"),
                "schedule_id": data.get("schedule_id"),
                "trigger_query": data.get("trigger_query"),
                "allow_manual_enrollment": data.get("allow_manual_enrollment", True),
                "owner_id": r.created_by,
                "steps": list(r.steps or []),
                "created_by_id": r.created_by,
                "updated_by_id": r.updated_by,
                "date_created": r.date_created,
                "date_updated": r.date_updated,
            }
        )
    return out


def counts(conn: Connection, org: str, sequence_id: str) -> dict[str, int]:
    """Every status's count, all five always (scripts index them)."""
    rows = conn.execute(
        select(S.c.status, func.count())
        .where(S.c.organization_id == org, S.c.sequence_id == sequence_id)
        .group_by(S.c.status)
    ).all()
    found = {str(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in COUNTED}


def with_counts(conn: Connection, org: str, sequence_id: str) -> dict[str, Any]:
    obj = repository.render_one(conn, SPEC, org, sequence_id)
    return {**obj, "subscription_counts_by_status": counts(conn, org, sequence_id)}


def get(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(with_counts(conn, ctx.org, ctx.path_params["id"]), ctx.params)


# --- writes ----------------------------------------------------------------------------------


def _values(conn: Connection, ctx: Actor, body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating, tz=ctx.tz)
    if "name" in values and not values["name"].strip():
        raise InvalidRequest(field_errors={"name": "This field may not be blank."})
    if "timezone" in values:
        sequence_schedule.check_timezone(values["timezone"])
    if "schedule" in values:
        values["schedule"] = sequence_schedule.check(values["schedule"])
    return values


def _data(values: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return {**data, **{k: values[k] for k in DATA_KEYS if k in values}}


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(conn, ctx, body, creating=True)
    steps = _steps(conn, ctx, values["steps"], [])
    now = dates.now()
    sequence_id = new_id("seq")
    conn.execute(
        insert(Q).values(
            id=sequence_id,
            organization_id=ctx.org,
            name=values["name"],
            status=values.get("status") or "active",
            timezone=values["timezone"],
            steps=steps,
            data=_data(values, {"allow_manual_enrollment": True}),
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    created = repository.render_one(conn, SPEC, ctx.org, sequence_id)
    emit_change(conn, ctx, "sequence", "created", None, created)
    return created


# A sequence's status change -> (the subscriptions it reaches, what they become).
STATUS_EFFECTS: dict[str, tuple[tuple[str, str | None], dict[str, Any]]] = {
    "paused": (("active", None), {"status": "paused", "status_reason": "workflow-paused"}),
    "draft": (("active", None), {"status": "paused", "status_reason": "workflow-paused"}),
    "active": (("paused", "workflow-paused"), {"status": "active", "status_reason": None}),
}


def _subscriptions(conn: Connection, org: str, sequence_id: str, status: str, reason: Any) -> Any:
    scope = [S.c.organization_id == org, S.c.sequence_id == sequence_id, S.c.status == status]
    if reason is not None:
        scope.append(S.c.status_reason == reason)
    return [str(r[0]) for r in conn.execute(select(S.c.id).where(*scope).order_by(S.c.id))]


def _reach(conn: Connection, ctx: Actor, sequence_id: str, status: str) -> None:
    (old, reason), values = STATUS_EFFECTS[status]
    for sub_id in _subscriptions(conn, ctx.org, sequence_id, old, reason):
        sequence_runs.change(conn, ctx.principal, sub_id, values, _meta(ctx), ctx.request_id)


def _meta(ctx: Actor) -> dict[str, Any]:
    return {"request_method": ctx.method, "request_path": ctx.path}


def update_(conn: Connection, ctx: Actor, sequence_id: str, body: dict[str, Any]) -> dict[str, Any]:
    row = repository.get_row(conn, SPEC, ctx.org, sequence_id)
    values = _values(conn, ctx, body, creating=False)
    before = render_rows(conn, ctx.org, [row])[0]
    changes: dict[str, Any] = {k: values[k] for k in ("name", "status", "timezone") if k in values}
    if "steps" in values:
        changes["steps"] = _steps(conn, ctx, values["steps"], list(row.steps or []))
    conn.execute(
        update(Q)
        .where(Q.c.organization_id == ctx.org, Q.c.id == sequence_id)
        .values(
            **changes,
            data=_data(values, dict(row.data or {})),
            updated_by=ctx.user_id,
            date_updated=dates.now(),
        )
    )
    after = repository.render_one(conn, SPEC, ctx.org, sequence_id)
    emit_change(conn, ctx, "sequence", "updated", before, after)
    if "status" in values and values["status"] != row.status:
        _reach(conn, ctx, sequence_id, values["status"])
    return with_counts(conn, ctx.org, sequence_id)


def update_handler(ctx: Call) -> dict[str, Any]:
    with ctx.db.write() as conn:
        return project(update_(conn, ctx, ctx.path_params["id"], ctx.body), ctx.params)


def remove(conn: Connection, ctx: Actor, sequence_id: str) -> None:
    before = repository.render_one(conn, SPEC, ctx.org, sequence_id)
    for status in ("active", "paused"):
        for sub_id in _subscriptions(conn, ctx.org, sequence_id, status, None):
            ended = {"status": "finished", "status_reason": "sequence-deleted", "due_at": None}
            sequence_runs.change(conn, ctx.principal, sub_id, ended, _meta(ctx), ctx.request_id)
    conn.execute(delete(Q).where(Q.c.organization_id == ctx.org, Q.c.id == sequence_id))
    emit_change(conn, ctx, "sequence", "deleted", before, None)


SPEC = ResourceSpec(
    name="sequence",
    path="/sequence/",
    model="Sequence",
    table=Q,
    id_prefix="seq",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="sequence",
    operations={
        "list": Operation(None, "List sequences"),
        # Close answers a new sequence with 200 (more.md §5.1).
        "create": Operation(creating(create), "Create a sequence"),
        "get": Operation(get, "Get a sequence with its subscription counts"),
        "update": Operation(update_handler, "Update a sequence (steps left out are removed)"),
        "delete": Operation(deleting(remove), "Delete a sequence (its runs end)"),
    },
    docs="https://developer.close.com/api/resources/sequences",
)
