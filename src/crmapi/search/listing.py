"""The text language on existing lists: ``GET /lead/?query=`` and ``lead_query`` on opportunities.

Order of work (more.md §1.10): filter, sort (``sort:``, else the list's ``_order_by``; ties by
id), slice, then ``_skip``/``_limit``; ``total_results`` counts after slicing, before paging.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, Table, and_, func, select

from crmapi.domain.errors import InvalidRequest
from crmapi.query import compile as qc
from crmapi.query.model import Condition, FilterSpec, ListQuery, SqlBuilder
from crmapi.search import parser
from crmapi.search.compile import Compiler
from crmapi.search.env import Env
from crmapi.search.errors import SearchSyntaxError, invalid_query
from crmapi.search.tree import FieldRef, MatchAll, Node, Search, SortKey
from crmapi.storage import tables as t
from crmapi.util import dates

L = t.lead


def _unresolved(table: Any, values: list[Any]) -> ColumnElement[bool]:
    # Reaching this means a list forgot to hand its search parameter to this module: fail
    # loudly rather than answer as if the parameter had not been sent.
    raise RuntimeError("a search parameter was not compiled by crmapi.search")


# The declaration of a search parameter in a ListSpec (``query``, ``lead_query``).
SEARCH_PARAM = FilterSpec("id", "eq", "str", sql=_unresolved, max_length=parser.MAX_LENGTH)


def parse_text(
    conn: Connection, org_id: str, user_id: str, tz: float, text: str, param: str
) -> Search:
    """Parse a query parameter; a syntax error is Close's 400 naming ``param``."""
    try:
        return parser.parse(text, Env(conn, org_id, user_id, tz))
    except SearchSyntaxError as exc:
        raise invalid_query(exc, text, param) from None


@dataclass(frozen=True)
class LeadPage:
    total: int
    rows: Sequence[Row[Any]]


def leads_page(
    conn: Connection, org_id: str, user_id: str, tz: float, query: ListQuery
) -> LeadPage:
    """One page of ``GET /lead/`` with its ``query`` applied (absent: every lead)."""
    count, page = lead_statements(conn, org_id, user_id, tz, query)
    total = int(conn.execute(count).scalar_one())
    return LeadPage(total, conn.execute(page).all())


def lead_statements(
    conn: Connection, org_id: str, user_id: str, tz: float, query: ListQuery
) -> tuple[Select[Any], Select[Any]]:
    """The two statements of a lead page: ``total_results`` and the page (one extra row)."""
    text = query.params.get("query") or ""
    search = parse_text(conn, org_id, user_id, tz, text, "query")
    compiler = Compiler(conn.dialect.name, dates.now(), tz, org_id)
    keys = search.sort or (SortKey(FieldRef("lead", query.order_column), query.descending),)
    order = compiler.order(keys, L)
    plain = [qc.condition_sql(L, c) for c in query.conditions if c.param != "query"]
    scope = and_(L.c.organization_id == org_id, *plain, compiler.where(search.query, "lead", L))
    if search.slice is not None:
        scope = and_(L.c.organization_id == org_id, L.c.id.in_(_slice_ids(search, scope, order)))
    count = select(func.count()).select_from(L).where(scope)
    page = select(L).where(scope).order_by(*order).offset(query.skip).limit(query.limit + 1)
    return count, page


def _slice_ids(
    search: Search, scope: ColumnElement[bool], order: list[ColumnElement[Any]]
) -> Select[Any]:
    """Ids at positions ``p`` (0-based, in the sorted result of ``total``) with
    ``floor(p * n / total) == i - 1``: n disjoint parts whose union is the result."""
    assert search.slice is not None
    i, n = search.slice.index, search.slice.count
    ranked = (
        select(
            L.c.id,
            (func.row_number().over(order_by=order) - 1).label("p"),
            func.count().over().label("total"),
        )
        .where(scope)
        .subquery()
    )
    return select(ranked.c.id).where(
        ranked.c.p * n >= (i - 1) * ranked.c.total, ranked.c.p * n < i * ranked.c.total
    )


def with_lead_query(
    conn: Connection, org_id: str, user_id: str, tz: float, query: ListQuery
) -> ListQuery:
    """``lead_query`` and ``lead_saved_search_id`` on a list of lead children
    (opportunities): the condition becomes ``lead_id IN (leads matching)``, so the list's own
    count, sums and page apply it."""
    conditions = []
    for condition in query.conditions:
        if condition.param not in LEAD_SEARCHES:
            conditions.append(condition)
            continue
        value = str(condition.values[0])
        node = LEAD_SEARCHES[condition.param](conn, org_id, user_id, tz, value)
        compiler = Compiler(conn.dialect.name, dates.now(), tz, org_id)
        matching = select(L.c.id).where(
            L.c.organization_id == org_id, compiler.where(node, "lead", L)
        )
        spec = replace(condition.spec, sql=_lead_in(matching))
        conditions.append(Condition(condition.param, spec, condition.values))
    return replace(query, conditions=tuple(conditions))


def _lead_query(conn: Connection, org_id: str, user_id: str, tz: float, text: str) -> Node:
    search = parse_text(conn, org_id, user_id, tz, text, "lead_query")
    if search.slice is not None or search.sort:
        raise InvalidRequest(
            field_errors={"lead_query": "sort: and slice: apply to lead lists only."}
        )
    return search.query


def _lead_view(conn: Connection, org_id: str, user_id: str, tz: float, view_id: str) -> Node:
    """The leads a smart view matches (by id only: the parameter names an id); an empty
    value is an absent one, as an empty ``lead_query`` is."""
    if not view_id.strip():
        return MatchAll()
    try:
        return parser.view_query(Env(conn, org_id, user_id, tz), view_id, "lead", 0, by_name=False)
    except SearchSyntaxError as exc:
        message = f"Invalid lead_saved_search_id: {exc.reason}."
        raise InvalidRequest([message], {"lead_saved_search_id": message}) from None


# The lead-search parameters of lead children's lists, and the query each one means.
LEAD_SEARCHES = {"lead_query": _lead_query, "lead_saved_search_id": _lead_view}


def _lead_in(matching: Select[Any]) -> SqlBuilder:
    def sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
        return table.c.lead_id.in_(matching)

    return sql
