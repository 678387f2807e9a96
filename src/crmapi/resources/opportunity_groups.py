"""``GET /opportunity/?_group_by=``: the list's page cut into groups (core.md §4.1).

Close pages objects, not groups: the page is the usual ``_skip``/``_limit`` window over the
matches ordered by group, then by ``_order_by`` within each group, so the first and last group
of a page may be cut off; a group's ``total_results`` and value sums cover every match of that
group, and ``key`` joins a group across pages. ``-`` before the grouping reverses the group
order only. Each grouping declares its key (an SQL expression, the same text on both
backends), the order of its groups, and the fields a group carries besides its key.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, Table, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from crmapi.storage import tables as t

Expr = Callable[[Table], ColumnElement[Any]]
GroupFields = Callable[[str | None, dict[str, Any]], dict[str, Any]]


class iso_week(FunctionElement[str]):
    """``2024-W05``: the ISO week year and week of a ``YYYY-MM-DD`` text."""

    type = String()
    inherit_cache = True


@compiles(iso_week, "sqlite")
def _iso_week_sqlite(element: iso_week, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    # The Thursday of the day's Monday-to-Sunday week carries its ISO year and week.
    thursday = f"date({day}, 'weekday 0', '-3 days')"
    week = f"(CAST(strftime('%j', {thursday}) AS INTEGER) - 1) / 7 + 1"
    return f"(strftime('%Y', {thursday}) || '-W' || substr('0' || ({week}), -2))"


@compiles(iso_week, "postgresql")
def _iso_week_postgresql(element: iso_week, compiler: SQLCompiler, **kw: Any) -> str:
    day = compiler.process(element.clauses, **kw)
    return f"to_char(CAST({day} AS DATE), 'IYYY-\"W\"IW')"


def _won(table: Table, length: int) -> ColumnElement[Any]:
    return func.substr(table.c.date_won, 1, length)


def _week(table: Table) -> ColumnElement[Any]:
    return iso_week(table.c.date_won)


def _month(table: Table) -> ColumnElement[Any]:
    return _won(table, 7)


def _year(table: Table) -> ColumnElement[Any]:
    return _won(table, 4)


def _quarter(table: Table) -> ColumnElement[Any]:
    month = cast(func.substr(table.c.date_won, 6, 2), Integer)
    return _won(table, 4) + "-Q" + cast((month + 2) // 3, String)


def _user_name(table: Table) -> ColumnElement[Any]:
    u = t.user
    full = func.coalesce(u.c.first_name, "") + " " + func.coalesce(u.c.last_name, "")
    return select(full).where(u.c.id == table.c.user_id).scalar_subquery()


def _date_fields(*names: str) -> GroupFields:
    """``year``/``month``/``quarter`` (or ``weekyear``/``week``) read back from the key."""

    def fields(key: str | None, first: dict[str, Any]) -> dict[str, Any]:
        parts = (key or "").replace("-Q", "-").replace("-W", "-").split("-")
        return {n: (int(parts[i]) if key else None) for i, n in enumerate(names)}

    return fields


def _user_fields(key: str | None, first: dict[str, Any]) -> dict[str, Any]:
    return {"user_id": key, "user_name": first.get("user_name")}


@dataclass(frozen=True)
class Grouping:
    key: Expr
    order: Expr  # what the groups are sorted by (then the key, for equal names)
    fields: GroupFields


GROUPINGS: dict[str, Grouping] = {
    # Close orders user groups by the user's full name.
    "user_id": Grouping(lambda o: o.c.user_id, _user_name, _user_fields),
    # Date groups sort by their key: ``2024-W05``, ``2024-03``, ``2024-Q1`` sort as time does.
    "date_won__week": Grouping(_week, _week, _date_fields("weekyear", "week")),
    "date_won__month": Grouping(_month, _month, _date_fields("year", "month")),
    "date_won__quarter": Grouping(_quarter, _quarter, _date_fields("year", "quarter")),
    "date_won__year": Grouping(_year, _year, _date_fields("year")),
}
CHOICES = (*GROUPINGS, *(f"-{name}" for name in GROUPINGS))


def parse(value: str) -> tuple[Grouping, bool]:
    """The grouping a ``_group_by`` value names, and whether its groups run backwards."""
    return GROUPINGS[value.lstrip("-")], value.startswith("-")


def groups(
    items: list[dict[str, Any]],
    keys: list[str | None],
    grouping: Grouping,
    totals: Callable[[str | None], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The page's objects (in page order, so each group's are adjacent) as Close's groups."""
    out: list[dict[str, Any]] = []
    for item, key in zip(items, keys, strict=True):
        if not out or out[-1]["key"] != key:
            out.append({"key": key, "objects": [], **grouping.fields(key, item), **totals(key)})
        out[-1]["objects"].append(item)
    return out
