"""Declarations for list parameters that are not a plain column test.

- ``exact_date``: ``date_created=2024-01-05`` is that whole day (in the caller's zone),
  ``date_created=2024-01-05T10:00`` that minute, a value with a fraction that instant: the
  precision rule of the search language (``search/moments.py``).
- ``constant``: a parameter whose answer is the same for every row here (``is_stalled``:
  no opportunity is ever stalled on this server).
- ``refused``: a parameter Close documents that this server cannot answer yet: a 400 naming
  it, never a silently unfiltered list.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, false, true

from crmapi.query.model import FilterSpec
from crmapi.search import moments
from crmapi.search.tree import Fixed
from crmapi.util import dates

ColumnOf = Callable[[Table, str], ColumnElement[Any]]
# A regular expression no string matches (ECMA 262 and Python alike).
NOTHING = "(?!)"


def _plain(table: Table, column: str) -> ColumnElement[Any]:
    col: ColumnElement[Any] = table.c[column]
    return col


def exact_date(column: str, expr: ColumnOf = _plain) -> FilterSpec:
    def check(text: str) -> tuple[str, str]:
        span = moments.span(text, 0.0)
        if not isinstance(span.start, Fixed):
            raise ValueError(f"{text[:50]!r} is not a date or a datetime.")
        start = span.start.value
        # An instant (a value with a fraction of a second) matches itself only.
        end = span.end.value if isinstance(span.end, Fixed) else dates.shift(start, microseconds=1)
        return (start, end)

    def sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
        start, end = values[0]
        value = expr(table, column)
        return and_(value >= start, value < end)

    # Checks take no zone: naive values are UTC here; values with an offset carry their own.
    # The document states the plain forms (a day, a datetime); the relative words the search
    # language also reads ("today", "3 days ago") are accepted beyond it.
    return FilterSpec(column, "eq", "str", check=check, sql=sql, pattern=dates.PATTERN)


def constant(matches_when_true: bool) -> FilterSpec:
    def sql(table: Table, values: list[Any]) -> ColumnElement[bool]:
        return true() if bool(values[0]) == matches_when_true else false()

    return FilterSpec("id", "eq", "bool", sql=sql)


def refused(reason: str) -> FilterSpec:
    def check(text: str) -> Any:
        raise ValueError(reason)

    # No value is accepted; the served document leaves the parameter out (crmapi.openapi).
    return FilterSpec("id", "eq", "str", check=check, pattern=NOTHING)
