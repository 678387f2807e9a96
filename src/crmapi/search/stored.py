"""A search tree as Advanced Filtering JSON and back: what a smart view stores as ``s_query``.

The shapes are Close's (more.md §1.9): ``{"type": "and", "queries": [...]}``,
``field_condition`` with a ``regular_field``/``custom_field`` ref, ``has_related``,
``match_all``, ``negate: true`` for a negation. Two node types are ours, for what the text
language has and the JSON language does not: ``full_text`` (a bare word) and the moment
``days_from_today`` (``today``/``yesterday`` as the caller's local midnight).
"""

from typing import Any, cast

from crmapi.search import fields
from crmapi.search.tree import (
    Ago,
    And,
    Condition,
    DayStart,
    Exists,
    FieldCondition,
    FieldRef,
    Fixed,
    FullText,
    HasRelated,
    MatchAll,
    Moment,
    MomentRange,
    Node,
    Not,
    NumberRange,
    Or,
    Search,
    Slice,
    SortKey,
    Term,
    Text,
    Unit,
)

Json = dict[str, Any]
# What a lead can have (compile.py joins each on lead_id).
RELATED = frozenset({"contact", "opportunity", "task", "activity", *fields.ACTIVITY_TYPES})
_BOUNDS = ("gt", "gte", "lt", "lte")
# A smart view's ``type`` (Close's SavedSearchType) -> the object type its query selects.
VIEW_OBJECT_TYPES = {
    "lead": "lead",
    "contact": "contact",
    "opportunity": "opportunity",
    **{
        kind: f"activity.{kind}"
        for kind in (
            "call",
            "email",
            "sms",
            "meeting",
            "note",
            "whatsapp_message",
            "custom_activity",
            "form_submission",
        )
    },
}


class StoredQueryError(ValueError):
    """The JSON is not a query this server understands (a 400 for the caller)."""


# --- to JSON --------------------------------------------------------------------------------


def dump(search: Search) -> Json:
    """``{"query": ..., "sort": [...], "slice": ...}`` (``s_query`` plus our slice)."""
    out: Json = {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": search.object_type},
                dump_node(search.query),
            ],
        },
        "sort": [
            {"direction": "desc" if k.descending else "asc", "field": _field(k.field)}
            for k in search.sort
        ],
    }
    if search.slice is not None:
        out["slice"] = {"index": search.slice.index, "count": search.slice.count}
    return out


def dump_node(node: Node) -> Json:
    if isinstance(node, MatchAll):
        return {"type": "match_all"}
    if isinstance(node, And | Or):
        kind = "and" if isinstance(node, And) else "or"
        return {"type": kind, "queries": [dump_node(n) for n in node.queries]}
    if isinstance(node, Not):
        inner = dump_node(node.query)
        if inner.get("negate"):  # not not x: a one-item "and" carries the outer negation
            return {"type": "and", "queries": [inner], "negate": True}
        return {**inner, "negate": True}
    if isinstance(node, FieldCondition):
        return {
            "type": "field_condition",
            "field": _field(node.field),
            "condition": _condition(node.condition),
        }
    if isinstance(node, HasRelated):
        return {
            "type": "has_related",
            "this_object_type": node.this_object_type,
            "related_object_type": node.related_object_type,
            "related_query": dump_node(node.related_query),
        }
    return {"type": "full_text", "value": node.value}


def _field(ref: FieldRef) -> Json:
    if ref.name.startswith("custom."):
        return {
            "type": "custom_field",
            "object_type": ref.object_type,
            "custom_field_id": ref.name[7:],
        }
    return {"type": "regular_field", "object_type": ref.object_type, "field_name": ref.name}


def _condition(c: Condition) -> Json:
    if isinstance(c, Text):
        return {"type": "text", "mode": c.mode, "value": c.value}
    if isinstance(c, Term):
        return {"type": "term", "values": list(c.values)}
    if isinstance(c, Exists):
        return {"type": "exists"}
    if isinstance(c, NumberRange):
        return {"type": "number_range", **_bounds(c, lambda v: v)}
    return {"type": "moment_range", **_bounds(c, _moment)}


def _bounds(c: NumberRange | MomentRange, render: Any) -> Json:
    return {b: render(getattr(c, b)) for b in _BOUNDS if getattr(c, b) is not None}


def _moment(m: Moment) -> Json:
    if isinstance(m, Fixed):
        return {"type": "fixed_utc", "value": m.value}
    if isinstance(m, Ago):
        return {
            "type": "offset",
            "direction": "past",
            "moment": {"type": "now"},
            "offset": {m.unit: m.amount},
        }
    return {"type": "days_from_today", "days": m.days}


