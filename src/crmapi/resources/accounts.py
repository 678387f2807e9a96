"""Organizations, users, memberships, API keys and access tokens (storage side)."""

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from crmapi.domain import clock
from crmapi.domain.context import Principal
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id, new_secret

DEFAULT_LEAD_STATUSES = ("Potential", "Bad Fit", "Qualified", "Customer")
DEFAULT_PIPELINE = ("Sales", (("Active", "active"), ("Won", "won"), ("Lost", "lost")))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def create_organization(
    conn: Connection, name: str, email: str, **user: str | None
) -> dict[str, str]:
    """A new organization with Close's default statuses, its first user (admin) and a key."""
    now = dates.now()
    org_id = new_id("orga")
    user_id = ensure_user(conn, email, user.get("first_name"), user.get("last_name"))
    conn.execute(
        insert(t.organization).values(
            id=org_id,
            name=name,
            currency="USD",
            created_by=user_id,
            updated_by=user_id,
            date_created=now,
            date_updated=now,
        )
    )
    _add_membership(conn, org_id, user_id, "admin")
    _default_statuses(conn, org_id, user_id, now)
    return {
        "organization_id": org_id,
        "user_id": user_id,
        "api_key": create_api_key(conn, org_id, user_id),
    }


def _default_statuses(conn: Connection, org_id: str, user_id: str, now: str) -> None:
    audit = {"created_by": user_id, "updated_by": user_id, "date_created": now, "date_updated": now}
    conn.execute(
        insert(t.lead_status),
        [
            {
                "id": new_id("stat"),
                "organization_id": org_id,
                "label": label,
                "color": None,
                "position": i,
                **audit,
            }
            for i, label in enumerate(DEFAULT_LEAD_STATUSES)
        ],
    )
    name, statuses = DEFAULT_PIPELINE
    pipe_id = new_id("pipe")
    conn.execute(
        insert(t.pipeline).values(
            id=pipe_id, organization_id=org_id, name=name, position=0, **audit
        )
    )
    conn.execute(
        insert(t.opportunity_status),
        [
            {
                "id": new_id("stat"),
                "organization_id": org_id,
                "pipeline_id": pipe_id,
                "label": label,
                "type": kind,
                "position": i,
                **audit,
            }
            for i, (label, kind) in enumerate(statuses)
        ],
    )


def ensure_user(conn: Connection, email: str, first_name: str | None, last_name: str | None) -> str:
    """The user with this email, created if new (a user may belong to several organizations)."""
    existing = conn.execute(select(t.user.c.id).where(t.user.c.email == email.lower())).scalar()
    if existing is not None:
        return str(existing)
    now = dates.now()
    user_id = new_id("user")
    if first_name is None and last_name is None:
        first_name = email.split("@")[0].replace(".", " ").title()
    conn.execute(
        insert(t.user).values(
            id=user_id,
            email=email.lower(),
            first_name=first_name or "",
            last_name=last_name or "",
            date_created=now,
            date_updated=now,
        )
    )
    return user_id


def _add_membership(conn: Connection, org_id: str, user_id: str, role_id: str) -> str:
    now = dates.now()
    membership_id = new_id("memb")
    conn.execute(
        insert(t.membership).values(
            id=membership_id,
            organization_id=org_id,
            user_id=user_id,
            role_id=role_id,
            is_active=True,
            date_created=now,
            date_updated=now,
        )
    )
    return membership_id


def add_user(
    conn: Connection,
    org_id: str,
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
) -> dict[str, str]:
    """Add a user (a membership) to an organization and give it an API key."""
    if (
        conn.execute(select(t.organization.c.id).where(t.organization.c.id == org_id)).scalar()
        is None
    ):
        raise LookupError(f"No organization {org_id}")
    user_id = ensure_user(conn, email, first_name, last_name)
    member = conn.execute(
        select(t.membership.c.id).where(
            t.membership.c.organization_id == org_id, t.membership.c.user_id == user_id
        )
    ).scalar()
    if member is None:
        _add_membership(conn, org_id, user_id, "user")
    return {"user_id": user_id, "api_key": create_api_key(conn, org_id, user_id)}


def create_api_key(conn: Connection, org_id: str, user_id: str) -> str:
    key = new_secret("api")
    conn.execute(
        insert(t.api_key).values(
            id=new_id("apikey"),
            organization_id=org_id,
            user_id=user_id,
            key_hash=digest(key),
            date_created=dates.now(),
        )
    )
    return key


def create_access_token(
    conn: Connection, org_id: str, user_id: str, expires_in: int
) -> dict[str, Any]:
    """An OAuth-style bearer token for a member of ``org_id``."""
    _require_member(conn, org_id, user_id)
    token = new_secret("tok", 48)
    expires = dates.to_datetime(dates.now()) + timedelta(seconds=expires_in)
    conn.execute(
        insert(t.access_token).values(
            id=new_id("oa2token"),
            organization_id=org_id,
            user_id=user_id,
            token_hash=digest(token),
            expires_at=dates.canonical(expires),
            date_created=dates.now(),
        )
    )
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "organization_id": org_id,
        "user_id": user_id,
    }


