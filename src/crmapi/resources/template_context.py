"""What template tags can name (more.md §4.4): ``lead``, ``contact``, ``user`` (the sender:
the caller) and ``organization``, read straight from their rows.

Custom fields are keyed by name under ``custom`` (``{{ lead.custom.Budget }}``), as Close's
tooling writes them. Built from tables only: activity types render templates, and the lead
and contact modules import the activity types (no import cycle).
"""

from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.resources import custom_values
from crmapi.storage import tables as t

Context = dict[str, dict[str, Any]]


def _by_name(conn: Connection, org: str, object_type: str, stored: Any) -> dict[str, Any]:
    defs = custom_values.definitions(conn, org, object_type)
    values = dict(stored or {})
    return {d.name: values[d.id] for d in defs.values() if values.get(d.id) is not None}


def _first(items: Any, key: str) -> str | None:
    for item in items or ():
        if isinstance(item, dict) and item.get(key):
            return str(item[key])
    return None


def first_email(emails: Any) -> str | None:
    return _first(emails, "email")


def lead(conn: Connection, org: str, lead_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.lead).where(t.lead.c.organization_id == org, t.lead.c.id == lead_id)
    ).first()
    if row is None:
        return None
    status = conn.execute(
        select(t.lead_status.c.label).where(
            t.lead_status.c.organization_id == org, t.lead_status.c.id == row.status_id
        )
    ).scalar()
    return {
        "id": row.id,
        "name": row.name or "",
        "display_name": row.name or "Untitled",
        "description": row.description or "",
        "url": row.url or "",
        "status_label": status or "",
        "custom": _by_name(conn, org, "lead", row.custom),
    }


def contact(conn: Connection, org: str, contact_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(t.contact).where(t.contact.c.organization_id == org, t.contact.c.id == contact_id)
    ).first()
    if row is None:
        return None
    name = row.name or ""
    first, _, last = name.strip().partition(" ")
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "name": name,
        "display_name": name,
        "first_name": first,
        "last_name": last.strip(),
        "title": row.title or "",
        "email": first_email(row.emails) or "",
        "phone": _first(row.phones, "phone") or "",
        "custom": _by_name(conn, org, "contact", row.custom),
    }


def user(conn: Connection, user_id: str) -> dict[str, Any]:
    row = conn.execute(select(t.user).where(t.user.c.id == user_id)).first()
    if row is None:
        return {}
    first, last = row.first_name or "", row.last_name or ""
    return {
        "id": row.id,
        "first_name": first,
        "last_name": last,
        "full_name": " ".join(part for part in (first, last) if part),
        "email": row.email,
    }


def organization(conn: Connection, org: str) -> dict[str, Any]:
    name = conn.execute(select(t.organization.c.name).where(t.organization.c.id == org)).scalar()
    return {"id": org, "name": name or ""}


def build(
    conn: Connection, org: str, user_id: str, lead_id: str | None, contact_id: str | None
) -> Context:
    """The variables for one lead and (optionally) one of its contacts; a lead or contact the
    organization does not hold (or a contact of another lead) is a 400 on that key."""
    found_lead = lead(conn, org, lead_id) if lead_id else None
    if lead_id and found_lead is None:
        raise InvalidRequest(field_errors={"lead_id": DOES_NOT_EXIST})
    found_contact = contact(conn, org, contact_id) if contact_id else None
    if contact_id and (found_contact is None or (lead_id and found_contact["lead_id"] != lead_id)):
        raise InvalidRequest(field_errors={"contact_id": DOES_NOT_EXIST})
    return {
        "lead": found_lead or {},
        "contact": found_contact or {},
        "user": user(conn, user_id),
        "organization": organization(conn, org),
    }
