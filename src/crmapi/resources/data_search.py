"""Advanced Filtering (``POST /data/search/``, more.md §1.9): an ``s_query``'s matches, paged.

The same tree a smart view stores (``search/stored.py``) compiled by the same compiler, on
leads, contacts or opportunities. A hit is ``{"__object_type", "id"}`` plus the fields
``_fields`` asks for that object type (rendered as the resource's own API renders them).
The cursor is opaque to clients: the offset of the next page, at most ``MAX_RESULTS`` deep
(Close's per-cursor cap); the order is the query's ``sort``, else newest update first.
"""

import base64
import binascii
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, select

from crmapi.domain.context import Call
from crmapi.domain.errors import InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.resources import contacts, leads, opportunities
from crmapi.resources.spec import Action, Operation, ResourceSpec
from crmapi.search import fields as search_fields
from crmapi.search import stored
from crmapi.search.compile import Compiler
from crmapi.search.tree import FieldRef, Search, SortKey
from crmapi.util import dates

MAX_RESULTS = 10_000
MAX_LIMIT = 200
# The object types a search may select, and the resource rendering their hits' fields.
SEARCHABLE: dict[str, ResourceSpec] = {
    "lead": leads.SPEC,
    "contact": contacts.SPEC,
    "opportunity": opportunities.SPEC,
}
FIELDS = FieldSet(
    (
        Field("query", "object", required=True, nullable=False),
        Field("sort", "object_list", max_items=10),
        Field("results_limit", "int", minimum=1, maximum=MAX_RESULTS),
        Field("_limit", "int", minimum=1, maximum=MAX_LIMIT),
        Field("cursor", "str", max_length=200),
        Field("_fields", "object"),
        Field("include_counts", "bool"),
    )
)


def _invalid(field: str, reason: str) -> InvalidRequest:
    message = f"Invalid query: {reason}."
    return InvalidRequest([message], {field: message})


def _search(body: dict[str, Any]) -> Search:
    try:
        search = stored.load({"query": body["query"], "sort": body.get("sort")})
    except stored.StoredQueryError as exc:
        raise _invalid("query", str(exc)) from None
    if search.object_type not in SEARCHABLE:
        raise _invalid("query", f"object_type must be one of {', '.join(SEARCHABLE)}")
    return search


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidRequest(field_errors={"cursor": "Invalid cursor."}) from None
    if not isinstance(offset, int) or not 0 < offset < MAX_RESULTS:
        raise InvalidRequest(field_errors={"cursor": "Invalid cursor."})
    return offset


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def _wanted(body: dict[str, Any], object_type: str) -> list[str]:
    names = (body.get("_fields") or {}).get(object_type) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidRequest(field_errors={"_fields": "Send {object_type: [field names]}."})
    return [n for n in names if n not in ("id", "__object_type")]


def run(conn: Connection, ctx: Call, body: dict[str, Any]) -> dict[str, Any]:
    search = _search(body)
    object_type, offset = search.object_type, _offset(body.get("cursor"))
    spec = SEARCHABLE[object_type]
    table = search_fields.table_of(object_type)
    compiler = Compiler(conn.dialect.name, dates.now(), ctx.tz, ctx.org)
    try:
        scope = and_(
            table.c.organization_id == ctx.org, compiler.where(search.query, object_type, table)
        )
        keys = search.sort or (SortKey(FieldRef(object_type, "date_updated"), True),)
        order = compiler.order(keys, table)
    except (KeyError, ValueError) as exc:  # a field of another object type at the top
        raise _invalid("query", f"cannot search {object_type} by {exc}") from None
    cap = min(body.get("results_limit") or MAX_RESULTS, MAX_RESULTS)
    limit = min(body.get("_limit") or MAX_LIMIT, max(cap - offset, 0))
    rows = conn.execute(select(table).where(scope).order_by(*order).offset(offset).limit(limit))
    rows_list = rows.all()
    wanted = _wanted(body, object_type)
    rendered = spec.render(conn, ctx.org, rows_list, ctx.tz) if wanted and spec.render else []
    data = [
        {"__object_type": object_type, "id": r.id, **_pick(rendered, i, wanted)}
        for i, r in enumerate(rows_list)
    ]
    following = offset + len(rows_list)
    more = len(rows_list) == limit and following < cap and _exists_at(conn, table, scope, following)
    out: dict[str, Any] = {"data": data, "cursor": _cursor(following) if more else None}
    if body.get("include_counts"):
        total = int(conn.execute(select(func.count()).select_from(table).where(scope)).scalar_one())
        out["count"] = {"total": total, "limited": min(total, cap)}
    return out


def _pick(rendered: list[dict[str, Any]], i: int, wanted: list[str]) -> dict[str, Any]:
    if not rendered:
        return {}
    return {k: rendered[i][k] for k in wanted if k in rendered[i]}


def _exists_at(conn: Connection, table: Any, scope: Any, offset: int) -> bool:
    found = conn.execute(select(table.c.id).where(scope).offset(offset).limit(1)).first()
    return found is not None


def search(ctx: Call) -> dict[str, Any]:
    body = FIELDS.validate(ctx.body, creating=True)
    with ctx.db.read() as conn:
        return run(conn, ctx, body)


SPEC = ResourceSpec(
    name="data_search",
    path="/data/search/",
    model="Search",
    actions=(
        Action(
            "POST",
            "",
            Operation(
                search,
                "Search leads, contacts or opportunities (Advanced Filtering)",
                fields=FIELDS,
            ),
        ),
    ),
    docs="https://developer.close.com/api/resources/advanced-filtering",
)
