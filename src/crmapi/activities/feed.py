"""``GET /activity/``: every type in one list, exactly as Close's seed page defines it."""

import functools
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Table, or_

from crmapi.activities import store
from crmapi.activities.base import SINGLE_LEAD, SINGLE_LEAD_REASON, feed_list_spec
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Call
from crmapi.query import grammar
from crmapi.query.model import FilterSpec, ModeSpec
from crmapi.resources.render import listing

CUSTOM = "Custom"  # in _type filters: custom activities of any type
THREAD_MODES = ("only", "true")


def _check_type(value: str) -> str:
    if value in BY_TYPE or value == CUSTOM or value.startswith("actitype_"):
        return value
    raise ValueError(
        f"Unknown activity type {value[:60]!r}. Use one of {', '.join(sorted(BY_TYPE))}, "
        "Custom, or a custom activity type id (actitype_...)."
    )


def _type_sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
    names = [v for v in values if v in BY_TYPE]
    if CUSTOM in values:
        names.append("CustomActivity")
    type_ids = [v for v in values if v.startswith("actitype_")]
    clauses = []
    if names:
        clauses.append(table.c.type.in_(names))
    if type_ids:
        clauses.append(table.c.custom_activity_type_id.in_(type_ids))
    return or_(*clauses)


_TYPE = FilterSpec(
    "type",
    "in",
    "str",
    multi=True,
    requires=SINGLE_LEAD,
    requires_reason=SINGLE_LEAD_REASON,
    check=_check_type,
    # Comma-separated type names, Custom, or custom activity type ids (what _check_type takes).
    pattern="^{one}(,{one})*$".format(
        one="\\s*(" + "|".join([*sorted(BY_TYPE), CUSTOM, "actitype_[A-Za-z0-9]+"]) + ")\\s*"
    ),
    sql=_type_sql,
)
FEED = replace(
    feed_list_spec({"_type": _TYPE, "_type__in": _TYPE}),
    modes={
        "thread_emails": ModeSpec(
            THREAD_MODES,
            "true: EmailThread items besides emails (stripped down); only: threads instead.",
        )
    },
)


def _thread_mode(params: dict[str, str]) -> str | None:
    """``thread_emails`` (checked by the grammar against ``FEED.modes``): None, true or only."""
    mode = (params.get("thread_emails") or "").strip().lower()
    return mode or None


@functools.cache
def _thread_scope(mode: str | None) -> tuple[tuple[ColumnElement[bool], ...], frozenset[str]]:
    """Which types the feed shows, and which are shown stripped down, for each mode.

    Cached: the registry is fixed at import, and callers only read the result."""
    hidden = [s.type for s in BY_TYPE.values() if not s.in_default_feed]
    if mode is None:
        return (store.A.c.type.not_in(hidden),), frozenset()
    if mode == "only":
        return (store.A.c.type != "Email",), frozenset()
    return (), frozenset({"Email"})


def list_feed(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, FEED, ctx.tz)
    mode = _thread_mode(ctx.params)
    extra, preview = _thread_scope(mode)
    with ctx.db.read() as conn:
        rows = store.fetch_page(conn, ctx.org, query, extra, extra_key=("feed", mode))
        items = store.page_items(conn, rows, query.fields, preview)
    return listing(items, query)
