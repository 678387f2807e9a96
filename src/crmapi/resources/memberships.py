"""Memberships: ``DELETE /membership/{id}/`` deactivates one, as Close documents.

Deactivation takes effect with the member's next request, in every process: authorization
reads the membership on each request (``http/auth``), and keys and tokens of an inactive
member are refused. The organization keeps the member under ``inactive_memberships``.
"""

from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.context import Actor
from crmapi.domain.errors import APIError, InvalidRequest, object_not_found
from crmapi.events.emit import emit_change
from crmapi.resources import accounts
from crmapi.resources.handlers import deleting
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

# Close's "Manage Organization" permission belongs to the admin role.
MANAGERS = frozenset({"admin"})


class Forbidden(APIError):
    status = 403


def role_of(conn: Any, org_id: str, user_id: str) -> str | None:
    role: str | None = conn.execute(
        select(t.membership.c.role_id).where(
            t.membership.c.organization_id == org_id, t.membership.c.user_id == user_id
        )
    ).scalar()
    return role


def _render(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "organization_id": row.organization_id,
        "user_id": row.user_id,
        "role_id": row.role_id,
        "role": row.role_id,
        "is_active": bool(row.is_active),
        "date_created": row.date_created,
        "date_updated": row.date_updated,
    }


def _membership(conn: Any, org_id: str, membership_id: str) -> Any:
    return conn.execute(
        select(t.membership).where(
            t.membership.c.organization_id == org_id, t.membership.c.id == membership_id
        )
    ).first()


def deactivate(conn: Connection, ctx: Actor, membership_id: str) -> None:
    row = _membership(conn, ctx.org, membership_id)
    if row is None:
        raise object_not_found("Membership")
    if role_of(conn, ctx.org, ctx.user_id) not in MANAGERS:
        raise Forbidden("You need the Manage Organization permission to do this.")
    if row.user_id == ctx.user_id:
        raise InvalidRequest(["You cannot deactivate your own membership."])
    changed = accounts.set_membership_active(conn, ctx.org, False, membership_id=row.id)
    if changed["changed"]:
        after = _membership(conn, ctx.org, row.id)
        emit_change(conn, ctx, "membership", "deactivated", _render(row), _render(after))


SPEC = ResourceSpec(
    name="membership",
    path="/membership/",
    model="Membership",
    table=t.membership,
    id_prefix="memb",
    operations={
        "delete": Operation(
            deleting(deactivate), "Deactivate a membership (the member loses access)"
        ),
    },
    docs="https://developer.close.com/api/resources/memberships",
)
