"""Bulk actions (``/bulk_action/edit/``, ``/delete/``, ``/email/``, ``/sequence_subscription/``):
one change applied to every lead a search selects (core.md §15, more.md §10).

A job is created ``created`` (200, as Close answers) and runs in the background as due work of
the organization's clock (``due/bulk_actions.py``): its first step loads the selection
(``n_leads``, ``n_objects``; ``processing``), each next step changes one batch of leads in its
own transaction, the last one marks it ``done``. Every change goes through the same domain
function a one-by-one request would (``leads.update_``, ``contacts.remove``, an email's
``write.create``, ``sequence_subscriptions.create``...), so it writes
the same events and activities, each with ``meta.bulk_action_id``. The job's own events are
``bulk_action.<kind>`` ``created``, ``updated`` and ``completed``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import Connection, Row, func, select

from crmapi.activities import store, write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Actor, Context
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import change_meta
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import (
    bulk_selection,
    contacts,
    custom_values,
    leads,
    opportunities,
    repository,
    sequence_runs,
    sequence_subscriptions,
)
from crmapi.resources.handlers import creating
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.search import parser
from crmapi.storage import tables as t
from crmapi.util import dates

B = t.bulk_action
BATCH = 100  # leads per step: one transaction each, so a big job never holds a long lock
COMMON = FieldSet(
    (
        # Advanced Filtering's JSON (docs/search.md): the search layer checks its nodes.
        Field("s_query", "object"),
        Field("query", "str", max_length=parser.MAX_LENGTH),
        Field("sort", "object_list", max_items=10),
        Field("results_limit", "int", minimum=1, maximum=bulk_selection.RESULTS_LIMIT_MAX),
        Field("send_done_email", "bool", nullable=False),
    )
)
LIST = ListSpec(filters={}, orderings={"date_created": OrderSpec("date_created")})


@dataclass(frozen=True)
class BulkContext(Context):
    """The job acting: its creator, and its id on every event it causes."""

    bulk_action_id: str = ""


# --- edit ------------------------------------------------------------------------------------

# type -> the object type whose custom field it sets (None: the lead status).
EDIT_TYPES: dict[str, str | None] = {
    "set_lead_status": None,
    "set_custom_field": "lead",
    "clear_custom_field": "lead",
    "set_contact_custom_field": "contact",
    "clear_contact_custom_field": "contact",
    "set_opportunity_custom_field": "opportunity",
    "clear_opportunity_custom_field": "opportunity",
}
# Close's enum also has activity, global and custom-object custom field edits: crmapi holds
# no such fields, so the declared enum lists only these and refuses the rest by name.
EDIT_FIELDS = FieldSet(
    (
        *COMMON.fields,
        Field("type", "enum", choices=tuple(EDIT_TYPES), required=True, nullable=False),
        Field("lead_status_id", "id"),
        Field("custom_field_id", "id"),
        Field("custom_field_name", "str", max_length=255),
        Field("custom_field_value", "any"),
        Field("custom_field_values", "any"),
        Field("custom_field_operation", "enum", choices=("replace", "add", "remove")),
    )
)


def _edit_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    kind = values["type"]
    object_type = EDIT_TYPES[kind]
    if object_type is None:
        status = values.get("lead_status_id")
        if not status or not repository.exists(conn, t.lead_status, ctx.org, status):
            raise InvalidRequest(field_errors={"lead_status_id": "Lead status does not exist."})
        return {"type": kind, "lead_status_id": status}
    field_id, name = _custom_field(conn, ctx.org, object_type, values)
    change = _custom_change(kind, field_id, values)
    # Checked now against the field's definition, as a PUT would (never per lead, later).
    custom_values.validate(conn, ctx.org, object_type, change, tz=ctx.tz)
    return {
        "type": kind,
        "custom_field_id": field_id,
        "custom_field_name": name,
        "custom_field_value": values.get("custom_field_value"),
        "custom_field_values": values.get("custom_field_values"),
        "custom_field_operation": values.get("custom_field_operation") or "replace",
        "change": change,
    }


def _custom_field(
    conn: Connection, org: str, object_type: str, values: dict[str, Any]
) -> tuple[str, str]:
    # Regular and shared fields alike: whatever the object type's schema holds.
    defs = custom_values.definitions(conn, org, object_type)
    if values.get("custom_field_id"):
        found = defs.get(values["custom_field_id"])
    elif values.get("custom_field_name"):
        named = [d for d in defs.values() if d.name == values["custom_field_name"]]
        found = named[0] if named else None
    else:
        raise InvalidRequest(field_errors={"custom_field_id": "This field is required."})
    if found is None:
        raise InvalidRequest(field_errors={"custom_field_id": "Custom field does not exist."})
    return found.id, found.name


def _custom_change(kind: str, field_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The ``custom.<id>`` body one object's PUT gets."""
    key = f"custom.{field_id}"
    if kind.startswith("clear_"):
        return {key: None}
    value = values.get("custom_field_values", values.get("custom_field_value"))
    operation = values.get("custom_field_operation") or "replace"
    return {key if operation == "replace" else f"{key}.{operation}": value}


