"""A validated ``ListQuery`` becomes a portable SQLAlchemy ``select()``."""

from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, select

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
    from sqlalchemy import func

    return select(func.count()).select_from(table).where(and_(scope, *where(table, query)))
