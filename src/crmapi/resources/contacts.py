"""Contacts (``/contact/``): people on a lead, with their emails, phones and urls."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldError, FieldSet
from crmapi.events.emit import emit_change
from crmapi.http.context import Ctx
from crmapi.http.endpoint import Op
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec, id_filters, range_filters
from crmapi.resources import custom_values
from crmapi.resources.lookup import scoped_row
from crmapi.resources.render import listing, project
from crmapi.resources.users import user_names
from crmapi.storage import tables as t
from crmapi.util import dates, phones
from crmapi.util.ids import new_id

C = t.contact
FIELDS = FieldSet(
    (
        Field("lead_id", "id", update=False, error_key="lead"),
        Field("name", "str", max_length=1000),
        Field("title", "str", max_length=1000),
        Field("emails", "object_list", max_items=100, nullable=False),
        Field("phones", "object_list", max_items=100, nullable=False),
        Field("urls", "object_list", max_items=100, nullable=False),
    )
)

LIST = ListSpec(
    filters={
        **id_filters("lead_id"),
        **id_filters("id"),
        **range_filters("date_created"),
        **range_filters("date_updated"),
    },
    orderings={
        "date_created": OrderSpec("date_created"),
        "date_updated": OrderSpec("date_updated"),
    },
    default_order="date_created",
    max_limit=200,
)


def _item_str(item: dict[str, Any], key: str, label: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > 1000:
        raise FieldError(f"Each item needs a non-empty string {key!r} ({label}).")
    return value.strip()


def _type(item: dict[str, Any], default: str) -> str:
    kind = item.get("type", default)
    if not isinstance(kind, str) or len(kind) > 100:
        raise FieldError("type must be a string.")
    return kind or default


def normalize_lists(values: dict[str, Any]) -> None:
    """Emails, phones and urls as Close stores them (phones in E.164)."""
    errors: dict[str, str] = {}
    for key, convert in (("emails", _email), ("phones", _phone), ("urls", _url)):
        if key in values:
            try:
                values[key] = [convert(item) for item in values[key]]
            except FieldError as exc:
                errors[key] = str(exc)
    if errors:
        raise InvalidRequest(field_errors=errors)


def _email(item: dict[str, Any]) -> dict[str, Any]:
    address = _item_str(item, "email", "an email address")
    if "@" not in address:
        raise FieldError(f"{address[:100]!r} is not a valid email address.")
    return {"email": address, "type": _type(item, "office"), "is_unsubscribed": False}


def _phone(item: dict[str, Any]) -> dict[str, Any]:
    number = phones.normalize(_item_str(item, "phone", "a phone number"))
    return {**number, "type": _type(item, "office")}


def _url(item: dict[str, Any]) -> dict[str, Any]:
    return {"url": _item_str(item, "url", "a URL"), "type": _type(item, "url")}


def render(row: Any, names: dict[str, str]) -> dict[str, Any]:
    obj = {
        "id": row.id,
        "organization_id": row.organization_id,
        "lead_id": row.lead_id,
        "name": row.name,
        "title": row.title,
        "display_name": row.name or "",
        "emails": row.emails,
        "phones": row.phones,
        "urls": row.urls,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_by_name": names.get(row.created_by),
        "updated_by_name": names.get(row.updated_by),
        "date_created": row.date_created,
        "date_updated": row.date_updated,
        "integration_links": [],
    }
    obj.update(custom_values.render(row.custom))
    return obj


def render_rows(conn: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    names = user_names(conn, {u for r in rows for u in (r.created_by, r.updated_by)})
    return [render(r, names) for r in rows]


def for_leads(
    conn: Connection, org_id: str, lead_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every contact of a page of leads, in one query, grouped by lead."""
    rows = conn.execute(
        select(C)
        .where(C.c.organization_id == org_id, C.c.lead_id.in_(lead_ids))
        .order_by(C.c.date_created, C.c.id)
    ).all()
    out: dict[str, list[dict[str, Any]]] = {lead_id: [] for lead_id in lead_ids}
    for contact in render_rows(conn, rows):
        out[contact["lead_id"]].append(contact)
    return out


def get_row(conn: Connection, org_id: str, contact_id: str) -> Row[Any]:
    return scoped_row(conn, C, org_id, contact_id, "Contact")


def insert_contact(
    conn: Connection, org_id: str, user_id: str, lead_id: str, values: dict[str, Any], now: str
) -> str:
    """Store one validated contact on ``lead_id``; return its id."""
    normalize_lists(values)
    contact_id = new_id("cont")
    conn.execute(
        insert(C).values(
            id=contact_id,
            organization_id=org_id,
            lead_id=lead_id,
            name=values.get("name"),
            title=values.get("title"),
            emails=values.get("emails", []),
            phones=values.get("phones", []),
            urls=values.get("urls", []),
            custom=values.get("custom", {}),
            created_by=user_id,
            updated_by=user_id,
            date_created=now,
            date_updated=now,
        )
    )
    return contact_id


