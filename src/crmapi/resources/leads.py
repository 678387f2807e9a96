"""Leads (``/lead/``): the company every contact, activity, opportunity and task hangs on."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.activities.sample import ts
from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec, id_filters, range_filters
from crmapi.resources import catalog, contact_rows, custom_values, repository, statuses
from crmapi.resources import merge as lead_merge
from crmapi.resources.handlers import acting, creating, deleting, updating
from crmapi.resources.render import listing
from crmapi.resources.sample import COMPANY, SUFFIX, Sampler
from crmapi.resources.spec import Action, Operation, ResourceSpec
from crmapi.resources.users import user_names
from crmapi.search import listing as search
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

# ``POST /lead/merge/`` (its rules: ``merge``).
MERGE_FIELDS = FieldSet(
    (
        Field("source", "id", required=True, nullable=False),
        Field("destination", "id", required=True, nullable=False),
    )
)

LIST = ListSpec(
    filters={
        **id_filters("id"),
        **id_filters("status_id"),
        **range_filters("date_created"),
        **range_filters("date_updated"),
        "query": search.SEARCH_PARAM,  # Close's lead search language (crmapi.search)
    },
    orderings={
        "date_created": OrderSpec("date_created"),
        "date_updated": OrderSpec("date_updated"),
        "name": OrderSpec("name"),
    },
    default_order="-date_created",
    max_limit=200,
    deprecated={"query": "since 2022-02-14; Close points to POST /data/search/ (not served)."},
)


def attach(items: list[dict[str, Any]], key: str, children: list[dict[str, Any]]) -> None:
    """Set ``item[key]`` on every lead of a page to its children (grouped by ``lead_id``)."""
    by_lead: dict[str, list[dict[str, Any]]] = {item["id"]: [] for item in items}
    for child in children:
        by_lead[child["lead_id"]].append(child)
    for item in items:
        item[key] = by_lead[item["id"]]


def _embed(conn: Connection, org_id: str, items: list[dict[str, Any]]) -> None:
    """Every list a lead embeds (declared by its children in the registry): one query per
    list for the whole page."""
    lead_ids = [item["id"] for item in items]
    if not lead_ids:
        return
    for child in catalog.LEAD_CHILDREN:
        embed = child.lead_child.embed if child.lead_child else None
        if embed is None or child.table is None or child.render is None:
            continue
        table = child.table
        rows = conn.execute(
            select(table)
            .where(table.c.organization_id == org_id, table.c.lead_id.in_(lead_ids), *embed.where)
            .order_by(*embed.order)
        ).all()
        attach(items, embed.key, child.render(conn, org_id, rows, 0.0))


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
        out.append(contact_rows.validate(conn, org_id, body, creating=True))
    return out


def insert_lead(conn: Connection, ctx: Actor, body: dict[str, Any], now: str) -> str:
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
        contact_rows.insert_contact(conn, ctx.org, ctx.user_id, lead_id, contact, stamp)
    wc = write.write_context(ctx, conn)
    wc.now = now
    write.system_create(wc, BY_TYPE["Created"], {"lead_id": lead_id, "source": "api"})
    return lead_id


def _primary(items: list[dict[str, Any]], key: str) -> Any:
    for contact in items:
        if contact.get(key):
            return contact[key][0]
    return None


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    """Leads with their contacts and status labels; a fixed number of queries per page."""
    labels = {s["id"]: s["label"] for s in statuses.lead_statuses(conn, org_id)}
    names = user_names(conn, {u for r in rows for u in (r.created_by, r.updated_by)})
    by_lead = contact_rows.for_leads(conn, org_id, [r.id for r in rows]) if rows else {}
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
    return repository.render_one(conn, SPEC, org_id, lead_id)


def list_leads(ctx: Call) -> dict[str, Any]:
    """``GET /lead/``: the page and ``total_results`` of its ``query`` (Close's search)."""
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    with ctx.db.read() as conn:
        found = search.leads_page(conn, ctx.org, ctx.user_id, ctx.tz, query)
        return listing(
            render_rows(conn, ctx.org, found.rows, ctx.tz), query, total_results=found.total
        )


def emit_event(
    conn: Connection,
    ctx: Actor,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    emit_change(conn, ctx, "lead", action, before, after, lead_key="id")


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """A new lead with its nested contacts; each gets its ``created`` event."""
    lead_id = insert_lead(conn, ctx, body, dates.now())
    created = render_one(conn, ctx.org, lead_id)
    emit_event(conn, ctx, "created", None, created)
    for contact in created["contacts"]:
        contact_rows.emit_event(conn, ctx, "created", None, contact)
    return created


def _status_change(
    conn: Connection, ctx: Actor, lead_id: str, old: str, new: str, now: str
) -> None:
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


def update_(conn: Connection, ctx: Actor, lead_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT semantics (only what is sent changes); a status change writes its activity."""
    now = dates.now()
    row = repository.get_row(conn, SPEC, ctx.org, lead_id)
    before = render_rows(conn, ctx.org, [row])[0]
    values = FIELDS.validate(body, creating=False)
    changes: dict[str, Any] = {k: values[k] for k in ("name", "description", "url") if k in values}
    status_id = _resolve_status(conn, ctx.org, values)
    if status_id is not None:
        changes["status_id"] = status_id
    if "addresses" in values:
        changes["addresses"] = _addresses(values["addresses"])
    custom = custom_values.validate(conn, ctx.org, "lead", body, tz=ctx.tz)
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
    return after


def remove(conn: Connection, ctx: Actor, lead_id: str) -> None:
    """Delete a lead and every child the registry declares, each with its event."""
    row = repository.get_row(conn, SPEC, ctx.org, lead_id)
    before = render_rows(conn, ctx.org, [row])[0]
    removed = lead_merge.children(conn, ctx, row.id)
    for table in lead_merge.child_tables(reverse=True):  # children of children first
        conn.execute(
            delete(table).where(table.c.organization_id == ctx.org, table.c.lead_id == row.id)
        )
    conn.execute(delete(L).where(L.c.organization_id == ctx.org, L.c.id == row.id))
    # Close fires a deleted event for every child too, then the lead's own.
    for object_type, child in removed:
        emit_change(conn, ctx, object_type, "deleted", child, None)
    emit_event(conn, ctx, "deleted", before, None)


def count(conn: Connection, org_id: str) -> int:
    return int(conn.execute(select(func.count()).where(L.c.organization_id == org_id)).scalar_one())


def merge(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /lead/merge/``: declared on the lead; the rules live in ``merge``."""
    return lead_merge.merge_leads(conn, ctx, body, SPEC, MERGE_FIELDS)


def sample(gen: Sampler, _parent: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A lead of ``crmapi seed`` and the demo: a company, an owner, a status."""
    lead_id = gen.new_id("lead")
    stamp = ts(gen.created(lead_id))
    owner = gen.rng.choice(gen.users)
    return [
        {
            "id": lead_id,
            "organization_id": gen.org_id,
            "name": f"{gen.rng.choice(COMPANY)} {gen.rng.choice(SUFFIX)}",
            "description": None,
            "url": None,
            "status_id": gen.rng.choice(gen.lead_statuses)["id"],
            "addresses": [],
            "custom": {},
            "created_by": owner,
            "updated_by": owner,
            "date_created": stamp,
            "date_updated": stamp,
        }
    ]


SPEC = ResourceSpec(
    name="lead",
    path="/lead/",
    model="Lead",
    table=L,
    id_prefix="lead",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="lead",
    operations={
        "list": Operation(list_leads, "List leads"),
        "create": Operation(creating(create), "Create a lead"),
        "get": Operation(None, "Get a lead"),
        "update": Operation(updating(update_), "Update a lead"),
        "delete": Operation(deleting(remove), "Delete a lead"),
    },
    actions=(
        Action(
            "POST",
            "merge/",
            Operation(
                acting(merge),
                "Merge the source lead into the destination",
                fields=MERGE_FIELDS,
            ),
        ),
    ),
    docs="https://developer.close.com/api/resources/leads",
    sample=sample,
)
