"""Email templates (``/email_template/``, more.md §4.1, §4.3): predefined emails, rendered per
lead and contact by ``GET /email_template/{id}/render/`` and by emails created with a
``template_id``.

Close answers 200 on create and delete alike. ``subject`` and ``body`` may hold template tags
(``util/template_tags``); a tag that cannot be read is a 400 when written, never at send time.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec, ParamSpec
from crmapi.resources import bulk_selection, repository, template_context, template_render
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.render import project
from crmapi.resources.spec import Action, Operation, ResourceSpec
from crmapi.storage import tables as t

TEMPLATE = t.email_template
FIELDS = FieldSet(
    (
        Field("name", "str", required=True, nullable=False, max_length=255, blank=False),
        Field("subject", "str", required=True, nullable=False, max_length=1000),
        Field("body", "str", required=True, nullable=False, max_length=1_048_576),
        Field("is_shared", "bool", nullable=False),
        Field("is_archived", "bool", nullable=False),
        Field("attachments", "object_list", max_items=1000, nullable=False),
        Field("cc", "str_list", max_items=500, nullable=False),
        Field("bcc", "str_list", max_items=500, nullable=False),
        # Read-only: crmapi has no sequences, so no template is ever used by one.
        Field("used_by_sequences", "object_list", create=False, update=False),
    )
)
TAGGED = ("subject", "body")
LIST = ListSpec(
    filters={
        "is_archived": FilterSpec("is_archived", "eq", "bool"),
        "is_shared": FilterSpec("is_shared", "eq", "bool"),
    },
    orderings={"date_created": OrderSpec("date_created"), "name": OrderSpec("name")},
    default_order="date_created",
)
# Preview over a search (more.md §4.3): the n-th lead (mode=lead) or contact (mode=contact)
# among those with an email address; Close allows 0-99.
PREVIEW_LIMIT = 100
MODES = ("lead", "contact")
RENDER_PARAMS = {
    "lead_id": ParamSpec(description="The lead to render for (with contact_id)."),
    "contact_id": ParamSpec(description="One of the lead's contacts (with lead_id)."),
    "query": ParamSpec(description="A lead search: render for its entry-th result instead."),
    "entry": ParamSpec(
        "int", "Which result of query (0-based; default 0).", minimum=0, maximum=PREVIEW_LIMIT - 1
    ),
    "mode": ParamSpec(
        description="lead: each lead's first contact with an email; contact: every such contact.",
        choices=MODES,
    ),
}


def _attachment(item: dict[str, Any]) -> dict[str, Any]:
    return {"content_id": None, "inline_only": False, **item}


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "organization_id": r.organization_id,
            "name": r.name,
            "subject": r.subject,
            "body": r.body,
            "is_shared": r.is_shared,
            "is_archived": r.is_archived,
            "attachments": [_attachment(a) for a in r.attachments or ()],
            "cc": list(r.cc or ()),
            "bcc": list(r.bcc or ()),
            "used_by_sequences": [],
            "unsubscribe_link_id": None,
            "last_used_at": None,
            "last_used_by": None,
            "last_used_type": None,
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "date_created": r.date_created,
            "date_updated": r.date_updated,
        }
        for r in rows
    ]


def _values(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    values = FIELDS.validate(body, creating=creating)
    template_render.check_tags(values, TAGGED)
    return values


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = _values(body, creating=True)
    columns = {
        "name": values["name"],
        "subject": values["subject"],
        "body": values["body"],
        "is_shared": values.get("is_shared", False),
        "is_archived": values.get("is_archived", False),
        "attachments": values.get("attachments", []),
        "cc": values.get("cc", []),
        "bcc": values.get("bcc", []),
    }
    return repository.insert_row(conn, SPEC, ctx, columns)


def update_(conn: Connection, ctx: Actor, template_id: str, body: dict[str, Any]) -> dict[str, Any]:
    before = repository.render_one(conn, SPEC, ctx.org, template_id)
    return repository.update_row(conn, SPEC, ctx, before, _values(body, creating=False))


def remove(conn: Connection, ctx: Actor, template_id: str) -> None:
    # Emails created from it keep its id and name (as activities keep a deleted outcome's).
    repository.delete_row(conn, SPEC, ctx, template_id)


# --- render ----------------------------------------------------------------------------------


def _entry(params: dict[str, str]) -> int:
    raw = params.get("entry", "0")
    if not raw.isdigit() or int(raw) >= PREVIEW_LIMIT:
        raise InvalidRequest(field_errors={"entry": f"Must be between 0 and {PREVIEW_LIMIT - 1}."})
    return int(raw)


def _emailable(conn: Connection, org: str, lead_ids: list[str]) -> list[tuple[str, str]]:
    """(lead id, contact id) of every contact with an email, leads in search order."""
    c = t.contact
    rows = conn.execute(
        c.select()
        .with_only_columns(c.c.id, c.c.lead_id, c.c.emails)
        .where(c.c.organization_id == org, c.c.lead_id.in_(lead_ids))
        .order_by(c.c.date_created, c.c.id)
    ).all()
    by_lead: dict[str, list[str]] = {}
    for row in rows:
        if template_context.first_email(row.emails):
            by_lead.setdefault(row.lead_id, []).append(row.id)
    return [(lead, contact) for lead in lead_ids for contact in by_lead.get(lead, ())]


def _preview_target(conn: Connection, ctx: Call) -> tuple[str, str] | None:
    """The lead and contact the ``entry``-th result of the search names (None: past the end)."""
    params = ctx.params
    mode = params.get("mode", "lead")
    if mode not in MODES:
        raise InvalidRequest(field_errors={"mode": f"Must be one of {', '.join(MODES)}."})
    entry = _entry(params)
    search = bulk_selection.parse(conn, ctx.org, ctx.user_id, ctx.tz, {"query": params["query"]})
    lead_ids = bulk_selection.lead_ids(conn, ctx.org, search, ctx.tz, None)
    pairs = _emailable(conn, ctx.org, lead_ids)
    if mode == "lead":
        # The first contact with an email of each lead; leads without one are skipped.
        firsts: dict[str, str] = {}
        for lead, contact in pairs:
            firsts.setdefault(lead, contact)
        pairs = list(firsts.items())
    return pairs[entry] if entry < len(pairs) else None


def _single_target(params: dict[str, str]) -> tuple[str, str]:
    missing = {k: "This field is required." for k in ("lead_id", "contact_id") if not params.get(k)}
    if missing:
        raise InvalidRequest(field_errors=missing)
    return params["lead_id"], params["contact_id"]


def render_template(ctx: Call) -> dict[str, Any]:
    """``GET /email_template/{id}/render/``: for ``lead_id`` and ``contact_id``, or for the
    ``entry``-th result of a lead ``query`` (``{}`` past its end)."""
    with ctx.db.read() as conn:
        row = repository.get_row(conn, SPEC, ctx.org, ctx.path_params["id"])
        if ctx.params.get("query"):
            target = _preview_target(conn, ctx)
            if target is None:
                return {}
        else:
            target = _single_target(ctx.params)
        lead_id, contact_id = target
        context = template_context.build(conn, ctx.org, ctx.user_id, lead_id, contact_id)
    subject, body = template_render.subject_and_body(row, context)
    rendered = {
        "subject": subject,
        "body": body,
        "lead_id": lead_id,
        "lead_display_name": context["lead"]["display_name"],
        "contact_id": contact_id,
        "contact_display_name": context["contact"]["display_name"],
        "email": context["contact"]["email"] or None,
    }
    return project(rendered, ctx.params)


SPEC = ResourceSpec(
    name="email_template",
    path="/email_template/",
    model="EmailTemplate",
    table=TEMPLATE,
    id_prefix="tmpl",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="email_template",
    operations={
        "list": Operation(None, "List email templates"),
        "create": Operation(creating(create), "Create an email template"),
        "get": Operation(None, "Get an email template"),
        "update": Operation(updating(update_), "Update an email template"),
        "delete": Operation(deleting(remove), "Delete an email template"),
    },
    actions=(
        Action(
            "GET",
            "{id}/render/",
            Operation(
                render_template,
                "Render an email template for a lead and contact",
                params=RENDER_PARAMS,
            ),
        ),
    ),
    docs="https://developer.close.com/api/resources/email-templates",
)
