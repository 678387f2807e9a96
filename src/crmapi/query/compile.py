"""A validated ``ListQuery`` becomes a portable SQLAlchemy ``select()``."""

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from crmapi.query.model import Condition, ListQuery


def column(table: Table, name: str) -> ColumnElement[Any]:
    """A real column, or ``data.<key>`` for a field kept in the JSON document."""
    if name.startswith("data."):
        json_field: ColumnElement[Any] = table.c.data[name[5:]].as_string()
        return json_field
    col: ColumnElement[Any] = table.c[name]
    return col


def condition_sql(table: Table, condition: Condition) -> ColumnElement[bool]:
    spec = condition.spec
    values = list(condition.values)
    if spec.sql is not None:
        return spec.sql(table, values)
    col = column(table, spec.column)
    if spec.op == "in":
        return col == values[0] if len(values) == 1 else col.in_(values)
    value = values[0]
    ops = {
        "eq": col.__eq__,
        "gt": col.__gt__,
        "gte": col.__ge__,
        "lt": col.__lt__,
        "lte": col.__le__,
    }
    result: ColumnElement[bool] = ops[spec.op](value)
    return result


def where(table: Table, query: ListQuery) -> list[ColumnElement[bool]]:
    return [condition_sql(table, c) for c in query.conditions]


def page(
    stmt: Select[Any], table: Table, query: ListQuery, scope: ColumnElement[bool]
) -> Select[Any]:
    """Filter, order (ties broken by id, same direction) and slice one page plus one row.

    The extra row tells ``has_more`` exactly without a count.
    """
    order_col = column(table, query.order_column)
    id_col = table.c.id
    order = (
        (order_col.desc(), id_col.desc()) if query.descending else (order_col.asc(), id_col.asc())
    )
    return (
        stmt.where(and_(scope, *where(table, query)))
        .order_by(*order)
        .offset(query.skip)
        .limit(query.limit + 1)
    )


def count(table: Table, query: ListQuery, scope: ColumnElement[bool]) -> Select[Any]:
    return select(func.count()).select_from(table).where(and_(scope, *where(table, query)))


# --- Cached page statements ------------------------------------------------------------------
# Building a select() and its cache key costs more than running the query on a warm page, so
# hot lists keep one statement per *shape* (which filters, how many values, which order) with
# bound parameters, and pass this request's values at execution time.

_TEMPLATES: dict[Hashable, Select[Any]] = {}
_MAX_TEMPLATES = 512


def _shape(query: ListQuery) -> tuple[Any, ...]:
    parts: list[Any] = [query.order_column, query.descending]
    for c in query.conditions:
        # Custom SQL builders look at the values themselves: those values are the shape.
        parts.append((c.param, c.values) if c.spec.sql is not None else (c.param, len(c.values)))
    return tuple(parts)


def _bound_condition(table: Table, condition: Condition, index: int) -> ColumnElement[bool]:
    spec = condition.spec
    if spec.sql is not None:
        return spec.sql(table, list(condition.values))
    col = column(table, spec.column)
    names = [f"c{index}_{j}" for j in range(len(condition.values))]
    binds: list[BindParameter[Any]] = [bindparam(n) for n in names]
    if spec.op == "in":
        return col == binds[0] if len(binds) == 1 else col.in_(binds)
    ops = {
        "eq": col.__eq__,
        "gt": col.__gt__,
        "gte": col.__ge__,
        "lt": col.__lt__,
        "lte": col.__le__,
    }
    result: ColumnElement[bool] = ops[spec.op](binds[0])
    return result


def _after(
    order_col: ColumnElement[Any], id_col: ColumnElement[Any], descending: bool
) -> ColumnElement[bool]:
    """Rows after ``(after_key, after_id)`` in the page order. Spelled as a range on the sort
    key plus a tie test (not a row-value comparison) so both backends seek the index."""
    key: BindParameter[Any] = bindparam("after_key")
    after_id: BindParameter[Any] = bindparam("after_id")
    if descending:
        return and_(order_col <= key, or_(order_col < key, id_col < after_id))
    return and_(order_col >= key, or_(order_col > key, id_col > after_id))


def cached_page(
    key: Hashable,
    columns: Sequence[ColumnElement[Any]],
    table: Table,
    query: ListQuery,
    scope: Callable[[ColumnElement[Any]], ColumnElement[bool]],
    *,
    seek: bool = False,
) -> tuple[Select[Any], dict[str, Any]]:
    """``page()`` as a reusable statement plus this request's parameters.

    ``key`` names what the caller adds (columns and ``scope``, which receives the bound
    organization id); the same key must always mean the same columns and scope. With
    ``seek`` the page starts after the row bound as ``after_key``/``after_id`` (its sort
    key and id) instead of at an offset; the caller binds both and a ``skip`` of 0.
    """
    params: dict[str, Any] = {"skip": query.skip, "lim": query.limit + 1}
    for i, c in enumerate(query.conditions):
        if c.spec.sql is None:
            for j, value in enumerate(c.values):
                params[f"c{i}_{j}"] = value
    full_key = (key, seek, _shape(query))
    stmt = _TEMPLATES.get(full_key)
    if stmt is None:
        conditions = [_bound_condition(table, c, i) for i, c in enumerate(query.conditions)]
        order_col = column(table, query.order_column)
        id_col = table.c.id
        if seek:
            conditions.append(_after(order_col, id_col, query.descending))
        order = (
            (order_col.desc(), id_col.desc())
            if query.descending
            else (order_col.asc(), id_col.asc())
        )
        stmt = (
            select(*columns)
            .where(and_(scope(bindparam("org")), *conditions))
            .order_by(*order)
            .offset(bindparam("skip", type_=Integer))
            .limit(bindparam("lim", type_=Integer))
        )
        if len(_TEMPLATES) >= _MAX_TEMPLATES:
            _TEMPLATES.clear()
        _TEMPLATES[full_key] = stmt
    return stmt, params
