"""Leads (``/lead/``): the company every contact, activity, opportunity and task hangs on."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, delete, func, insert, select, update

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.http.context import Ctx
from crmapi.http.endpoint import Op
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec, id_filters, range_filters
from crmapi.resources import contacts, custom_values, statuses
from crmapi.resources.lookup import scoped_row
from crmapi.resources.render import listing, project
from crmapi.resources.users import user_names
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

L = t.lead
ADDRESS_KEYS = ("label", "address_1", "address_2", "city", "state", "zipcode", "country")
FIELDS = FieldSet(
    (
        Field("name", "str", max_length=1000),
        Field("description", "str", max_length=100_000),
        Field("url", "str", max_length=2000),
        Field("status_id", "id", nullable=False, error_key="status"),
        Field("status", "str", nullable=False, max_length=255),
        Field("addresses", "object_list", max_items=100, nullable=False),
        Field("contacts", "object_list", update=False, max_items=100, nullable=False),
    )
)

LIST = ListSpec(
    filters={
        **id_filters("id"),
        **id_filters("status_id"),
        **range_filters("date_created"),
        **range_filters("date_updated"),
    },
    orderings={
        "date_created": OrderSpec("date_created"),
        "date_updated": OrderSpec("date_updated"),
        "name": OrderSpec("name"),
    },
    default_order="-date_created",
    max_limit=200,
)


def attach(items: list[dict[str, Any]], key: str, children: list[dict[str, Any]]) -> None:
    """Set ``item[key]`` on every lead of a page to its children (grouped by ``lead_id``)."""
    by_lead: dict[str, list[dict[str, Any]]] = {item["id"]: [] for item in items}
    for child in children:
        by_lead[child["lead_id"]].append(child)
    for item in items:
        item[key] = by_lead[item["id"]]


@dataclass(frozen=True)
class Embedded:
    """A list a lead carries: the ``table`` rows of its ``lead_id``, in ``order``, rendered."""

    key: str
    table: Table
    order: tuple[ColumnElement[Any], ...]
    render: Callable[[Connection, str, Sequence[Row[Any]]], list[dict[str, Any]]]
    where: tuple[ColumnElement[bool], ...] = ()


# Other resources (opportunities, tasks...) declare the lists they embed in a lead here.
EMBEDDED: list[Embedded] = []


def _embed(conn: Connection, org_id: str, items: list[dict[str, Any]]) -> None:
    """Every embedded list of a page of leads: one query per list for the whole page."""
    lead_ids = [item["id"] for item in items]
    if not lead_ids:
        return
    for e in EMBEDDED:
        table = e.table
        rows = conn.execute(
            select(table)
            .where(table.c.organization_id == org_id, table.c.lead_id.in_(lead_ids), *e.where)
            .order_by(*e.order)
        ).all()
        attach(items, e.key, e.render(conn, org_id, rows))


def exists(conn: Connection, org_id: str, lead_id: str) -> bool:
    return (
        conn.execute(select(L.c.id).where(L.c.organization_id == org_id, L.c.id == lead_id)).first()
        is not None
    )


def touch(conn: Connection, org_id: str, lead_id: str, user_id: str, now: str) -> None:
    """A change to a lead's contacts counts as a change to the lead."""
    conn.execute(
        update(L)
        .where(L.c.organization_id == org_id, L.c.id == lead_id)
        .values(date_updated=now, updated_by=user_id)
    )


