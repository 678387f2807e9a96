"""Declarations of what a list accepts, and the validated query they produce (pure data)."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table

Op = Literal["eq", "in", "gt", "gte", "lt", "lte"]
# skip: _skip/_limit/_order_by; cursor: _cursor/_limit (the event log); none: every row at once.
Paging = Literal["skip", "cursor", "none"]
ValueKind = Literal["id", "str", "datetime", "bool", "int"]
SqlBuilder = Callable[[Table, list[Any]], ColumnElement[bool]]
ValueCheck = Callable[[str], Any]


# Longest single filter value (ids, labels, dates); a longer one is a 400.
MAX_VALUE_LENGTH = 500


@dataclass(frozen=True)
class FilterSpec:
    """One accepted query parameter and how it narrows the rows."""

    column: str  # a column of the resource's table, or "data.<key>" for a JSON field
    op: Op = "eq"
    kind: ValueKind = "id"
    multi: bool = False  # a plain (non-__in) parameter that also takes a comma list
    # The parameter is only valid when one of these parameters is present too.
    requires: tuple[str, ...] = ()
    requires_reason: str = ""
    # Date filters are only valid on the field the list is sorted by (Close's rule).
    requires_order: str | None = None
    choices: tuple[str, ...] = ()  # the only accepted values (each of a comma list)
    check: ValueCheck | None = None  # extra per-value validation; raises ValueError
    pattern: str | None = None  # what ``check`` accepts, for the OpenAPI document
    sql: SqlBuilder | None = None  # custom SQL for values that are not a plain column test
    max_length: int = MAX_VALUE_LENGTH  # longest accepted value (search queries are longer)


@dataclass(frozen=True)
class OrderSpec:
    """One sortable field; both directions are allowed."""

    column: str
    requires: tuple[str, ...] = ()
    requires_reason: str = ""


@dataclass(frozen=True)
class ModeSpec:
    """A parameter the handler applies itself (a view or a mode, not a test on a column).

    Declared so the grammar rejects unknown values and ``/openapi.json`` lists it.
    """

    choices: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A query parameter of an operation that is not a list (``lead_id`` of a render).

    The handler reads it itself; declared so ``/openapi.json`` and strict mode know it.
    """

    kind: Literal["str", "int"] = "str"
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class ListSpec:
    """Everything a list endpoint accepts: filters, orderings and page bounds."""

    filters: Mapping[str, FilterSpec]
    orderings: Mapping[str, OrderSpec]
    default_order: str = "-date_created"
    default_limit: int = 100
    max_limit: int = 100
    # Close's cap (observed on /activity/email/): an offset costs a scan of every row it
    # skips, so it bounds the most expensive valid page; deeper reads page by date ranges.
    max_skip: int | None = 250_000
    max_in_items: int = 1000
    paging: Paging = "skip"
    modes: Mapping[str, ModeSpec] = field(default_factory=dict)
    # Parameters Close deprecated (and still accepts); name -> why. Strict mode reports them.
    deprecated: Mapping[str, str] = field(default_factory=dict)
    # Filters of which a request must send exactly one (``/comment/``: object_id or thread_id).
    one_of: tuple[str, ...] = ()


# Small lists returned whole (statuses, pipelines, webhooks): only ``_fields`` applies.
UNPAGED = ListSpec(filters={}, orderings={}, paging="none")


@dataclass(frozen=True)
class Condition:
    """A validated filter: column, operator and already-coerced values."""

    param: str
    spec: FilterSpec
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ListQuery:
    """A validated list request, ready to compile to SQL."""

    conditions: tuple[Condition, ...]
    order_column: str
    descending: bool
    skip: int
    limit: int
    fields: frozenset[str] | None
    params: Mapping[str, str] = field(default_factory=dict)

    def values(self, param: str) -> tuple[Any, ...] | None:
        for condition in self.conditions:
            if condition.param == param:
                return condition.values
        return None


def id_filters(name: str, column: str | None = None, **kw: Any) -> dict[str, FilterSpec]:
    """``name`` (comma list allowed) and ``name__in`` on one id column."""
    column = column or name
    return {
        name: FilterSpec(column, "in", "id", multi=True, **kw),
        f"{name}__in": FilterSpec(column, "in", "id", multi=True, **kw),
    }


def range_filters(name: str, kind: ValueKind = "datetime", **kw: Any) -> dict[str, FilterSpec]:
    """``name__gt``, ``__gte``, ``__lt`` and ``__lte``."""
    ops: tuple[Op, ...] = ("gt", "gte", "lt", "lte")
    return {f"{name}__{op}": FilterSpec(name, op, kind, **kw) for op in ops}
