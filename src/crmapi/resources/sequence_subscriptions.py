"""Sequence subscriptions (``/sequence_subscription/``): one contact run through one sequence
(more.md §5.2).

A new subscription is ``active`` (201) and its first step comes due after that step's delay,
inside the sequence's sending window; the clock runs the steps one at a time
(``sequence_steps.py``, ``due/sequences.py``). A PUT pauses it (``manual``) or resumes it;
the sender fields can change at any time. A list must name a sequence, a contact or a lead.
Subscriptions belong to their lead: deleted with it, moved by a merge.
"""

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query.model import ListSpec, OrderSpec, id_filters
from crmapi.resources import repository, sequence_runs, sequence_schedule
from crmapi.resources.handlers import creating, deleting, list_handler, updating
from crmapi.resources.spec import LeadChild, Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

S = sequence_runs.S
SENDER = ("sender_account_id", "sender_name", "sender_email")
FIELDS = FieldSet(
    (
        Field("sequence_id", "id", required=True, nullable=False, update=False),
        Field("contact_id", "id", required=True, nullable=False, update=False),
        Field("contact_email", "str", required=True, nullable=False, update=False, max_length=254),
        Field("sender_account_id", "id", required=True, nullable=False),
        Field("sender_name", "str", required=True, nullable=False, max_length=255),
        Field("sender_email", "str", required=True, nullable=False, max_length=254),
        Field("calls_assigned_to", "str_list", max_items=100, nullable=False, update=False),
        # A PUT pauses (always allowed) or resumes; the rest of the states are the run's own.
        Field("status", "enum", choices=("active", "paused"), nullable=False, create=False),
    )
)
FILTERS = ("sequence_id", "contact_id", "lead_id")
NEEDS_FILTER = "Filter the subscriptions by at least one of sequence_id, contact_id or lead_id."
LIST = ListSpec(
    filters={name: spec for f in FILTERS for name, spec in id_filters(f).items()},
    orderings={"date_created": OrderSpec("date_created")},
    default_order="date_created",
    max_limit=1000,
)


def _listed(ctx: Call) -> dict[str, Any]:
    if not any(ctx.params.get(f) or ctx.params.get(f"{f}__in") for f in FILTERS):
        raise InvalidRequest([NEEDS_FILTER])
    listed: dict[str, Any] = list_handler(SPEC)(ctx)
    return listed


def _contact_emails(conn: Connection, org: str, contact_id: str) -> list[str] | None:
    """The contact's addresses, lower-cased (None: no such contact)."""
    C = t.contact
    row = conn.execute(
        select(C.c.emails).where(C.c.organization_id == org, C.c.id == contact_id)
    ).first()
    if row is None:
        return None
    return [str(e.get("email") or "").lower() for e in (row.emails or []) if isinstance(e, dict)]


def matches(conn: Connection, org: str, contact_id: str, contact_email: str) -> bool:
    """The contact still exists and still has the sequenced address."""
    emails = _contact_emails(conn, org, contact_id)
    return emails is not None and contact_email.lower() in emails


def _check(conn: Connection, ctx: Actor, values: dict[str, Any]) -> Any:
    sequence = conn.execute(
        select(t.sequence).where(
            t.sequence.c.organization_id == ctx.org, t.sequence.c.id == values["sequence_id"]
        )
    ).first()
    errors: dict[str, str] = {}
    if sequence is None:
        errors["sequence_id"] = DOES_NOT_EXIST
    emails = _contact_emails(conn, ctx.org, values["contact_id"])
    if emails is None:
        errors["contact_id"] = DOES_NOT_EXIST
    elif values["contact_email"].lower() not in emails:
        errors["contact_email"] = "This email address does not exist on the contact."
    for user_id in values.get("calls_assigned_to") or []:
        if not repository.is_member(conn, ctx.org, user_id):
            errors["calls_assigned_to"] = f"User {user_id[:64]} does not exist."
    if errors:
        raise InvalidRequest(field_errors=errors)
    running = conn.execute(
        select(S.c.id).where(
            S.c.organization_id == ctx.org,
            S.c.sequence_id == values["sequence_id"],
            S.c.contact_id == values["contact_id"],
            S.c.status.in_(("active", "paused")),
        )
    ).first()
    if running is not None:
        raise InvalidRequest(["The contact is already subscribed to this sequence."])
    return sequence