def _require_member(conn: Connection, org_id: str, user_id: str) -> None:
    found = conn.execute(
        select(t.membership.c.id).where(
            t.membership.c.organization_id == org_id,
            t.membership.c.user_id == user_id,
            t.membership.c.is_active.is_(True),
        )
    ).scalar()
    if found is None:
        raise LookupError(f"User {user_id} is not a member of organization {org_id}")


def _with_clock(table: Any) -> Any:
    # The organization's test clock comes with the credential: no extra query per request.
    return table.outerjoin(clock.E, clock.E.c.organization_id == table.c.organization_id)


def _active_member(user_id: Any, org_id: Any) -> Any:
    """A deactivated member's keys and tokens stop working with its membership."""
    return (
        select(t.membership.c.id)
        .where(
            t.membership.c.organization_id == org_id,
            t.membership.c.user_id == user_id,
            t.membership.c.is_active.is_(True),
        )
        .exists()
    )


# Runs on every request (nothing authorizes from memory), so it runs as plain SQL on the
# driver's cursor: building, compiling and executing the equivalent select() through
# SQLAlchemy cost ~8x the query itself (as for feed pages, activities/store._driver_rows).
_KEY_SQL = (
    "SELECT k.id, k.organization_id, k.user_id, k.key_hash, "
    "e.clock_mode, e.clock_offset_seconds, e.clock_frozen_at, e.id_seed FROM api_key k "
    "JOIN membership m ON m.organization_id = k.organization_id AND m.user_id = k.user_id "
    "AND m.is_active "
    # The organization's test clock comes with the credential: no extra query per request.
    "LEFT JOIN emulator_org e ON e.organization_id = k.organization_id "
    "WHERE k.key_hash = {}"
)


def principal_for_key(conn: Connection, key: str) -> Principal | None:
    hashed = digest(key)
    if not conn.in_transaction():
        conn.begin()  # the request's read snapshot, shared with its handler's queries
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        row = driver.execute(_KEY_SQL.format("?"), (hashed,)).fetchone()
    else:
        with driver.cursor() as cursor:
            row = cursor.execute(_KEY_SQL.format("%s"), (hashed,)).fetchone()
    # The index finds the row; the comparison itself is constant-time anyway.
    if row is None or not hmac.compare_digest(row[3], hashed):
        return None
    org_clock = clock.from_row(*row[4:])
    return Principal(row[1], row[2], api_key_id=row[0], clock=org_clock)


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    hashed = digest(token)
    a = t.access_token
    row = conn.execute(
        select(a.c.organization_id, a.c.user_id, a.c.token_hash, a.c.expires_at, *clock.COLUMNS)
        .select_from(_with_clock(a))
        .where(a.c.token_hash == hashed, _active_member(a.c.user_id, a.c.organization_id))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, hashed):
        return None
    org_clock = clock.from_row(*row[4:])
    # Expiry is judged on the organization's clock: advancing it expires tokens.
    if row.expires_at <= clock.now_for(org_clock):
        return None
    return Principal(
        row.organization_id, row.user_id, oauth_client_id="oa2client_crmapi", clock=org_clock
    )


def list_api_keys(conn: Connection, org_id: str) -> list[dict[str, Any]]:
    """The organization's keys (ids and owners; the secrets are not stored)."""
    rows = conn.execute(
        select(t.api_key.c.id, t.api_key.c.user_id, t.api_key.c.date_created)
        .where(t.api_key.c.organization_id == org_id)
        .order_by(t.api_key.c.date_created, t.api_key.c.id)
    )
    return [{"id": r.id, "user_id": r.user_id, "date_created": r.date_created} for r in rows]


def revoke_api_key(conn: Connection, key_or_id: str) -> dict[str, str]:
    """Delete a key, named by its id (``apikey_...``) or by the key itself; it stops working
    with the next request (authorization always reads the database)."""
    row = conn.execute(
        select(t.api_key.c.id, t.api_key.c.organization_id, t.api_key.c.user_id).where(
            or_(t.api_key.c.id == key_or_id, t.api_key.c.key_hash == digest(key_or_id))
        )
    ).first()
    if row is None:
        raise LookupError("No such API key")
    conn.execute(
        delete(t.api_key).where(
            t.api_key.c.organization_id == row.organization_id, t.api_key.c.id == row.id
        )
    )
    return {"id": row.id, "organization_id": row.organization_id, "user_id": row.user_id}


def set_membership_active(
    conn: Connection,
    org_id: str,
    active: bool,
    *,
    user_id: str | None = None,
    membership_id: str | None = None,
) -> dict[str, Any]:
    """Activate or deactivate a membership (by user or by membership id) of ``org_id``.

    Returns the membership row's ids and whether anything changed; LookupError if unknown.
    """
    found = conn.execute(
        select(t.membership.c.id, t.membership.c.user_id, t.membership.c.is_active).where(
            t.membership.c.organization_id == org_id,
            t.membership.c.user_id == user_id if user_id else t.membership.c.id == membership_id,
        )
    ).first()
    if found is None:
        raise LookupError(f"No such member of organization {org_id}")
    changed = bool(found.is_active) != active
    if changed:
        conn.execute(
            update(t.membership)
            .where(t.membership.c.organization_id == org_id, t.membership.c.id == found.id)
            .values(is_active=active, date_updated=dates.now())
        )
    return {"id": found.id, "user_id": found.user_id, "changed": changed}
