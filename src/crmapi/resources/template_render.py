"""Rendering a template for one lead and contact (more.md §4.3-4.5): the render endpoint, and
emails and SMS created with a ``template_id`` and no body.

A template's ``body`` is one string, HTML or plain text. In an HTML body the values are
HTML-escaped (a contact named ``<b>`` stays text); an email's ``body_text``/``body_html`` pair
is derived from the rendered body the way a written email's is.
"""

import html
import re
from typing import Any

from sqlalchemy import Connection, Row, Table, select

from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.resources import template_context
from crmapi.storage import tables as t
from crmapi.util import richtext, template_tags

_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")


def check_tags(values: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Every tag in the written text fields must be a variable (400 on that field)."""
    errors = {}
    for key in keys:
        if isinstance(values.get(key), str):
            try:
                template_tags.check(values[key])
            except template_tags.TemplateSyntaxError as exc:
                errors[key] = str(exc)
    if errors:
        raise InvalidRequest(field_errors=errors)


def is_html(body: str) -> bool:
    return _HTML.search(body) is not None


def template_row(conn: Connection, table: Table, org: str, template_id: str) -> Row[Any] | None:
    return conn.execute(
        select(table).where(table.c.organization_id == org, table.c.id == template_id)
    ).first()


def _used_template(conn: Connection, table: Table, org: str, template_id: str) -> Row[Any]:
    """The template an activity names: one of the organization's, else Close's 400."""
    row = template_row(conn, table, org, template_id)
    if row is None:
        raise InvalidRequest(field_errors={"template_id": DOES_NOT_EXIST})
    return row


def subject_and_body(row: Row[Any], context: template_context.Context) -> tuple[str, str]:
    escape = html.escape if is_html(row.body) else None
    return (
        template_tags.render(row.subject, context),
        template_tags.render(row.body, context, escape),
    )


def fill_email(
    conn: Connection, org: str, user_id: str, obj: dict[str, Any], sent: dict[str, Any]
) -> None:
    """An email naming ``template_id`` without a body gets the template rendered for its lead
    and contact (subject too, unless it was sent); the template's name goes with it."""
    template_id = sent.get("template_id")
    if not template_id:
        return
    row = _used_template(conn, t.email_template, org, template_id)
    obj["template_name"] = row.name
    if sent.get("body_text") or sent.get("body_html"):
        return
    context = template_context.build(conn, org, user_id, obj.get("lead_id"), obj.get("contact_id"))
    subject, body = subject_and_body(row, context)
    if not sent.get("subject"):
        obj["subject"] = subject
    if is_html(body):
        obj["body_html"] = richtext.wrap_body(body)
        obj["body_text"] = richtext.to_text(obj["body_html"])
    else:
        obj["body_text"] = body
        obj["body_html"] = richtext.to_html(body)


def fill_sms(
    conn: Connection, org: str, user_id: str, obj: dict[str, Any], sent: dict[str, Any]
) -> None:
    """An SMS naming ``template_id`` without ``text`` gets the template's text rendered."""
    template_id = sent.get("template_id")
    if not template_id:
        return
    row = _used_template(conn, t.sms_template, org, template_id)
    if sent.get("text"):
        return
    context = template_context.build(conn, org, user_id, obj.get("lead_id"), obj.get("contact_id"))
    obj["text"] = template_tags.render(row.text, context)