def first_due(sequence: Any, now: str, step_index: int = 0) -> str | None:
    """When step ``step_index`` of ``sequence`` comes due after ``now`` (None: no such step)."""
    steps = list(sequence.steps or [])
    if step_index >= len(steps):
        return None
    moment = dates.to_datetime(now) + timedelta(seconds=int(steps[step_index]["delay"] or 0))
    opened = sequence_schedule.next_open(
        moment, sequence.timezone, (sequence.data or {}).get("schedule")
    )
    return dates.canonical(opened)


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=True, tz=ctx.tz)
    sequence = _check(conn, ctx, values)
    now = dates.now()
    sub_id = new_id("sub")
    data = {
        **{k: values[k] for k in ("contact_email", *SENDER)},
        "calls_assigned_to": list(values.get("calls_assigned_to") or []),
        "start_date": None,
    }
    conn.execute(
        insert(S).values(
            id=sub_id,
            organization_id=ctx.org,
            sequence_id=sequence.id,
            lead_id=repository.contact_lead(conn, ctx.org, values["contact_id"]),
            contact_id=values["contact_id"],
            status="active",
            status_reason=None,
            step_index=0,
            due_at=first_due(sequence, now),
            data=data,
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    created = sequence_runs.rendered(conn, ctx.org, sub_id)
    emit_change(conn, ctx, "sequence_subscription", "created", None, created)
    return created


def _status_change(row: Any, status: str) -> dict[str, Any]:
    if status == row.status:
        return {}
    if row.status not in ("active", "paused"):
        raise InvalidRequest([f"A {row.status} subscription cannot be changed to {status}."])
    if status == "paused":
        return {"status": "paused", "status_reason": "manual"}
    # Resumed: a step whose time passed while paused runs at once.
    return {"status": "active", "status_reason": None}


def update_(conn: Connection, ctx: Actor, sub_id: str, body: dict[str, Any]) -> dict[str, Any]:
    row = repository.get_row(conn, SPEC, ctx.org, sub_id)
    values = FIELDS.validate(body, creating=False, tz=ctx.tz)
    changes = _status_change(row, values["status"]) if "status" in values else {}
    sender = {k: values[k] for k in SENDER if k in values}
    if sender:
        changes["data"] = {**(row.data or {}), **sender}
    meta = {"request_method": ctx.method, "request_path": ctx.path}
    return sequence_runs.change(conn, ctx.principal, sub_id, changes, meta, ctx.request_id)


def remove(conn: Connection, ctx: Actor, sub_id: str) -> None:
    row = repository.get_row(conn, SPEC, ctx.org, sub_id)
    before = sequence_runs.render_rows(conn, ctx.org, [row])[0]
    conn.execute(delete(S).where(S.c.organization_id == ctx.org, S.c.id == sub_id))
    emit_change(conn, ctx, "sequence_subscription", "deleted", before, None)


SPEC = ResourceSpec(
    name="sequence_subscription",
    path="/sequence_subscription/",
    model="SequenceSubscription",
    table=S,
    id_prefix="sub",
    fields=FIELDS,
    list_spec=LIST,
    render=sequence_runs.render_rows,
    event_type="sequence_subscription",
    lead_child=LeadChild(),
    operations={
        "list": Operation(_listed, "List subscriptions of a sequence, a contact or a lead"),
        "create": Operation(creating(create), "Subscribe a contact to a sequence", 201),
        "get": Operation(None, "Get a subscription"),
        "update": Operation(updating(update_), "Pause, resume or change the sender"),
        "delete": Operation(deleting(remove), "Unsubscribe (delete the subscription)"),
    },
    docs="https://developer.close.com/api/resources/sequences",
)
