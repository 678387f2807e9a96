"""What an export's file holds (more.md §9.4): the API's own objects, rendered by the same
functions the API answers with, then written as Close writes them.

JSON is one array of documents; a ``leads`` document is the lead as ``GET /lead/{id}/``
renders it, with every task of the lead (the API embeds only the open ones), ``custom`` keyed
by field name (Close's export and restore scripts read it so) and, when asked, its
activities. CSV flattens each document into columns (nested lists numbered: ``contact1_name``,
``contact1_email1``, ``address1_city``) with dates in the requested ``date_format``.
"""

import base64
import csv
import gzip
import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import orjson
from sqlalchemy import Connection, select

from crmapi.activities import store
from crmapi.resources import contact_rows as contacts
from crmapi.resources import custom_values, leads, opportunities, tasks
from crmapi.storage import tables as t
from crmapi.util import dates

Doc = dict[str, Any]
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv"}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)$")


def _in_order(rows: Sequence[Any], ids: Sequence[str]) -> list[Any]:
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def _rows(conn: Connection, table: Any, org: str, ids: Sequence[str]) -> list[Any]:
    found = conn.execute(
        select(table).where(table.c.organization_id == org, table.c.id.in_(list(ids)))
    ).all()
    return _in_order(found, ids)


def _children(conn: Connection, table: Any, org: str, lead_ids: Sequence[str]) -> list[Any]:
    return list(
        conn.execute(
            select(table)
            .where(table.c.organization_id == org, table.c.lead_id.in_(list(lead_ids)))
            .order_by(table.c.date_created, table.c.id)
        ).all()
    )


def _by_lead(items: list[Doc]) -> dict[str, list[Doc]]:
    out: dict[str, list[Doc]] = {}
    for item in items:
        out.setdefault(item["lead_id"], []).append(item)
    return out


def _activities(conn: Connection, org: str, lead_ids: Sequence[str]) -> dict[str, list[Doc]]:
    A = store.A
    rows = conn.execute(
        select(*store.COLUMNS)
        .where(store.scope(org), A.c.lead_id.in_(list(lead_ids)))
        .order_by(A.c.activity_at.desc(), A.c.id.desc())
    ).all()
    return _by_lead(store.render_rows(conn, rows))


def custom_by_name(conn: Connection, org: str, object_type: str, obj: Doc) -> dict[str, Any]:
    """``{"Field Name": value}`` from an object's ``custom.<id>`` keys."""
    names = {d.id: d.name for d in custom_values.definitions(conn, org, object_type).values()}
    prefix = custom_values.PREFIX
    return {
        names[k[len(prefix) :]]: v
        for k, v in obj.items()
        if k.startswith(prefix) and k[len(prefix) :] in names
    }


def lead_docs(
    conn: Connection, org: str, lead_ids: Sequence[str], include_activities: bool
) -> list[Doc]:
    rows = _rows(conn, t.lead, org, lead_ids)
    out = leads.render_rows(conn, org, rows)
    every_task = _by_lead(tasks.render_rows(conn, org, _children(conn, t.task, org, lead_ids)))
    feed = _activities(conn, org, lead_ids) if include_activities else {}
    for doc in out:
        doc["tasks"] = every_task.get(doc["id"], [])
        doc["custom"] = custom_by_name(conn, org, "lead", doc)
        if include_activities:
            doc["activities"] = feed.get(doc["id"], [])
    return out


def contact_docs(conn: Connection, org: str, lead_ids: Sequence[str], _: bool) -> list[Doc]:
    names = {r.id: r.name for r in _rows(conn, t.lead, org, lead_ids)}
    by_lead = contacts.for_leads(conn, org, list(lead_ids))
    return [
        {**contact, "lead_name": names.get(lead_id)}
        for lead_id in lead_ids
        for contact in by_lead.get(lead_id, [])
    ]