def _edit_lead(conn: Connection, ctx: Actor, job: dict[str, Any], lead_id: str) -> int:
    if job["type"] == "set_lead_status":
        leads.update_(conn, ctx, lead_id, {"status_id": job["lead_status_id"]})
        return 1
    object_type = EDIT_TYPES[job["type"]]
    if object_type == "lead":
        leads.update_(conn, ctx, lead_id, job["change"])
        return 1
    table = t.contact if object_type == "contact" else t.opportunity
    ids = _child_ids(conn, ctx.org, table, lead_id)
    for object_id in ids:
        if object_type == "contact":
            contacts.update_(conn, ctx, object_id, job["change"])
        else:
            opportunities.update(conn, ctx, object_id, job["change"])
    return len(ids)


def _edit_count(conn: Connection, org: str, job: dict[str, Any], lead_ids: list[str]) -> int:
    object_type = EDIT_TYPES[job["type"]]
    if object_type in (None, "lead"):
        return len(lead_ids)
    table = t.contact if object_type == "contact" else t.opportunity
    return _count_children(conn, org, table, lead_ids)


# --- delete ----------------------------------------------------------------------------------

# bulk_object_type -> the activity type deleted (None: the lead or its contacts).
DELETE_TYPES: dict[str, str | None] = {
    "lead": None,
    "contact": None,
    "call": "Call",
    "custom_activity": "CustomActivity",
    "form_submission": "FormSubmission",
}
DELETE_FIELDS = FieldSet(
    (
        *COMMON.fields,
        Field("bulk_object_type", "enum", choices=tuple(DELETE_TYPES), nullable=False),
    )
)


def _delete_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    return {"bulk_object_type": values.get("bulk_object_type") or "lead"}


def _delete_lead(conn: Connection, ctx: Actor, job: dict[str, Any], lead_id: str) -> int:
    kind = job["bulk_object_type"]
    if kind == "lead":
        leads.remove(conn, ctx, lead_id)
        return 1
    if kind == "contact":
        ids = _child_ids(conn, ctx.org, t.contact, lead_id)
        for contact_id in ids:
            contacts.remove(conn, ctx, contact_id)
        return len(ids)
    spec = BY_TYPE[str(DELETE_TYPES[kind])]
    wc = write.write_context(ctx, conn)
    rows = store.fetch_by(conn, ctx.org, store.A.c.lead_id == lead_id, store.A.c.type == spec.type)
    for row in rows:
        write.delete(wc, spec, row.id)
    return len(rows)


def _delete_count(conn: Connection, org: str, job: dict[str, Any], lead_ids: list[str]) -> int:
    kind = job["bulk_object_type"]
    if kind == "lead":
        return len(lead_ids)
    if kind == "contact":
        return _count_children(conn, org, t.contact, lead_ids)
    A = store.A
    scope = (A.c.organization_id == org, A.c.type == DELETE_TYPES[kind])
    return sum(
        int(
            conn.execute(
                select(func.count()).select_from(A).where(*scope, A.c.lead_id.in_(chunk))
            ).scalar_one()
        )
        for chunk in _chunks(lead_ids)
    )


# --- email -----------------------------------------------------------------------------------

# contact_preference -> which addresses of a lead get the email: the first address of the
# lead's first contact that has one; the first address of every contact; every address.
CONTACT_PREFERENCES = ("lead", "contact", "all")
EMAIL_FIELDS = FieldSet(
    (
        *COMMON.fields,
        Field("template_id", "id", required=True, nullable=False),
        Field("email_account_id", "id"),
        Field("sender", "str", max_length=1000),
        Field("contact_preference", "enum", choices=CONTACT_PREFERENCES, nullable=False),
    )
)


def _sender_of(conn: Connection, user_id: str) -> str | None:
    U = t.user
    row = conn.execute(select(U.c.email, U.c.first_name, U.c.last_name).where(U.c.id == user_id))
    found = row.first()
    if found is None:
        return None
    name = " ".join(part for part in (found.first_name, found.last_name) if part)
    return formataddr((name, found.email)) if name else str(found.email)


