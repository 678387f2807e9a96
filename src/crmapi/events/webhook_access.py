"""Who may see and manage which webhook subscription.

Close: "Admins manage all subscriptions; other users manage only their own." A member who is
not an admin lists and reads only the subscriptions they created (so never another user's
``signature_key`` or URL) and gets a 403 on anyone else's.
"""

from typing import Any

from sqlalchemy import Connection, Row, select

from crmapi.domain.errors import APIError
from crmapi.storage import tables as t

ADMIN_ROLES = frozenset({"admin"})
M = t.membership


class Forbidden(APIError):
    """403 ``{"error": ...}``: the caller is known but their role does not allow this."""

    status = 403


FORBIDDEN = "You don't have permission to manage this webhook subscription."


def is_admin(conn: Connection, organization_id: str, user_id: str) -> bool:
    role = conn.execute(
        select(M.c.role_id).where(
            M.c.organization_id == organization_id,
            M.c.user_id == user_id,
            M.c.is_active.is_(True),
        )
    ).scalar()
    return role in ADMIN_ROLES


def require_manager(row: Row[Any], user_id: str, admin: bool) -> None:
    """Raise 403 unless the caller may see and change this subscription."""
    if not (admin or row.created_by == user_id):
        raise Forbidden(FORBIDDEN)