def _addresses(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        address = {}
        for key in ADDRESS_KEYS:
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidRequest(field_errors={"addresses": f"{key} must be a string."})
            address[key] = value
        out.append(address)
    return out


def _resolve_status(conn: Connection, org_id: str, values: dict[str, Any]) -> str | None:
    if "status_id" in values and "status" in values:
        raise InvalidRequest(
            field_errors={"status": "Send status_id or status (a label), not both."}
        )
    if "status_id" in values:
        if statuses.lead_status(conn, org_id, values["status_id"]) is None:
            raise InvalidRequest(field_errors={"status": "Object does not exist."})
        return str(values["status_id"])
    if "status" in values:
        found = statuses.lead_status_by_label(conn, org_id, values["status"])
        if found is None:
            raise InvalidRequest(
                field_errors={"status": f"No lead status named {values['status']!r}."}
            )
        return str(found["id"])
    return None


def _validate_contacts(
    conn: Connection, org_id: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for item in items:
        body = {k: v for k, v in item.items() if k != "lead_id"}
        out.append(contacts.validate(conn, org_id, body, creating=True))
    return out


def insert_lead(conn: Connection, ctx: Ctx, body: dict[str, Any], now: str) -> str:
    """Validate and store a new lead with its nested contacts and its ``Created`` activity."""
    values = FIELDS.validate(body, creating=True)
    custom = custom_values.validate(conn, ctx.org, "lead", body, tz=ctx.tz)
    status_id = (
        _resolve_status(conn, ctx.org, values) or statuses.default_lead_status(conn, ctx.org)["id"]
    )
    nested = _validate_contacts(conn, ctx.org, values.get("contacts", []))
    lead_id = new_id("lead")
    conn.execute(
        insert(L).values(
            id=lead_id,
            organization_id=ctx.org,
            name=values.get("name"),
            description=values.get("description"),
            url=values.get("url"),
            status_id=status_id,
            addresses=_addresses(values.get("addresses", [])),
            custom=custom_values.merge(None, custom),
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    for i, contact in enumerate(nested):
        # Nested contacts keep the order they were sent in (lists sort by date_created).
        stamp = dates.shift(now, microseconds=i)
        contacts.insert_contact(conn, ctx.org, ctx.user_id, lead_id, contact, stamp)
    wc = write.write_context(ctx, conn)
    wc.now = now
    write.system_create(wc, BY_TYPE["Created"], {"lead_id": lead_id, "source": "api"})
    return lead_id


def get_row(conn: Connection, org_id: str, lead_id: str) -> Row[Any]:
    return scoped_row(conn, L, org_id, lead_id, "Lead")


def _primary(items: list[dict[str, Any]], key: str) -> Any:
    for contact in items:
        if contact.get(key):
            return contact[key][0]
    return None


def render_rows(conn: Connection, org_id: str, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Leads with their contacts and status labels; a fixed number of queries per page."""
    labels = {s["id"]: s["label"] for s in statuses.lead_statuses(conn, org_id)}
    names = user_names(conn, {u for r in rows for u in (r.created_by, r.updated_by)})
    by_lead = contacts.for_leads(conn, org_id, [r.id for r in rows]) if rows else {}
    out = []
    for r in rows:
        lead_contacts = by_lead.get(r.id, [])
        obj = {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "display_name": r.name or "Untitled",
            "description": r.description,
            "url": r.url,
            "status_id": r.status_id,
            "status_label": labels.get(r.status_id),
            "contacts": lead_contacts,
            "contact_ids": [c["id"] for c in lead_contacts],
            "addresses": r.addresses,
            "html_url": f"https://app.close.com/lead/{r.id}/",
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "created_by_name": names.get(r.created_by),
            "updated_by_name": names.get(r.updated_by),
            "date_created": r.date_created,
            "date_updated": r.date_updated,
            "primary_email": _primary(lead_contacts, "emails"),
            "primary_phone": _primary(lead_contacts, "phones"),
            "integration_links": [],
            "source": None,
        }
        obj.update(custom_values.render(r.custom))
        out.append(obj)
    _embed(conn, org_id, out)
    return out


def render_one(conn: Connection, org_id: str, lead_id: str) -> dict[str, Any]:
    return render_rows(conn, org_id, [get_row(conn, org_id, lead_id)])[0]


def list_leads(ctx: Ctx) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    scope = L.c.organization_id == ctx.org
    with ctx.db.read() as conn:
        total = conn.execute(qc.count(L, query, scope)).scalar_one()
        rows = conn.execute(qc.page(select(L), L, query, scope)).all()
        items = render_rows(conn, ctx.org, rows)
    return listing(items, query, total_results=total)


def get_lead(ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(render_one(conn, ctx.org, ctx.path_params["id"]), ctx.params)


def emit_event(
    conn: Connection,
    ctx: Ctx,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    emit_change(conn, ctx, "lead", action, before, after, lead_key="id")


def create_lead(ctx: Ctx) -> dict[str, Any]:
    now = dates.now()
    with ctx.db.write() as conn:
        lead_id = insert_lead(conn, ctx, ctx.body, now)
        created = render_one(conn, ctx.org, lead_id)
        emit_event(conn, ctx, "created", None, created)
        for contact in created["contacts"]:
            contacts.emit_event(conn, ctx, "created", None, contact)
        return project(created, ctx.params)


def _status_change(conn: Connection, ctx: Ctx, lead_id: str, old: str, new: str, now: str) -> None:
    """Close writes a LeadStatusChange whenever a lead's status changes."""
    old_status = statuses.lead_status(conn, ctx.org, old) or {}
    new_status = statuses.lead_status(conn, ctx.org, new) or {}
    wc = write.write_context(ctx, conn)
    wc.now = now
    write.system_create(
        wc,
        BY_TYPE["LeadStatusChange"],
        {
            "lead_id": lead_id,
            "old_status_id": old,
            "old_status_label": old_status.get("label"),
            "new_status_id": new,
            "new_status_label": new_status.get("label"),
        },
    )


def update_lead(ctx: Ctx) -> dict[str, Any]:
    now = dates.now()
    with ctx.db.write() as conn:
        row = get_row(conn, ctx.org, ctx.path_params["id"])
        before = render_rows(conn, ctx.org, [row])[0]
        values = FIELDS.validate(ctx.body, creating=False)
        changes: dict[str, Any] = {
            k: values[k] for k in ("name", "description", "url") if k in values
        }
        status_id = _resolve_status(conn, ctx.org, values)
        if status_id is not None:
            changes["status_id"] = status_id
        if "addresses" in values:
            changes["addresses"] = _addresses(values["addresses"])
        custom = custom_values.validate(conn, ctx.org, "lead", ctx.body, tz=ctx.tz)
        if custom:
            changes["custom"] = custom_values.merge(row.custom, custom)
        conn.execute(
            update(L)
            .where(L.c.organization_id == ctx.org, L.c.id == row.id)
            .values(**changes, updated_by=ctx.user_id, date_updated=now)
        )
        if status_id is not None and status_id != row.status_id:
            _status_change(conn, ctx, row.id, row.status_id, status_id, now)
        after = render_one(conn, ctx.org, row.id)
        emit_event(conn, ctx, "updated", before, after)
        return project(after, ctx.params)


# Tables whose rows belong to a lead, deleted with it (children first).
CHILDREN = [t.activity, t.task, t.opportunity, t.contact]


def delete_lead(ctx: Ctx) -> dict[str, Any]:
    from crmapi.resources.merge import children

    with ctx.db.write() as conn:
        row = get_row(conn, ctx.org, ctx.path_params["id"])
        before = render_rows(conn, ctx.org, [row])[0]
        removed = children(conn, ctx, row.id)
        for table in CHILDREN:
            conn.execute(
                delete(table).where(table.c.organization_id == ctx.org, table.c.lead_id == row.id)
            )
        conn.execute(delete(L).where(L.c.organization_id == ctx.org, L.c.id == row.id))
        # Close fires a deleted event for every child too, then the lead's own.
        for object_type, child in removed:
            emit_change(conn, ctx, object_type, "deleted", child, None)
        emit_event(conn, ctx, "deleted", before, None)
    return {}


def count(conn: Connection, org_id: str) -> int:
    return int(conn.execute(select(func.count()).where(L.c.organization_id == org_id)).scalar_one())


ROUTES: list[tuple[str, dict[str, Op]]] = [
    (
        "/lead/",
        {
            "GET": Op(list_leads, summary="List leads", list_spec=LIST, fields=FIELDS),
            "POST": Op(create_lead, summary="Create a lead", fields=FIELDS),
        },
    ),
    (
        "/lead/{id}/",
        {
            "GET": Op(get_lead, summary="Get a lead", fields=FIELDS),
            "PUT": Op(update_lead, summary="Update a lead", fields=FIELDS),
            "DELETE": Op(delete_lead, summary="Delete a lead"),
        },
    ),
]
