"""Contacts (``/contact/``): people on a lead, with their emails, phones and urls."""

from typing import Any

from sqlalchemy import Connection, delete, update

from crmapi.domain.context import Actor
from crmapi.resources import custom_values, leads, repository
from crmapi.resources.contact_rows import (
    FIELDS,
    LIST,
    emit_event,
    insert_contact,
    normalize_lists,
    render_rows,
    validate,
)
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.sample import FIRST, LAST, TITLES, Sampler
from crmapi.resources.spec import LeadChild, Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates

C = t.contact


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """A new contact; without ``lead_id`` Close creates a lead named after it."""
    now = dates.now()
    values = validate(conn, ctx.org, body, creating=True)
    lead_id = values.get("lead_id")
    if lead_id is None:
        # Close creates a lead named after the contact when no lead is given.
        lead_id = leads.insert_lead(conn, ctx, {"name": values.get("name")}, now)
        leads.emit_event(conn, ctx, "created", None, leads.render_one(conn, ctx.org, lead_id))
        lead_before = None
    else:
        repository.check_references(conn, ctx.org, [FIELDS.by_name["lead_id"]], values)
        lead_before = leads.render_one(conn, ctx.org, lead_id)
    contact_id = insert_contact(conn, ctx.org, ctx.user_id, lead_id, values, now)
    repository.touch_lead(conn, ctx.org, lead_id, ctx.user_id, now)
    created = repository.render_one(conn, SPEC, ctx.org, contact_id)
    emit_event(conn, ctx, "created", None, created)
    if lead_before is not None:
        # The lead's contact_ids changed: Close reports that as lead.updated too.
        leads.emit_event(
            conn, ctx, "updated", lead_before, leads.render_one(conn, ctx.org, lead_id)
        )
    return created


def update_(conn: Connection, ctx: Actor, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
    now = dates.now()
    row = repository.get_row(conn, SPEC, ctx.org, contact_id)
    before = render_rows(conn, ctx.org, [row])[0]
    values = validate(conn, ctx.org, body, creating=False)
    normalize_lists(values)
    if "custom" in values:
        values["custom"] = custom_values.merge(row.custom, values["custom"])
    conn.execute(
        update(C)
        .where(C.c.organization_id == ctx.org, C.c.id == row.id)
        .values(**values, updated_by=ctx.user_id, date_updated=now)
    )
    repository.touch_lead(conn, ctx.org, row.lead_id, ctx.user_id, now)
    after = repository.render_one(conn, SPEC, ctx.org, row.id)
    emit_event(conn, ctx, "updated", before, after)
    return after


def remove(conn: Connection, ctx: Actor, contact_id: str) -> None:
    """Delete a contact; its activities stay on the lead, no longer naming it."""
    row = repository.get_row(conn, SPEC, ctx.org, contact_id)
    before = render_rows(conn, ctx.org, [row])[0]
    lead_before = leads.render_one(conn, ctx.org, row.lead_id)
    # Activities stay on the lead; they just no longer name the contact.
    conn.execute(
        update(t.activity)
        .where(t.activity.c.organization_id == ctx.org, t.activity.c.contact_id == row.id)
        .values(contact_id=None)
    )
    conn.execute(delete(C).where(C.c.organization_id == ctx.org, C.c.id == row.id))
    repository.touch_lead(conn, ctx.org, row.lead_id, ctx.user_id, dates.now())
    emit_event(conn, ctx, "deleted", before, None)
    lead_after = leads.render_one(conn, ctx.org, row.lead_id)
    leads.emit_event(conn, ctx, "updated", lead_before, lead_after)


def sample(gen: Sampler, lead: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One to three people on a seeded lead, by its owner, as old as the lead."""
    assert lead is not None
    return [_sample_one(gen, lead) for _ in range(gen.rng.randint(1, 3))]


def _sample_one(gen: Sampler, lead: dict[str, Any]) -> dict[str, Any]:
    first, last = gen.rng.choice(FIRST), gen.rng.choice(LAST)
    contact_id = gen.new_id("cont")
    number = f"+1415555{gen.rng.randint(0, 9999):04d}"
    owner, stamp = lead["created_by"], lead["date_created"]
    return {
        "id": contact_id,
        "organization_id": gen.org_id,
        "lead_id": lead["id"],
        "name": f"{first} {last}",
        "title": gen.rng.choice(TITLES),
        "emails": [
            {
                "email": f"{first.lower()}@{last.lower()}.example",
                "type": "office",
                "is_unsubscribed": False,
            }
        ],
        "phones": [
            {
                "phone": number,
                "phone_formatted": f"+1 415-555-{number[-4:]}",
                "country": "US",
                "type": "office",
            }
        ],
        "urls": [],
        "custom": {},
        "created_by": owner,
        "updated_by": owner,
        "date_created": stamp,
        "date_updated": stamp,
    }


SPEC = ResourceSpec(
    name="contact",
    path="/contact/",
    model="Contact",
    table=C,
    id_prefix="cont",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="contact",
    operations={
        "list": Operation(None, "List contacts"),
        "create": Operation(creating(create), "Create a contact"),
        "get": Operation(None, "Get a contact"),
        "update": Operation(updating(update_), "Update a contact"),
        "delete": Operation(deleting(remove), "Delete a contact"),
    },
    lead_child=LeadChild(),  # embedded by the lead itself (contact_ids, primary email)
    sample=sample,
    docs="https://developer.close.com/api/resources/contacts",
)