def validate(conn: Connection, org_id: str, body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating)
    custom = custom_values.validate(conn, org_id, "contact", body)
    if custom:
        # A new contact stores the merged values; an update merges them over the stored ones.
        values["custom"] = custom_values.merge(None, custom) if creating else custom
    return values


def emit_event(
    conn: Connection,
    ctx: Ctx,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    emit_change(conn, ctx, "contact", action, before, after)


def list_contacts(ctx: Ctx) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    with ctx.db.read() as conn:
        rows = conn.execute(qc.page(select(C), C, query, C.c.organization_id == ctx.org)).all()
        return listing(render_rows(conn, rows), query)


def get_contact(ctx: Ctx) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = get_row(conn, ctx.org, ctx.path_params["id"])
        return project(render_rows(conn, [row])[0], ctx.params)


def create_contact(ctx: Ctx) -> dict[str, Any]:
    from crmapi.resources import leads

    now = dates.now()
    with ctx.db.write() as conn:
        values = validate(conn, ctx.org, ctx.body, creating=True)
        lead_id = values.get("lead_id")
        if lead_id is None:
            # Close creates a lead named after the contact when no lead is given.
            lead_id = leads.insert_lead(conn, ctx, {"name": values.get("name")}, now)
            leads.emit_event(conn, ctx, "created", None, leads.render_one(conn, ctx.org, lead_id))
            lead_before = None
        elif not leads.exists(conn, ctx.org, lead_id):
            raise InvalidRequest(field_errors={"lead": "Object does not exist."})
        else:
            lead_before = leads.render_one(conn, ctx.org, lead_id)
        contact_id = insert_contact(conn, ctx.org, ctx.user_id, lead_id, values, now)
        leads.touch(conn, ctx.org, lead_id, ctx.user_id, now)
        created = render_rows(conn, [get_row(conn, ctx.org, contact_id)])[0]
        emit_event(conn, ctx, "created", None, created)
        if lead_before is not None:
            # The lead's contact_ids changed: Close reports that as lead.updated too.
            leads.emit_event(
                conn, ctx, "updated", lead_before, leads.render_one(conn, ctx.org, lead_id)
            )
        return project(created, ctx.params)


def update_contact(ctx: Ctx) -> dict[str, Any]:
    from crmapi.resources import leads

    now = dates.now()
    with ctx.db.write() as conn:
        row = get_row(conn, ctx.org, ctx.path_params["id"])
        before = render_rows(conn, [row])[0]
        values = validate(conn, ctx.org, ctx.body, creating=False)
        normalize_lists(values)
        if "custom" in values:
            values["custom"] = custom_values.merge(row.custom, values["custom"])
        conn.execute(
            update(C)
            .where(C.c.organization_id == ctx.org, C.c.id == row.id)
            .values(**values, updated_by=ctx.user_id, date_updated=now)
        )
        leads.touch(conn, ctx.org, row.lead_id, ctx.user_id, now)
        after = render_rows(conn, [get_row(conn, ctx.org, row.id)])[0]
        emit_event(conn, ctx, "updated", before, after)
        return project(after, ctx.params)


def delete_contact(ctx: Ctx) -> dict[str, Any]:
    from crmapi.activities import store
    from crmapi.resources import leads

    with ctx.db.write() as conn:
        row = get_row(conn, ctx.org, ctx.path_params["id"])
        before = render_rows(conn, [row])[0]
        lead_before = leads.render_one(conn, ctx.org, row.lead_id)
        # Activities stay on the lead; they just no longer name the contact.
        conn.execute(
            update(store.A)
            .where(store.A.c.organization_id == ctx.org, store.A.c.contact_id == row.id)
            .values(contact_id=None)
        )
        conn.execute(delete(C).where(C.c.organization_id == ctx.org, C.c.id == row.id))
        leads.touch(conn, ctx.org, row.lead_id, ctx.user_id, dates.now())
        emit_event(conn, ctx, "deleted", before, None)
        lead_after = leads.render_one(conn, ctx.org, row.lead_id)
        leads.emit_event(conn, ctx, "updated", lead_before, lead_after)
    return {}


ROUTES: list[tuple[str, dict[str, Op]]] = [
    (
        "/contact/",
        {
            "GET": Op(list_contacts, summary="List contacts", list_spec=LIST, fields=FIELDS),
            "POST": Op(create_contact, summary="Create a contact", fields=FIELDS),
        },
    ),
    (
        "/contact/{id}/",
        {
            "GET": Op(get_contact, summary="Get a contact", fields=FIELDS),
            "PUT": Op(update_contact, summary="Update a contact", fields=FIELDS),
            "DELETE": Op(delete_contact, summary="Delete a contact"),
        },
    ),
]