def lead_opp_docs(conn: Connection, org: str, lead_ids: Sequence[str], _: bool) -> list[Doc]:
    rows = _children(conn, t.opportunity, org, lead_ids)
    grouped = _by_lead(opportunities.render_rows(conn, org, rows))
    return [opp for lead_id in lead_ids for opp in grouped.get(lead_id, [])]


def opp_docs(conn: Connection, org: str, opp_ids: Sequence[str], _: bool) -> list[Doc]:
    return opportunities.render_rows(conn, org, _rows(conn, t.opportunity, org, opp_ids))


# Export type -> the documents of one batch of the selection (lead ids; opportunity ids).
BUILDERS: dict[str, Callable[[Connection, str, Sequence[str], bool], list[Doc]]] = {
    "leads": lead_docs,
    "contacts": contact_docs,
    "lead_opps": lead_opp_docs,
    "opps": opp_docs,
}


def project(doc: Doc, fields: Sequence[str] | None) -> Doc:
    """Only the named keys (as ``_fields``: an unknown name is simply absent)."""
    if fields is None:
        return doc
    return {k: doc[k] for k in fields if k in doc}


# --- CSV -------------------------------------------------------------------------------------


def _singular(name: str) -> str:
    if name.endswith("sses"):  # addresses
        return name[:-2]
    return name[:-1] if name.endswith("s") else name


def flatten(doc: Doc, prefix: str = "") -> list[tuple[str, Any]]:
    """A document as ``(column, value)`` pairs: nested objects joined with ``_``, list items
    numbered from 1 (``emails`` -> ``email1``, its ``email`` key the column itself)."""
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, f"{name}.") if key == "custom" else flatten(value, f"{name}_")
        elif isinstance(value, list):
            item_name = f"{prefix}{_singular(key)}"
            for i, item in enumerate(value, 1):
                out += _item(item, f"{item_name}{i}", _singular(key))
        else:
            out.append((name, value))
    return out


def _item(item: Any, column: str, own_key: str) -> list[tuple[str, Any]]:
    if not isinstance(item, dict):
        return [(column, item)]
    if own_key in item and not isinstance(item[own_key], dict | list):
        rest = {k: v for k, v in item.items() if k != own_key}
        return [(column, item[own_key]), *flatten(rest, f"{column}_")]
    return flatten(item, f"{column}_")


def _date(value: str, date_format: str) -> str:
    moment = dates.to_datetime(value).astimezone(UTC)
    if date_format == "iso8601":
        return moment.replace(microsecond=0).isoformat()
    if date_format == "excel":
        return moment.strftime("%Y-%m-%d %I:%M:%S %p")
    return moment.isoformat(sep=" ", timespec="microseconds")


def cell(value: Any, date_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _DATETIME.match(value):
        return _date(value, date_format)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def csv_text(rows: list[list[tuple[str, Any]]], date_format: str) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        for column, _ in row:
            columns.setdefault(column, None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        values = dict(row)
        writer.writerow([cell(values.get(c), date_format) for c in columns])
    return out.getvalue()


# --- the file --------------------------------------------------------------------------------


def part_body(docs: list[Doc], file_format: str) -> str:
    """One batch as stored until the file is assembled (text, so key order survives JSONB)."""
    if file_format == "csv":
        return orjson.dumps([flatten(doc) for doc in docs]).decode()
    return ",\n".join(orjson.dumps(doc).decode() for doc in docs)


def assemble(parts: list[str], file_format: str, date_format: str) -> bytes:
    """The whole file, gzipped."""
    if file_format == "csv":
        rows = [[(c, v) for c, v in row] for part in parts for row in orjson.loads(part)]
        text = csv_text(rows, date_format)
    else:
        text = "[\n" + ",\n".join(p for p in parts if p) + "\n]\n"
    return gzip.compress(text.encode(), mtime=0)


def encode(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def decode(stored: str) -> bytes:
    return base64.b64decode(stored)
