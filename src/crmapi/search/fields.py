"""What each field of the tree is in SQL, per object type (declarations).

A field is an expression over the object's table (``FromClause``: an alias when nested) and a
*kind* telling the compiler which SQL a condition on it needs: ``plain`` columns compare
directly, ``day_or_moment`` columns hold a day or a moment, ``emails``/``phones``/``json_text``
are JSON documents. Counts and "last ..." dates are correlated subqueries on the lead's rows,
each served by an ``(organization_id, lead_id, ...)`` index.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, Table, func, select

from crmapi.storage import tables as t

FieldKind = Literal[
    "plain", "bool", "day_or_moment", "emails", "phones", "json_text", "json_list", "json_length"
]
Expr = Callable[[FromClause], ColumnElement[Any]]

# Object types and the table holding them; activity.<x> also needs a type test (below).
TABLES: dict[str, Table] = {
    "lead": t.lead,
    "contact": t.contact,
    "opportunity": t.opportunity,
    "task": t.task,
    "activity": t.activity,
}
# What a bare word searches, per object type: the columns it is a substring of (JSON
# columns are searched as their text). Contact phones also match by digits (compile.py).
FULL_TEXT: dict[str, tuple[str, ...]] = {
    "lead": ("name", "description", "url"),
    "contact": ("name", "title", "emails"),
    "opportunity": ("note",),
    "task": ("text",),
    "activity": ("data",),
}
JSON_COLUMNS = frozenset({"emails", "phones", "data"})


def full_text_columns(object_type: str) -> tuple[str, ...]:
    return FULL_TEXT["activity" if object_type.startswith("activity") else object_type]


ACTIVITY_TYPES = {
    "activity.call": "Call",
    "activity.email": "Email",
    "activity.note": "Note",
    "activity.sms": "SMS",
    "activity.meeting": "Meeting",
}


def table_of(object_type: str) -> Table:
    return TABLES["activity" if object_type.startswith("activity") else object_type]


def type_test(object_type: str, table: FromClause) -> list[ColumnElement[bool]]:
    """The ``_type`` test an ``activity.<x>`` object type adds (none for the others)."""
    name = ACTIVITY_TYPES.get(object_type)
    return [table.c.type == name] if name else []


@dataclass(frozen=True)
class FieldSql:
    expr: Expr
    kind: FieldKind = "plain"
    nullable: bool = False  # sorts put nulls first on both backends
    counts: str | None = None  # the child object type a count field counts


def col(name: str, kind: FieldKind = "plain", nullable: bool = False) -> FieldSql:
    return FieldSql(lambda table: table.c[name], kind, nullable)


def _children(object_type: str, lead: FromClause) -> Any:
    child = table_of(object_type).alias()
    return child, [
        child.c.organization_id == lead.c.organization_id,
        child.c.lead_id == lead.c.id,
        *type_test(object_type, child),
    ]


def count_of(object_type: str) -> FieldSql:
    def expr(lead: FromClause) -> ColumnElement[Any]:
        child, join = _children(object_type, lead)
        return select(func.count()).select_from(child).where(*join).scalar_subquery()

    return FieldSql(expr, counts=object_type)


def last_of(object_type: str) -> FieldSql:
    def expr(lead: FromClause) -> ColumnElement[Any]:
        child, join = _children(object_type, lead)
        return select(func.max(child.c.date_created)).where(*join).scalar_subquery()

    return FieldSql(expr, nullable=True)


def _opportunity_status_type(opp: FromClause) -> ColumnElement[Any]:
    s = t.opportunity_status
    return (
        select(s.c.type)
        .where(s.c.organization_id == opp.c.organization_id, s.c.id == opp.c.status_id)
        .scalar_subquery()
    )


_AUDIT = {
    "id": col("id"),
    "date_created": col("date_created"),
    "date_updated": col("date_updated"),
    "created_by": col("created_by"),
    "updated_by": col("updated_by"),
}

FIELDS: dict[str, dict[str, FieldSql]] = {
    "lead": {
        **_AUDIT,
        "name": col("name", nullable=True),
        "description": col("description", nullable=True),
        "url": col("url", nullable=True),
        "status_id": col("status_id"),
        "addresses": col("addresses", "json_text"),
        "num_addresses": col("addresses", "json_length"),
        "num_contacts": count_of("contact"),
        "num_opportunities": count_of("opportunity"),
        "num_tasks": count_of("task"),
        "num_activities": count_of("activity"),
        **{f"num_{n}s": count_of(f"activity.{n}") for n in ("call", "email", "note", "meeting")},
        "num_sms": count_of("activity.sms"),
        "last_call_date": last_of("activity.call"),
        "last_email_date": last_of("activity.email"),
        "last_activity_date": last_of("activity"),
    },
    "contact": {
        **_AUDIT,
        "name": col("name", nullable=True),
        "title": col("title", nullable=True),
        "email": col("emails", "emails"),
        "phone": col("phones", "phones"),
        "urls": col("urls", "json_text"),
    },
    "opportunity": {
        **_AUDIT,
        "status_id": col("status_id"),
        "status_type": FieldSql(_opportunity_status_type),
        "user_id": col("user_id", nullable=True),
        "value": col("value", nullable=True),
        "confidence": col("confidence"),
        "value_period": col("value_period"),
        "note": col("note", nullable=True),
        "date_won": col("date_won", "day_or_moment", nullable=True),
    },
    "task": {
        **_AUDIT,
        "date": col("date", "day_or_moment", nullable=True),
        "due_date": col("due_date", "day_or_moment", nullable=True),
        "assigned_to": col("assigned_to", nullable=True),
        "text": col("text", nullable=True),
        "is_complete": col("is_complete", "bool"),
    },
    "activity": {
        **_AUDIT,
        "user_id": col("user_id", nullable=True),
    },
}


def field_sql(object_type: str, name: str) -> FieldSql:
    """The declaration of ``name`` on ``object_type``; custom fields are ``custom.<cf_id>``."""
    family = "activity" if object_type.startswith("activity") else object_type
    if name.startswith("custom."):
        cf_id = name[7:]
        return FieldSql(lambda table: table.c.custom[cf_id], "json_list", nullable=True)
    found = FIELDS.get(family, {}).get(name)
    if found is None:
        raise KeyError(f"{object_type}.{name}")
    return found
