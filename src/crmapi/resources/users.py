"""Users, ``/me/`` and organizations: who the caller is and who else is in the organization."""

from typing import Any

from sqlalchemy import Connection, select

from crmapi.domain.context import Call
from crmapi.domain.errors import object_not_found
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import statuses
from crmapi.resources.render import listing, project
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "$", "AUD": "$"}

USER_LIST = ListSpec(
    filters={},
    orderings={
        "date_created": OrderSpec("date_created"),
        "first_name": OrderSpec("first_name"),
        "last_name": OrderSpec("last_name"),
    },
    default_order="date_created",
    # Airbyte's users stream asks for ``_limit=1000`` (clients.md); Close answers it.
    max_limit=1000,
)


def full_name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def user_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Display names for a page's worth of user ids, in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = conn.execute(
        select(t.user.c.id, t.user.c.first_name, t.user.c.last_name).where(t.user.c.id.in_(ids))
    )
    return {r.id: full_name(r.first_name, r.last_name) for r in rows}


def is_member(conn: Connection, org_id: str, user_id: str) -> bool:
    return (
        conn.execute(
            select(t.membership.c.id).where(
                t.membership.c.organization_id == org_id, t.membership.c.user_id == user_id
            )
        ).first()
        is not None
    )


def render_user(row: Any, organizations: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "image": None,
        "date_created": row.date_created,
        "date_updated": row.date_updated,
        "organizations": organizations,
    }


def _members_query(org_id: str) -> Any:
    return (
        select(
            t.user,
            t.membership.c.id.label("membership_id"),
            t.membership.c.role_id,
            t.membership.c.is_active,
            t.membership.c.date_created.label("member_since"),
        )
        .join(t.membership, t.membership.c.user_id == t.user.c.id)
        .where(t.membership.c.organization_id == org_id)
    )


def list_users(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, USER_LIST, ctx.tz)
    col = t.user.c[query.order_column]
    stmt = (
        _members_query(ctx.org)
        .order_by(col.desc() if query.descending else col.asc(), t.user.c.id)
        .offset(query.skip)
        .limit(query.limit + 1)
    )
    with ctx.db.read() as conn:
        rows = conn.execute(stmt).all()
        # Only the caller's organization, as on /me/: a shared user's other organizations
        # are not this organization's business.
        items = [render_user(r, [ctx.org]) for r in rows]
    return listing(items, query)


def get_user(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = conn.execute(
            _members_query(ctx.org).where(t.user.c.id == ctx.path_params["id"])
        ).first()
        if row is None:
            raise object_not_found("User")
        return project(render_user(row, [ctx.org]), ctx.params)


def _membership(row: Any, org_id: str) -> dict[str, Any]:
    return {
        "id": row.membership_id,
        "organization_id": org_id,
        "user_id": row.id,
        "user_email": row.email,
        "user_first_name": row.first_name,
        "user_last_name": row.last_name,
        "user_full_name": full_name(row.first_name, row.last_name),
        "user_phone": None,
        "role_id": row.role_id,
        "role": row.role_id,
        "date_created": row.member_since,
    }


def render_organization(conn: Connection, org_id: str) -> dict[str, Any]:
    org = conn.execute(select(t.organization).where(t.organization.c.id == org_id)).first()
    if org is None:
        raise object_not_found("Organization")
    members = conn.execute(_members_query(org_id).order_by(t.membership.c.date_created)).all()
    return {
        "id": org.id,
        "name": org.name,
        "currency": org.currency,
        "currency_symbol": CURRENCY_SYMBOLS.get(org.currency, org.currency),
        "created_by": org.created_by,
        "updated_by": org.updated_by,
        "date_created": org.date_created,
        "date_updated": org.date_updated,
        "lead_statuses": [
            {"id": s["id"], "label": s["label"]} for s in statuses.lead_statuses(conn, org_id)
        ],
        "pipelines": statuses.pipelines(conn, org_id),
        "memberships": [_membership(m, org_id) for m in members if m.is_active],
        "inactive_memberships": [_membership(m, org_id) for m in members if not m.is_active],
    }


def get_organization(ctx: Call) -> dict[str, Any]:
    if ctx.path_params["id"] != ctx.org:
        raise object_not_found("Organization")
    with ctx.db.read() as conn:
        return project(render_organization(conn, ctx.org), ctx.params)


def me(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        row = conn.execute(select(t.user).where(t.user.c.id == ctx.user_id)).first()
        if row is None:
            raise object_not_found("User")
        # Only the caller's organization is shown: a key reaches just that one.
        organization = render_organization(conn, ctx.org)
        body = render_user(row, [ctx.org])
        body.update(
            {
                "last_used_timezone": None,
                "email_accounts": [],
                "phone_numbers": [],
                "organizations": [organization],
                "memberships": [m for m in organization["memberships"] if m["user_id"] == row.id],
            }
        )
    return project(body, ctx.params)


ME = ResourceSpec(
    name="me",
    path="/me/",
    model="User",
    operations={"show": Operation(me, "The caller, with its organization")},
    docs="https://developer.close.com/api/resources/users",
)

USER = ResourceSpec(
    name="user",
    path="/user/",
    model="User",
    table=t.user,
    id_prefix="user",
    list_spec=USER_LIST,
    operations={
        "list": Operation(list_users, "List users"),
        "get": Operation(get_user, "Get a user"),
    },
    docs="https://developer.close.com/api/resources/users",
)

ORGANIZATION = ResourceSpec(
    name="organization",
    path="/organization/",
    model="Organization",
    table=t.organization,
    id_prefix="orga",
    operations={"get": Operation(get_organization, "Get the organization")},
    docs="https://developer.close.com/api/resources/organizations",
)
