"""Which leads a bulk action works on: its search (core.md §15, more.md §10.1).

A job is selected by an Advanced Filtering ``s_query`` with ``sort`` and ``results_limit``, or
by the legacy text ``query`` (which may carry its own ``sort:``). Both parse into the one
search tree (``crmapi.search``) and compile to one SQL statement; the ids are read once, when
the job loads, so a job works on the leads that matched when it started.
"""

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, select

from crmapi.domain.errors import InvalidRequest
from crmapi.search import listing, stored
from crmapi.search.compile import Compiler
from crmapi.search.tree import FieldRef, Search, SortKey
from crmapi.storage import tables as t
from crmapi.util import dates

L = t.lead
# Close's default order of a lead search (more.md §11 row 1).
DEFAULT_SORT = (SortKey(FieldRef("lead", "date_updated"), True),)
RESULTS_LIMIT_MAX = 1_000_000


def parse(conn: Connection, org: str, user_id: str, tz: float, body: dict[str, Any]) -> Search:
    """The job's search; a missing or malformed one is Close's 400 naming the field."""
    s_query, text = body.get("s_query"), body.get("query")
    if s_query is None and text in (None, ""):
        # A job over every lead must say so (a match-all s_query): never by omission.
        raise InvalidRequest(field_errors={"s_query": "This field is required."})
    if s_query is not None:
        try:
            search = stored.load({"query": s_query, "sort": body.get("sort")})
        except stored.StoredQueryError as exc:
            raise InvalidRequest(field_errors={"s_query": f"Invalid query: {exc}."}) from None
        if search.object_type != "lead":
            raise InvalidRequest(field_errors={"s_query": "Bulk actions select leads."})
        return search
    if not isinstance(text, str):
        raise InvalidRequest(field_errors={"query": "Must be a string."})
    search = listing.parse_text(conn, org, user_id, tz, text, "query")
    if body.get("sort") and not search.sort:
        # The job's ``sort`` orders a text query too, unless the text has its own ``sort:``.
        search = replace(search, sort=_sort(body["sort"]))
    if search.slice is not None:
        # slice: splits a listing between clients; a job is one client over its selection.
        raise InvalidRequest(field_errors={"query": "slice: applies to lead lists only."})
    return search


def _sort(sort: Any) -> tuple[SortKey, ...]:
    everything = {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]}
    try:
        return stored.load({"query": everything, "sort": sort}).sort
    except stored.StoredQueryError as exc:
        raise InvalidRequest(field_errors={"sort": f"Invalid sort: {exc}."}) from None


def results_limit(body: dict[str, Any]) -> int | None:
    value = body.get("results_limit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= RESULTS_LIMIT_MAX:
        raise InvalidRequest(
            field_errors={"results_limit": f"Must be between 1 and {RESULTS_LIMIT_MAX}."}
        )
    return value


def lead_ids(conn: Connection, org: str, search: Search, tz: float, limit: int | None) -> list[str]:
    """The matching lead ids in the search's order (ties by id), at most ``limit``."""
    compiler = Compiler(conn.dialect.name, dates.now(), tz, org)
    order = compiler.order(search.sort or DEFAULT_SORT, L)
    scope = and_(L.c.organization_id == org, compiler.where(search.query, "lead", L))
    stmt = select(L.c.id).where(scope).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [str(row[0]) for row in conn.execute(stmt)]
