"""Webhook subscriptions (``/webhook/``): create, list, read, update (pause/resume), delete."""

import re
import secrets
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from crmapi.domain.context import Call, Reply
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.domain.fields import Field, FieldSet
from crmapi.events import filters, urlpolicy
from crmapi.events.webhook_access import is_admin, require_manager
from crmapi.query.model import UNPAGED
from crmapi.resources.render import project
from crmapi.resources.spec import Operation
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

W = t.webhook

MAX_SUBSCRIPTIONS = 40

# Close's list of event types: object types seen in the event log and the actions they carry.
OBJECT_TYPES = frozenset(
    {
        "lead",
        "contact",
        "opportunity",
        "lead_merge",
        "unsubscribed_email",
        "import",
        "custom_activity_type",
        "custom_object_type",
        "custom_object",
        "membership",
        "group",
        "saved_search",
        "phone_number",
        "email_template",
        "sms_template",
        "sequence",
        "sequence_subscription",
        "comment",
        "comment_thread",
        "outcome",
    }
)
OBJECT_TYPE_FAMILIES = re.compile(
    r"^(activity|task|bulk_action|custom_fields|export|status)\.[a-z][a-z_]{0,60}$"
)
ACTIONS = frozenset(
    {
        "created",
        "updated",
        "deleted",
        "merged",
        "completed",
        "sent",
        "answered",
        "scheduled",
        "started",
        "canceled",
        "activated",
        "deactivated",
        "paused",
        "reverting",
        "reverted",
    }
)

FIELDS = FieldSet(
    (
        Field("url", "str", required=True, nullable=False, max_length=2000),
        Field("events", "object_list", required=True, nullable=False, max_items=200),
        Field("verify_ssl", "bool", nullable=False),
        Field("status", "enum", choices=("active", "paused"), create=False, nullable=False),
    )
)


def _check_url(ctx: Call, url: str) -> str:
    """Syntax in every mode; the destination's address per the mode (events/urlpolicy.py)."""
    try:
        urlpolicy.UrlPolicy.from_settings(ctx.settings).check_url(url)
    except urlpolicy.UrlRefused as exc:
        raise InvalidRequest(field_errors={"url": str(exc)}) from None
    return url


def _check_event(item: dict[str, Any], i: int) -> dict[str, Any]:
    object_type, action = item.get("object_type"), item.get("action")
    where = f"events[{i}]"
    if not isinstance(object_type, str) or not (
        object_type in OBJECT_TYPES or OBJECT_TYPE_FAMILIES.match(object_type)
    ):
        raise InvalidRequest(
            field_errors={"events": f"{where}: unknown object_type {object_type!r}."}
        )
    if action not in ACTIONS:
        raise InvalidRequest(field_errors={"events": f"{where}: unknown action {action!r}."})
    out: dict[str, Any] = {"object_type": object_type, "action": action}
    extra = item.get("extra_filter")
    if extra is not None:
        try:
            filters.validate(extra, f"{where}.extra_filter")
        except filters.FilterError as exc:
            raise InvalidRequest(field_errors={"events": str(exc)}) from None
        out["extra_filter"] = extra
    return out


def _check_events(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise InvalidRequest(field_errors={"events": "Subscribe to at least one event."})
    return [_check_event(item, i) for i, item in enumerate(items)]


def render(row: Row[Any]) -> dict[str, Any]:
    failing_since = row.failing_since
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events,
        "status": row.status,
        "verify_ssl": row.verify_ssl,
        "signature_key": row.signature_key,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "date_created": row.date_created,
        "date_updated": row.date_updated,
        "counters": {},
        "health_status": "healthy" if failing_since is None else "failing",
        "latest_error": row.latest_error,
        "pause_reason": row.pause_reason,
        # Whole hours the current run of failures has lasted (Close counts failing buckets).
        "recent_consecutive_fail_buckets_cnt": _hours_since(failing_since),
    }