def _email_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    template = values["template_id"]
    if not repository.exists(conn, t.email_template, ctx.org, template):
        raise InvalidRequest(field_errors={"template_id": DOES_NOT_EXIST})
    sender = values.get("sender") or _sender_of(conn, ctx.user_id)
    if sender is None or "@" not in parseaddr(sender)[1]:
        raise InvalidRequest(field_errors={"sender": "Enter a valid email address."})
    return {
        "template_id": template,
        "email_account_id": values.get("email_account_id"),
        "sender": sender,
        "contact_preference": values.get("contact_preference") or "lead",
    }


def _recipients(conn: Connection, org: str, lead_id: str, preference: str) -> list[tuple[str, str]]:
    """(contact id, address) pairs a lead's email goes to, by ``contact_preference``."""
    C = t.contact
    rows = conn.execute(
        select(C.c.id, C.c.emails)
        .where(C.c.organization_id == org, C.c.lead_id == lead_id)
        .order_by(C.c.date_created, C.c.id)
    ).all()
    out = []
    for row in rows:
        addresses = [e["email"] for e in row.emails or [] if isinstance(e, dict) and e.get("email")]
        out += [
            (str(row.id), str(a)) for a in (addresses if preference == "all" else addresses[:1])
        ]
    return out[:1] if preference == "lead" else out


def _email_lead(conn: Connection, ctx: Actor, job: dict[str, Any], lead_id: str) -> int:
    wc = write.write_context(ctx, conn)
    sent = _recipients(conn, ctx.org, lead_id, job["contact_preference"])
    tag = {"bulk_email_action_id": getattr(ctx, "bulk_action_id", None)}
    for contact_id, address in sent:
        body = {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "status": "outbox",
            "sender": job["sender"],
            "to": [address],
            "template_id": job["template_id"],
            "email_account_id": job.get("email_account_id"),
        }
        write.create(wc, BY_TYPE["Email"], body, tag)
    return len(sent)


def _email_count(conn: Connection, org: str, job: dict[str, Any], lead_ids: list[str]) -> int:
    return sum(len(_recipients(conn, org, i, job["contact_preference"])) for i in lead_ids)


# --- sequence subscriptions -------------------------------------------------------------------

# action_type -> (the subscription statuses it reaches, what they become); ``subscribe``
# makes subscriptions instead. Close's enum also has ``resume_finished`` and ``reassign``:
# refused by name (crmapi has no way to restart a finished run or reassign its calls).
SUBSCRIPTION_ACTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "subscribe": ((), {}),
    "pause": (("active",), {"status": "paused", "status_reason": "bulk-action"}),
    "resume": (("paused",), {"status": "active", "status_reason": None}),
}
SUBSCRIPTION_FIELDS = FieldSet(
    (
        *COMMON.fields,
        Field("action_type", "enum", choices=tuple(SUBSCRIPTION_ACTIONS), required=True,
              nullable=False),
        Field("sequence_id", "id"),
        Field("sender_account_id", "id"),
        Field("sender_name", "str", max_length=255),
        Field("sender_email", "str", max_length=254),
        Field("contact_preference", "enum", choices=("lead", "contact"), nullable=False),
        Field("calls_assigned_to", "str_list", max_items=100, nullable=False),
        Field("from_phone_number_id", "id"),
    )
)  # fmt: skip
SUBSCRIBE_NEEDS = ("sequence_id", "sender_account_id", "sender_name", "sender_email")


def _subscription_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    action = values["action_type"]
    sequence = values.get("sequence_id")
    if action == "subscribe":
        missing = {k: "This field is required." for k in SUBSCRIBE_NEEDS if not values.get(k)}
        if missing:
            raise InvalidRequest(field_errors=missing)
    if sequence and not repository.exists(conn, t.sequence, ctx.org, sequence):
        raise InvalidRequest(field_errors={"sequence_id": DOES_NOT_EXIST})
    for user_id in values.get("calls_assigned_to") or []:
        if not repository.is_member(conn, ctx.org, user_id):
            raise InvalidRequest(field_errors={"calls_assigned_to": DOES_NOT_EXIST})
    keys = (*SUBSCRIBE_NEEDS, "calls_assigned_to", "from_phone_number_id")
    return {
        "action_type": action,
        **{k: values.get(k) for k in keys},
        "contact_preference": values.get("contact_preference") or "lead",
    }


def _runs(conn: Connection, org: str, job: dict[str, Any], lead_ids: list[str]) -> list[str]:
    S = sequence_runs.S
    statuses, _ = SUBSCRIPTION_ACTIONS[job["action_type"]]
    scope = [S.c.organization_id == org, S.c.lead_id.in_(lead_ids), S.c.status.in_(statuses)]
    if job.get("sequence_id"):
        scope.append(S.c.sequence_id == job["sequence_id"])
    return [str(r[0]) for r in conn.execute(select(S.c.id).where(*scope).order_by(S.c.id))]


