"""The search tree: what a search means, independent of the language it was written in.

Both front ends produce it: the legacy text language (``parser.py``) and, later, Close's
Advanced Filtering JSON (``POST /data/search/``), whose node names these are (``and``, ``or``,
``field_condition``, ``has_related``, ``match_all``; ``negate`` is the ``Not`` node). Field
references use Close's field names per object type; custom fields are ``custom.<cf_id>``.

Moments stay symbolic (``Ago``, ``DayStart``) so a stored tree (a smart view's ``s_query``)
means "30 days ago" on the day it runs, not on the day it was saved.
"""

from dataclasses import dataclass, field
from typing import Literal

TextMode = Literal["phrase", "exact_value", "full_words"]
Unit = Literal["seconds", "minutes", "hours", "days", "weeks", "months", "years"]


# --- moments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """A UTC instant in canonical form (``util.dates``)."""

    value: str


@dataclass(frozen=True)
class Ago:
    """Now minus ``amount`` units (``30 days ago``)."""

    amount: int
    unit: Unit


@dataclass(frozen=True)
class DayStart:
    """Midnight of the caller's day ``days`` from today (0: today, -1: yesterday)."""

    days: int


Moment = Fixed | Ago | DayStart


# --- conditions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Case-insensitive text: ``phrase`` contains, ``exact_value`` equals."""

    value: str
    mode: TextMode = "phrase"


@dataclass(frozen=True)
class Term:
    """One of fixed values (ids, choices): an empty tuple matches nothing."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class NumberRange:
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class MomentRange:
    gt: Moment | None = None
    gte: Moment | None = None
    lt: Moment | None = None
    lte: Moment | None = None


@dataclass(frozen=True)
class Exists:
    """The field has a value (``custom.Tags:*``)."""


Condition = Text | Term | NumberRange | MomentRange | Exists


# --- nodes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    object_type: str  # lead, contact, opportunity, activity.call ...
    name: str  # date_updated, status_id, custom.cf_... ; see fields.py


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class And:
    queries: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    queries: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    query: "Node"


@dataclass(frozen=True)
class FieldCondition:
    field: FieldRef
    condition: Condition


@dataclass(frozen=True)
class HasRelated:
    """At least one related object (``contact``, ``opportunity``, ``activity.call``) matches."""

    this_object_type: str
    related_object_type: str
    related_query: "Node"


@dataclass(frozen=True)
class FullText:
    """A bare word or phrase: matched in the lead's and its contacts' text."""

    value: str


Node = MatchAll | And | Or | Not | FieldCondition | HasRelated | FullText


@dataclass(frozen=True)
class SortKey:
    field: FieldRef
    descending: bool = False


@dataclass(frozen=True)
class Slice:
    """``slice:index/count``: part ``index`` (1-based) of ``count`` disjoint parts."""

    index: int
    count: int


@dataclass(frozen=True)
class Search:
    """A whole search: the query, its order (empty: the list's default) and an optional slice."""

    object_type: str
    query: Node
    sort: tuple[SortKey, ...] = ()
    slice: Slice | None = None
    source: str = field(default="", compare=False)  # the text it was parsed from, if any


def conjunction(nodes: list[Node]) -> Node:
    """``and`` of ``nodes`` without the noise: nothing is everything, one is itself."""
    kept = [n for n in nodes if not isinstance(n, MatchAll)]
    if not kept:
        return MatchAll()
    return kept[0] if len(kept) == 1 else And(tuple(kept))