def _hours_since(moment: str | None) -> int:
    if moment is None:
        return 0
    elapsed = dates.to_datetime(dates.now()) - dates.to_datetime(moment)
    return max(1, int(elapsed.total_seconds() // 3600) + 1)


def _get_row(conn: Connection, org: str, webhook_id: str) -> Row[Any]:
    row = conn.execute(select(W).where(W.c.organization_id == org, W.c.id == webhook_id)).first()
    if row is None:
        raise object_not_found("WebhookSubscription")
    return row


def _managed_row(conn: Connection, ctx: Call) -> Row[Any]:
    """The subscription of the path, if the caller may manage it (404 first, then 403)."""
    row = _get_row(conn, ctx.org, ctx.path_params["id"])
    require_manager(row, ctx.user_id, is_admin(conn, ctx.org, ctx.user_id))
    return row


def list_webhooks(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        stmt = select(W).where(W.c.organization_id == ctx.org)
        if not is_admin(conn, ctx.org, ctx.user_id):
            stmt = stmt.where(W.c.created_by == ctx.user_id)
        rows = conn.execute(stmt.order_by(W.c.date_created, W.c.id)).all()
    return {"data": [project(render(r), ctx.params) for r in rows], "has_more": False}


def get_webhook(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return project(render(_managed_row(conn, ctx)), ctx.params)


def create_webhook(ctx: Call) -> Reply:
    values = FIELDS.validate(ctx.body, creating=True)
    url = _check_url(ctx, values["url"])
    events = _check_events(values["events"])
    now = dates.now()
    webhook_id = new_id("whsub")
    with ctx.db.write() as conn:
        count = conn.execute(
            select(func.count()).select_from(W).where(W.c.organization_id == ctx.org)
        ).scalar_one()
        if count >= MAX_SUBSCRIPTIONS:
            raise InvalidRequest(
                [f"An organization can have at most {MAX_SUBSCRIPTIONS} webhook subscriptions."]
            )
        conn.execute(
            insert(W).values(
                id=webhook_id,
                organization_id=ctx.org,
                url=url,
                events=events,
                status="active",
                verify_ssl=values.get("verify_ssl", True),
                # 32 random bytes, hex: receivers use bytes.fromhex(signature_key) as HMAC key.
                signature_key=secrets.token_hex(32),
                created_by=ctx.user_id,
                updated_by=ctx.user_id,
                date_created=now,
                date_updated=now,
            )
        )
        created = render(_get_row(conn, ctx.org, webhook_id))
    return Reply(
        project(created, ctx.params), {"Location": f"{ctx.path.rstrip('/')}/{webhook_id}/"}
    )


def update_webhook(ctx: Call) -> dict[str, Any]:
    with ctx.db.read() as conn:
        # Unknown (or another organization's) id first: 404 whatever the body holds; then
        # another member's subscription: 403.
        _managed_row(conn, ctx)
    values = FIELDS.validate(ctx.body, creating=False)
    changes: dict[str, Any] = {}
    if "url" in values:  # may resolve a name (production): outside the write transaction
        changes["url"] = _check_url(ctx, values["url"])
    if "events" in values:
        changes["events"] = _check_events(values["events"])
    if "verify_ssl" in values:
        changes["verify_ssl"] = values["verify_ssl"]
    with ctx.db.write() as conn:
        row = _managed_row(conn, ctx)
        status = values.get("status")
        if status == "paused" and row.status != "paused":
            changes.update(status="paused", pause_reason="api")
        elif status == "active" and row.status != "active":
            # Re-activation starts a fresh health record (Close's "reactivate through the API").
            changes.update(status="active", pause_reason=None, failing_since=None)
        conn.execute(
            update(W)
            .where(W.c.organization_id == ctx.org, W.c.id == row.id)
            .values(**changes, updated_by=ctx.user_id, date_updated=dates.now())
        )
        return project(render(_get_row(conn, ctx.org, row.id)), ctx.params)


def delete_webhook(ctx: Call) -> dict[str, Any]:
    D = t.webhook_delivery
    with ctx.db.write() as conn:
        row = _managed_row(conn, ctx)
        conn.execute(delete(D).where(D.c.organization_id == ctx.org, D.c.webhook_id == row.id))
        conn.execute(delete(W).where(W.c.organization_id == ctx.org, W.c.id == row.id))
    return {}


ROUTES: list[tuple[str, dict[str, Operation]]] = [
    (
        "/webhook/",
        {
            "GET": Operation(
                list_webhooks,
                summary="List webhook subscriptions",
                list_spec=UNPAGED,
                fields=FIELDS,
            ),
            "POST": Operation(create_webhook, "Subscribe a webhook", 201, fields=FIELDS),
        },
    ),
    (
        "/webhook/{id}/",
        {
            "GET": Operation(get_webhook, summary="Get a webhook subscription", fields=FIELDS),
            "PUT": Operation(
                update_webhook, summary="Update (pause, resume) a webhook", fields=FIELDS
            ),
            "DELETE": Operation(delete_webhook, summary="Delete a webhook subscription"),
        },
    ),
]
