"""Tasks (``/task/``): to-dos on a lead, assigned to a user, dated by a day or a moment.

Completing a task writes a ``TaskCompleted`` activity attributed to whoever completed it;
un-completing it deletes that activity again, as Close does.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    true,
)
from sqlalchemy import update as sql_update

from crmapi.activities import store, write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import REQUIRED, Field, FieldError, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import (
    FilterSpec,
    ListQuery,
    ListSpec,
    ModeSpec,
    OrderSpec,
    id_filters,
)
from crmapi.query.model import range_filters as ranges
from crmapi.resources import repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.render import listing
from crmapi.resources.spec import Action, Embed, LeadChild, Operation, ResourceSpec
from crmapi.resources.users import user_names
from crmapi.search import exact
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

T = t.task
CREATABLE_TYPES = ("lead", "outgoing_call")
# Every task type Close lists; Airbyte asks for each by name, so each must be a valid filter.
TASK_TYPES = (
    "lead",
    "outgoing_call",
    "incoming_email",
    "email_followup",
    "missed_call",
    "answered_detached_call",
    "voicemail",
    "opportunity_due",
    "incoming_sms",
)
VIEWS = ("inbox", "future", "archive")
# Fields a task of a system type carries beyond the common ones (core.md §5.2), kept in
# ``data``; and what it is about (``object_type``, the key of ``data`` holding its id).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "email_followup": ("email_id", "body_preview"),
    # A call step of a sequence makes one; null on the ones a user makes.
    "outgoing_call": ("sequence_id", "sequence_name", "sequence_subscription_id"),
}
ABOUT: dict[str, tuple[str, str]] = {"email_followup": ("emailthread", "thread_id")}
MIDNIGHT = "T00:00:00.000000+00:00"

FIELDS = FieldSet(
    (
        Field("_type", "enum", choices=CREATABLE_TYPES, update=False),
        Field("lead_id", "id", update=False, error_key="lead", references="lead"),
        Field("contact_id", "id", error_key="contact"),  # and of the task's lead
        Field("assigned_to", "id", nullable=False, references="user"),
        Field("text", "str", max_length=100_000),
        Field("date", "any"),
        Field("due_date", "any"),
        Field("is_complete", "bool", nullable=False),
        Field("is_dateless", "bool", nullable=False),
        Field("priority", "enum", choices=("high", "medium")),
        Field("date_created", "datetime", nullable=False, update=False),
        Field(
            "created_by",
            "id",
            nullable=False,
            update=False,
            error_key="created_by",
            references="user",
        ),
    )
)
# PUT /task/: the fields a bulk update may set, and the list filters nested in the body.
BULK_FIELDS = FieldSet(
    (
        *(FIELDS.by_name[name] for name in ("assigned_to", "date", "is_complete")),
        Field("_params", "object"),
    )
)


def parse_when(value: Any, tz: float) -> str | None:
    """A task ``date``: a calendar day (kept as ``YYYY-MM-DD``) or a moment (canonical UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldError("Not a valid date or datetime.")
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return dates.parse(text, tz)
    except ValueError:
        raise FieldError("Not a valid date or datetime.") from None


def _moment(table: Table, column: str) -> ColumnElement[Any]:
    """A stored day compares as its UTC midnight, so day and moment values order together."""
    col = table.c[column]
    return case((func.length(col) == 10, col + MIDNIGHT), else_=col)


def _range(column: str, op: str) -> FilterSpec:
    ops = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}

    def sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
        result: ColumnElement[bool] = getattr(_moment(table, column), ops[op])(values[0])
        return result

    return FilterSpec(column, op, "datetime", sql=sql)  # type: ignore[arg-type]


def _type_sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
    if "all" in values:
        return true()
    return table.c.type.in_(values)


_TYPE = FilterSpec("type", "in", "str", multi=True, choices=("all", *TASK_TYPES), sql=_type_sql)

LIST = ListSpec(
    filters={
        **id_filters("id"),
        **id_filters("lead_id"),
        **id_filters("assigned_to"),
        **id_filters("contact_id"),
        "is_complete": FilterSpec("is_complete", "eq", "bool"),
        "_type": _TYPE,
        "_type__in": _TYPE,
        **{f"date__{op}": _range("date", op) for op in ("gt", "gte", "lt", "lte")},
        **{f"due_date__{op}": _range("due_date", op) for op in ("gt", "gte", "lt", "lte")},
        "date": exact.exact_date("date", _moment),
        "due_date": exact.exact_date("due_date", _moment),
        **ranges("date_created"),
        **ranges("date_updated"),
    },
    orderings={
        "date": OrderSpec("date"),
        "date_created": OrderSpec("date_created"),
        "date_updated": OrderSpec("date_updated"),
    },
    default_order="date",
    # Airbyte reads tasks 1000 at a time.
    max_limit=1000,
    modes={
        "view": ModeSpec(
            VIEWS,
            "inbox: open and due by the end of the caller's day; future: open, later; "
            "archive: complete. inbox and future replace date__lt/date__gte.",
        )
    },
)


