"""Organizations, users, memberships, API keys and access tokens (storage side)."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

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
    expires = datetime.now(UTC) + timedelta(seconds=expires_in)
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


def principal_for_key(conn: Connection, key: str) -> Principal | None:
    hashed = digest(key)
    row = conn.execute(
        select(
            t.api_key.c.id, t.api_key.c.organization_id, t.api_key.c.user_id, t.api_key.c.key_hash
        ).where(t.api_key.c.key_hash == hashed)
    ).first()
    # The index finds the row; the comparison itself is constant-time anyway.
    if row is None or not hmac.compare_digest(row.key_hash, hashed):
        return None
    return Principal(row.organization_id, row.user_id, api_key_id=row.id)


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    hashed = digest(token)
    row = conn.execute(select(t.access_token).where(t.access_token.c.token_hash == hashed)).first()
    if row is None or not hmac.compare_digest(row.token_hash, hashed):
        return None
    if row.expires_at <= dates.now():
        return None
    return Principal(row.organization_id, row.user_id, oauth_client_id="oa2client_crmapi")