def _to_subscribe(conn: Connection, org: str, job: dict[str, Any], lead_id: str) -> list[Any]:
    """(contact id, address) of the lead's contacts not already running through the sequence."""
    S = sequence_runs.S
    running = {
        str(r[0])
        for r in conn.execute(
            select(S.c.contact_id).where(
                S.c.organization_id == org,
                S.c.lead_id == lead_id,
                S.c.sequence_id == job["sequence_id"],
                S.c.status.in_(("active", "paused")),
            )
        )
    }
    pairs = _recipients(conn, org, lead_id, job["contact_preference"])
    return [pair for pair in pairs if pair[0] not in running]


def _subscription_lead(conn: Connection, ctx: Actor, job: dict[str, Any], lead_id: str) -> int:
    if job["action_type"] != "subscribe":
        _, values = SUBSCRIPTION_ACTIONS[job["action_type"]]
        runs = _runs(conn, ctx.org, job, [lead_id])
        for sub_id in runs:
            sequence_runs.change(conn, ctx.principal, sub_id, values, change_meta(ctx))
        return len(runs)
    pairs = _to_subscribe(conn, ctx.org, job, lead_id)
    for contact_id, address in pairs:
        body = {
            **{k: job[k] for k in SUBSCRIBE_NEEDS},
            "contact_id": contact_id,
            "contact_email": address,
            "calls_assigned_to": list(job.get("calls_assigned_to") or []),
        }
        sequence_subscriptions.create(conn, ctx, body)
    return len(pairs)


def _subscription_count(
    conn: Connection, org: str, job: dict[str, Any], lead_ids: list[str]
) -> int:
    if job["action_type"] == "subscribe":
        return sum(len(_to_subscribe(conn, org, job, i)) for i in lead_ids)
    return sum(len(_runs(conn, org, job, chunk)) for chunk in _chunks(lead_ids))


# --- the kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    prefix: str
    fields: FieldSet
    values: Callable[[Connection, Actor, dict[str, Any]], dict[str, Any]]
    apply: Callable[[Connection, Actor, dict[str, Any], str], int]
    count: Callable[[Connection, str, dict[str, Any], list[str]], int]
    shown: tuple[str, ...]  # the kind's own fields on the job object


KINDS: dict[str, Kind] = {
    "edit": Kind(
        "edit",
        "bulkedit",
        EDIT_FIELDS,
        _edit_values,
        _edit_lead,
        _edit_count,
        ("type", "lead_status_id", "custom_field_name", "custom_field_value"),
    ),
    "delete": Kind(
        "delete",
        "bulkdelete",
        DELETE_FIELDS,
        _delete_values,
        _delete_lead,
        _delete_count,
        ("bulk_object_type",),
    ),
    "email": Kind(
        "email",
        "bulkemail",
        EMAIL_FIELDS,
        _email_values,
        _email_lead,
        _email_count,
        ("template_id", "email_account_id", "sender", "contact_preference"),
    ),
    "sequence_subscription": Kind(
        "sequence_subscription",
        "bulkseqsub",
        SUBSCRIPTION_FIELDS,
        _subscription_values,
        _subscription_lead,
        _subscription_count,
        (
            "action_type",
            "sequence_id",
            "sender_account_id",
            "sender_name",
            "sender_email",
            "contact_preference",
            "calls_assigned_to",
            "from_phone_number_id",
        ),
    ),
}


def _child_ids(conn: Connection, org: str, table: Any, lead_id: str) -> list[str]:
    rows = conn.execute(
        select(table.c.id)
        .where(table.c.organization_id == org, table.c.lead_id == lead_id)
        .order_by(table.c.date_created, table.c.id)
    )
    return [str(r[0]) for r in rows]


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def _count_children(conn: Connection, org: str, table: Any, lead_ids: list[str]) -> int:
    scope = table.c.organization_id == org
    return sum(
        int(
            conn.execute(
                select(func.count()).select_from(table).where(scope, table.c.lead_id.in_(chunk))
            ).scalar_one()
        )
        for chunk in _chunks(lead_ids)
    )