# --- views ---------------------------------------------------------------------------------


def _tomorrow_utc(tz: float) -> tuple[str, str]:
    """The caller's today (a day) and the UTC moment its tomorrow starts."""
    today = dates.today(tz)
    start = dates.to_datetime(dates.parse(today, tz)) + timedelta(days=1)
    return today, dates.canonical(start)


def view_of(row: Any, tz: float) -> str:
    if row.is_complete:
        return "archive"
    today, tomorrow = _tomorrow_utc(tz)
    when = row.date
    if when is None:
        return "inbox"
    due = when <= today if len(when) == 10 else when < tomorrow
    return "inbox" if due else "future"


def view_sql(view: str, tz: float) -> ColumnElement[bool]:
    """``inbox``: open and due by the end of the caller's day; ``future``: open, later."""
    if view == "archive":
        return T.c.is_complete.is_(True)
    today, tomorrow = _tomorrow_utc(tz)
    day = func.length(T.c.date) == 10
    due = or_(
        T.c.date.is_(None),
        and_(day, T.c.date <= today),
        and_(~day, T.c.date < tomorrow),
    )
    return and_(T.c.is_complete.is_(False), due if view == "inbox" else ~due)


# --- rendering -----------------------------------------------------------------------------


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    """A page of tasks in a fixed number of queries."""
    if not rows:
        return []
    names = user_names(conn, {u for r in rows for u in (r.assigned_to, r.created_by, r.updated_by)})
    lead_names = repository.names(conn, t.lead, org_id, {r.lead_id for r in rows})
    contact_names = repository.names(conn, t.contact, org_id, {r.contact_id for r in rows})
    return [
        {
            "id": r.id,
            "_type": r.type,
            "organization_id": r.organization_id,
            "lead_id": r.lead_id,
            "lead_name": lead_names.get(r.lead_id),
            "contact_id": r.contact_id,
            "contact_name": contact_names.get(r.contact_id),
            "assigned_to": r.assigned_to,
            "assigned_to_name": names.get(r.assigned_to),
            "text": r.text,
            "date": r.date,
            "due_date": r.due_date,
            "is_complete": r.is_complete,
            "is_dateless": r.is_dateless,
            "view": view_of(r, tz),
            "priority": (r.data or {}).get("priority"),
            **_type_fields(r),
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "created_by_name": names.get(r.created_by),
            "updated_by_name": names.get(r.updated_by),
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def _type_fields(r: Row[Any]) -> dict[str, Any]:
    """The type's own fields and its related object: none for lead tasks (current Close
    docs); outgoing-call tasks carry the sequence a call step made them for."""
    data = r.data or {}
    about = ABOUT.get(r.type)
    return {
        **{name: data.get(name) for name in TYPE_FIELDS.get(r.type, ())},
        "object_type": about[0] if about else None,
        "object_id": data.get(about[1]) if about else None,
    }


def render_one(conn: Connection, org_id: str, task_id: str, tz: float = 0.0) -> dict[str, Any]:
    return repository.render_one(conn, SPEC, org_id, task_id, tz)


def _emit(
    conn: Connection,
    ctx: Actor,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    obj = after or before or {}
    emit_change(conn, ctx, f"task.{obj['_type']}", action, before, after)


def _validate(body: dict[str, Any], creating: bool, tz: float) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating, tz=tz)
    errors: dict[str, str] = {}
    for name in ("date", "due_date"):
        if name in values:
            try:
                values[name] = parse_when(values[name], tz)
            except FieldError as exc:
                errors[name] = str(exc)
    if errors:
        raise InvalidRequest(field_errors=errors)
    return values


def _check_references(conn: Connection, ctx: Actor, values: dict[str, Any], lead_id: str) -> None:
    people = [FIELDS.by_name["assigned_to"], FIELDS.by_name["created_by"]]
    errors = repository.missing_references(conn, ctx.org, people, values)
    errors.update(repository.contact_on_lead(conn, ctx.org, values.get("contact_id"), lead_id))
    if errors:
        raise InvalidRequest(field_errors=errors)


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    now = dates.now()
    values = _validate(body, True, ctx.tz)
    kind = values.get("_type") or "lead"
    required = ("lead_id", "text") if kind == "lead" else ("lead_id", "contact_id")
    missing = {FIELDS.by_name[name].key: REQUIRED for name in required if values.get(name) is None}
    if missing:
        raise InvalidRequest(field_errors=missing)
    repository.check_references(conn, ctx.org, [FIELDS.by_name["lead_id"]], values)
    _check_references(conn, ctx, values, values["lead_id"])
    when = values.get("date")
    task_id = new_id("task")
    conn.execute(
        insert(T).values(
            id=task_id,
            organization_id=ctx.org,
            lead_id=values["lead_id"],
            type=kind,
            assigned_to=values.get("assigned_to") or ctx.user_id,
            contact_id=values.get("contact_id"),
            text=values.get("text"),
            # Close dates an undated task today and flags it dateless.
            date=when or dates.today(ctx.tz),
            due_date=values.get("due_date"),
            is_complete=False,
            is_dateless=values.get("is_dateless", when is None),
            data={"priority": values["priority"]} if values.get("priority") else {},
            created_by=values.get("created_by") or ctx.user_id,
            updated_by=ctx.user_id,
            date_created=values.get("date_created") or now,
            date_updated=now,
        )
    )
    repository.touch_lead(conn, ctx.org, values["lead_id"], ctx.user_id, now)
    created = render_one(conn, ctx.org, task_id, ctx.tz)
    _emit(conn, ctx, "created", None, created)
    if values.get("is_complete"):
        # Created already done: it is completed by its creator, with the same history.
        return update(conn, ctx, task_id, {"is_complete": True}, now)
    return created


def create_system(
    conn: Connection,
    ctx: Actor,
    kind: str,
    lead_id: str,
    contact_id: str | None,
    when: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """A task Close makes by itself (an email follow-up...): our own values, no validation;
    assigned to the acting user, with the same events and lead touch as a created one."""
    now = dates.now()
    task_id = new_id("task")
    conn.execute(
        insert(T).values(
            id=task_id,
            organization_id=ctx.org,
            lead_id=lead_id,
            type=kind,
            assigned_to=ctx.user_id,
            contact_id=contact_id,
            text=None,
            date=when,
            due_date=None,
            is_complete=False,
            is_dateless=False,
            data=data,
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    repository.touch_lead(conn, ctx.org, lead_id, ctx.user_id, now)
    created = render_one(conn, ctx.org, task_id, ctx.tz)
    _emit(conn, ctx, "created", None, created)
    return created


def update(
    conn: Connection, ctx: Actor, task_id: str, body: dict[str, Any], now: str | None = None
) -> dict[str, Any]:
    now = now or dates.now()
    row = repository.get_row(conn, SPEC, ctx.org, task_id)
    before = render_rows(conn, ctx.org, [row], ctx.tz)[0]
    values = _validate(body, False, ctx.tz)
    if "text" in values and row.type != "lead":
        values.pop("text")  # only lead tasks have an editable text
    _check_references(conn, ctx, values, row.lead_id)
    changes: dict[str, Any] = {
        k: values[k]
        for k in ("contact_id", "assigned_to", "text", "due_date", "is_complete", "is_dateless")
        if k in values
    }
    if "date" in values:
        changes["date"] = values["date"] or dates.today(ctx.tz)
        changes.setdefault("is_dateless", values["date"] is None)
    data = dict(row.data or {})
    if "priority" in values:
        data["priority"] = values["priority"]
    completing = values.get("is_complete") is True and not row.is_complete
    reopening = values.get("is_complete") is False and row.is_complete
    if reopening:
        _remove_completion(conn, ctx, data.pop("completion_id", None), now)
    conn.execute(
        update_stmt(ctx.org, task_id).values(
            **changes, data=data, updated_by=ctx.user_id, date_updated=now
        )
    )
    after = render_one(conn, ctx.org, task_id, ctx.tz)
    if completing:
        activity = _completion(conn, ctx, after, now)
        data["completion_id"] = activity["id"]
        conn.execute(update_stmt(ctx.org, task_id).values(data=data))
    repository.touch_lead(conn, ctx.org, row.lead_id, ctx.user_id, now)
    _emit(conn, ctx, "updated", before, after)
    if completing:
        _emit(conn, ctx, "completed", before, after)
    return after


def update_stmt(org_id: str, task_id: str) -> Any:
    return sql_update(T).where(T.c.organization_id == org_id, T.c.id == task_id)


def _completion(conn: Connection, ctx: Actor, task: dict[str, Any], now: str) -> dict[str, Any]:
    """The ``TaskCompleted`` activity, attributed to the caller who completed the task."""
    wc = write.write_context(ctx, conn)
    wc.now = now
    return write.system_create(
        wc,
        BY_TYPE["TaskCompleted"],
        {
            "lead_id": task["lead_id"],
            "task_id": task["id"],
            "task_text": task["text"],
            "task_assigned_to": task["assigned_to"],
            "task_assigned_to_name": task["assigned_to_name"],
        },
    )


def _remove_completion(conn: Connection, ctx: Actor, activity_id: str | None, now: str) -> None:
    """Un-completing deletes the TaskCompleted (unless someone already deleted it)."""
    if activity_id is None or store.fetch_one(conn, ctx.org, activity_id, "TaskCompleted") is None:
        return
    wc = write.write_context(ctx, conn)
    wc.now = now
    write.delete(wc, BY_TYPE["TaskCompleted"], activity_id)


def remove(conn: Connection, ctx: Actor, task_id: str) -> dict[str, Any]:
    """Delete a task; a TaskCompleted it produced stays in the feed as history."""
    before = render_one(conn, ctx.org, task_id, ctx.tz)
    conn.execute(delete(T).where(T.c.organization_id == ctx.org, T.c.id == task_id))
    repository.touch_lead(conn, ctx.org, before["lead_id"], ctx.user_id, dates.now())
    _emit(conn, ctx, "deleted", before, None)
    return before


# --- endpoints -----------------------------------------------------------------------------


def _query(params: dict[str, str], tz: float) -> tuple[ListQuery, list[ColumnElement[bool]]]:
    """The validated list query plus the ``view`` and default ``_type`` conditions."""
    view = (params.get("view") or "").strip().lower() or None  # checked by the grammar
    if view in ("inbox", "future"):
        # These views replace any date__lt / date__gte the request also sent.
        params = {k: v for k, v in params.items() if k not in ("date__lt", "date__gte")}
    query = grammar.parse(params, LIST, tz)
    extra: list[ColumnElement[bool]] = []
    if view is not None:
        extra.append(view_sql(view, tz))
    if not params.get("_type") and not params.get("_type__in"):
        extra.append(T.c.type == "lead")  # Close lists lead tasks unless asked otherwise
    return query, extra


def _scope(org_id: str, extra: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(T.c.organization_id == org_id, *extra)


def list_tasks(ctx: Call) -> dict[str, Any]:
    query, extra = _query(ctx.params, ctx.tz)
    scope = _scope(ctx.org, extra)
    with ctx.db.read() as conn:
        total = conn.execute(qc.count(T, query, scope)).scalar_one()
        rows = conn.execute(qc.page(select(T), T, query, scope)).all() if query.limit else []
        items = render_rows(conn, ctx.org, rows, ctx.tz)
    return listing(items, query, total_results=total)


def bulk_update(ctx: Call) -> dict[str, Any]:
    """``PUT /task/``: the list filters (query or ``_params``) select, the body sets fields."""
    values = BULK_FIELDS.validate(ctx.body, creating=False, tz=ctx.tz)
    params = dict(ctx.params)
    params.update({str(k): _text(v) for k, v in (values.get("_params") or {}).items()})
    query, extra = _query(params, ctx.tz)
    if not query.conditions and not params.get("view"):
        raise InvalidRequest(["Select the tasks to update with at least one filter (e.g. id__in)."])
    changes = {k: ctx.body[k] for k in values if k != "_params"}
    if not changes:
        raise InvalidRequest(["Send at least one of assigned_to, date or is_complete to set."])
    now = dates.now()
    with ctx.db.write() as conn:
        ids = conn.execute(
            select(T.c.id).where(_scope(ctx.org, extra), *qc.where(T, query))
        ).scalars()
        for task_id in list(ids):
            update(conn, ctx, task_id, changes, now)
    return {"ok": True}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _event_type(task: dict[str, Any]) -> str:
    return f"task.{task['_type']}"


SPEC = ResourceSpec(
    name="task",
    path="/task/",
    model="Task",
    table=T,
    id_prefix="task",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="task",
    event_type_of=_event_type,
    operations={
        "list": Operation(list_tasks, "List tasks"),
        "create": Operation(creating(create), "Create a task"),
        "get": Operation(None, "Get a task"),
        "update": Operation(updating(update), "Update a task"),
        "delete": Operation(deleting(remove), "Delete a task"),
    },
    actions=(
        Action(
            "PUT",
            "",
            Operation(bulk_update, "Update the tasks the filters select", fields=BULK_FIELDS),
        ),
    ),
    # Leads carry their incomplete tasks only (Close changelog 2024-06-07).
    lead_child=LeadChild(Embed("tasks", (T.c.date, T.c.id), (T.c.is_complete.is_(False),))),
    docs="https://developer.close.com/api/resources/tasks",
)