# --- from JSON ------------------------------------------------------------------------------


def load(data: Json) -> Search:
    """The inverse of ``dump``; raise ``StoredQueryError`` for anything it would not write."""
    try:
        query = _obj(data.get("query"))
        parts = query.get("queries") if query.get("type") == "and" else None
        if not parts or _obj(parts[0]).get("type") != "object_type":
            raise StoredQueryError("the query must be an 'and' starting with an object_type node")
        if query.get("negate") or _obj(parts[0]).get("negate"):
            # "not (leads named x)" would be every other object of every type: negate the
            # conditions inside the top 'and' instead.
            raise StoredQueryError("the top 'and' and its object_type node cannot be negated")
        object_type = str(_obj(parts[0])["object_type"])
        rest = [load_node(_obj(p)) for p in parts[1:]]
        node = rest[0] if len(rest) == 1 else And(tuple(rest)) if rest else MatchAll()
        sort = tuple(
            SortKey(_ref(_obj(s["field"])), _obj(s).get("direction") == "desc")
            for s in data.get("sort") or []
        )
        sliced = data.get("slice")
        part = Slice(int(sliced["index"]), int(sliced["count"])) if sliced else None
        return Search(object_type, node, sort, part)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, StoredQueryError):
            raise
        raise StoredQueryError(f"malformed query: {exc}") from None


def load_node(data: Json) -> Node:
    negate = bool(data.get("negate"))
    node = _node(data)
    return Not(node) if negate else node


def _node(data: Json) -> Node:
    kind = data.get("type")
    if kind == "match_all":
        return MatchAll()
    if kind in ("and", "or"):
        children = tuple(load_node(_obj(q)) for q in data["queries"])
        if len(children) == 1 and kind == "and":
            return children[0]
        return And(children) if kind == "and" else Or(children)
    if kind == "field_condition":
        return FieldCondition(_ref(_obj(data["field"])), _load_condition(_obj(data["condition"])))
    if kind == "has_related":
        this, related = str(data["this_object_type"]), str(data["related_object_type"])
        if this != "lead" or related not in RELATED:
            raise StoredQueryError(f"no relation from {this} to {related}")
        return HasRelated(this, related, load_node(_obj(data["related_query"])))
    if kind == "full_text":
        return FullText(str(data["value"]))
    raise StoredQueryError(f"unknown node type {kind!r}")


def _ref(data: Json) -> FieldRef:
    if data.get("type") == "custom_field":
        return FieldRef(str(data.get("object_type", "lead")), f"custom.{data['custom_field_id']}")
    if data.get("type") == "regular_field":
        ref = FieldRef(str(data["object_type"]), str(data["field_name"]))
        try:
            fields.field_sql(ref.object_type, ref.name)
        except KeyError:
            raise StoredQueryError(f"unknown field {ref.object_type}.{ref.name}") from None
        return ref
    raise StoredQueryError(f"unknown field type {data.get('type')!r}")


def _load_condition(data: Json) -> Condition:
    kind = data.get("type")
    if kind == "text":
        mode = data.get("mode", "phrase")
        if mode not in ("phrase", "exact_value", "full_words"):
            raise StoredQueryError(f"unknown text mode {mode!r}")
        return Text(str(data["value"]), mode)
    if kind == "term":
        return Term(tuple(str(v) for v in data["values"]))
    if kind == "exists":
        return Exists()
    if kind == "number_range":
        return NumberRange(**{b: float(data[b]) for b in _BOUNDS if data.get(b) is not None})
    if kind == "moment_range":
        return MomentRange(**{b: _load_moment(_obj(data[b])) for b in _BOUNDS if data.get(b)})
    raise StoredQueryError(f"unknown condition type {kind!r}")


def _load_moment(data: Json) -> Moment:
    kind = data.get("type")
    if kind == "fixed_utc":
        return Fixed(str(data["value"]))
    if kind == "days_from_today":
        return DayStart(int(data["days"]))
    if kind == "offset":
        ((unit, amount),) = _obj(data["offset"]).items()
        if unit not in ("seconds", "minutes", "hours", "days", "weeks", "months", "years"):
            raise StoredQueryError(f"unknown offset unit {unit!r}")
        return Ago(int(amount), cast(Unit, unit))
    raise StoredQueryError(f"unknown moment type {kind!r}")


def _obj(value: Any) -> Json:
    if not isinstance(value, dict):
        raise StoredQueryError("expected a JSON object")
    return value