# --- rendering and writes ---------------------------------------------------------------------


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        data = r.data or {}
        kind = KINDS[r.kind]
        out.append(
            {
                "id": r.id,
                "organization_id": r.organization_id,
                **{name: data.get(name) for name in kind.shown},
                "query": data.get("query"),
                "s_query": data.get("s_query"),
                "results_limit": data.get("results_limit"),
                "sort": data.get("sort"),
                "send_done_email": data.get("send_done_email", True),
                "status": r.status,
                "n_leads": r.n_leads,
                "n_leads_processed": r.n_leads_processed,
                "n_objects": r.n_objects,
                "n_objects_processed": r.n_objects_processed,
                "created_by": r.created_by,
                "updated_by": r.updated_by,
                "date_created": r.date_created,
                "date_updated": r.date_updated,
            }
        )
    return out


def _creator(kind: Kind) -> Callable[[Connection, Actor, dict[str, Any]], dict[str, Any]]:
    def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
        values = kind.fields.validate(body, creating=True, tz=ctx.tz)
        # Checked now, so a bad search is the caller's 400, not a failed job later.
        bulk_selection.parse(conn, ctx.org, ctx.user_id, ctx.tz, values)
        bulk_selection.results_limit(values)
        data = {
            **kind.values(conn, ctx, values),
            **{k: values.get(k) for k in ("query", "s_query", "sort", "results_limit")},
            "send_done_email": values.get("send_done_email", True),
            "tz": ctx.tz,
        }
        now = dates.now()
        columns = {
            "kind": kind.name,
            "status": "created",
            "data": data,
            "selection": None,
            "n_leads": None,
            "n_leads_processed": 0,
            "n_objects": None,
            "n_objects_processed": 0,
            "due_at": now,  # its first step (loading the selection) runs at once
            "date_created": now,
            "date_updated": now,
        }
        return repository.insert_row(conn, SPECS[kind.name], ctx, columns)

    return create


def step(conn: Connection, ctx: BulkContext, row: Row[Any]) -> dict[str, Any]:
    """Run the job's next step (load, or one batch); return what it did, for ``advance``."""
    kind, data = KINDS[row.kind], dict(row.data or {})
    spec = SPECS[kind.name]
    before = repository.render_one(conn, spec, ctx.org, row.id)
    if row.status == "created":
        search = bulk_selection.parse(conn, ctx.org, ctx.user_id, float(data.get("tz", 0)), data)
        ids = bulk_selection.lead_ids(conn, ctx.org, search, ctx.tz, data.get("results_limit"))
        changes: dict[str, Any] = {
            "status": "processing",
            "selection": ids,
            "n_leads": len(ids),
            "n_objects": kind.count(conn, ctx.org, data, ids),
        }
        done = {"step": "loaded", "n_leads": len(ids)}
    else:
        ids = list(row.selection or [])
        batch = ids[row.n_leads_processed : row.n_leads_processed + BATCH]
        existing = _existing_leads(conn, ctx.org, batch)
        live = [lead_id for lead_id in batch if lead_id in existing]
        objects = sum(kind.apply(conn, ctx, data, lead_id) for lead_id in live)
        changes = {
            "n_leads_processed": row.n_leads_processed + len(batch),
            "n_objects_processed": row.n_objects_processed + objects,
        }
        done = {"step": "batch", "n_leads": len(batch)}
    finished = changes.get("n_leads_processed", row.n_leads_processed) >= (
        changes.get("n_leads", row.n_leads) or 0
    )
    if finished:
        changes["status"] = "done"
    after = repository.save_step(conn, spec, ctx, before, changes, finished)
    return {**done, "status": after["status"]}


def _existing_leads(conn: Connection, org: str, ids: list[str]) -> set[str]:
    # A lead deleted since the job loaded is skipped (and counted as processed).
    L = t.lead
    rows = conn.execute(select(L.c.id).where(L.c.organization_id == org, L.c.id.in_(ids)))
    return {str(r[0]) for r in rows}


def _spec(kind: Kind) -> ResourceSpec:
    return ResourceSpec(
        name=f"bulk_action_{kind.name}",
        path=f"/bulk_action/{kind.name}/",
        model="Bulk" + "".join(part.capitalize() for part in kind.name.split("_")) + "Action",
        table=B,
        id_prefix=kind.prefix,
        where=(B.c.kind == kind.name,),
        fields=kind.fields,
        list_spec=LIST,
        render=render_rows,
        event_type=f"bulk_action.{kind.name}",
        operations={
            "list": Operation(None, f"List bulk {kind.name} actions"),
            "create": Operation(creating(_creator(kind)), f"Create a bulk {kind.name} action"),
            "get": Operation(None, f"Get a bulk {kind.name} action"),
        },
        docs="https://developer.close.com/api/resources/bulk-actions",
    )


SPECS: dict[str, ResourceSpec] = {name: _spec(kind) for name, kind in KINDS.items()}
