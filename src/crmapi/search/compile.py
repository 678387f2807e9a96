"""A search tree -> SQLAlchemy Core, on SQLite and PostgreSQL alike.

Everything is a WHERE clause the database evaluates (never a Python filter over the rows):
related-object tests are correlated ``EXISTS`` on ``(organization_id, lead_id)`` indexes,
counts are correlated counts. Only contact emails and phones differ by backend: PostgreSQL
matches them by JSONB containment (GIN-indexed), SQLite through ``json_each``.
"""

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import True_

from crmapi.search import fields, moments
from crmapi.search.fields import FieldSql
from crmapi.search.tree import (
    And,
    Condition,
    Exists,
    FieldCondition,
    FullText,
    HasRelated,
    MatchAll,
    MomentRange,
    Node,
    Not,
    NumberRange,
    Or,
    SortKey,
    Term,
)
from crmapi.search.tree import (
    Text as TextCondition,
)

MIDNIGHT = "T00:00:00.000000+00:00"


@dataclass(frozen=True)
class Compiler:
    dialect: str  # "sqlite" or "postgresql" (``conn.dialect.name``)
    now: str  # canonical UTC: relative moments resolve against it
    tz: float = 0.0
    org_id: str | None = None  # known: related tests find the matching children first

    # --- nodes ------------------------------------------------------------------------------

    def where(self, node: Node, object_type: str, table: FromClause) -> ColumnElement[bool]:
        if isinstance(node, MatchAll):
            return true()
        if isinstance(node, And):
            return and_(*(self.where(n, object_type, table) for n in node.queries))
        if isinstance(node, Or):
            return or_(*(self.where(n, object_type, table) for n in node.queries))
        if isinstance(node, Not):
            # Two-valued: a lead without a name is "not name:acme" (SQL's NOT NULL is NULL).
            return not_(func.coalesce(self.where(node.query, object_type, table), false()))
        if isinstance(node, FieldCondition):
            spec = fields.field_sql(node.field.object_type, node.field.name)
            return self.condition(spec, table, node.condition)
        if isinstance(node, HasRelated):
            return self.related(node, table)
        return self.full_text(node, object_type, table)

    def related(self, node: HasRelated, table: FromClause) -> ColumnElement[bool]:
        """Some child row of this lead (same organization) matches the inner query."""
        child = fields.table_of(node.related_object_type).alias()
        inner = self.where(node.related_query, node.related_object_type, child)
        return self._children_match(table, child, node.related_object_type, inner)

    def _children_match(
        self, lead: FromClause, child: FromClause, object_type: str, inner: ColumnElement[bool]
    ) -> ColumnElement[bool]:
        tests = [*fields.type_test(object_type, child), inner]
        if self.org_id is None or isinstance(inner, True_):
            # Correlated: one index probe per lead (has:calls is true for most leads).
            return exists(
                select(child.c.id).where(
                    child.c.organization_id == lead.c.organization_id,
                    child.c.lead_id == lead.c.id,
                    *tests,
                )
            )
        # A condition on the children: find them once, then their leads (SQLite runs a
        # correlated EXISTS once per lead; PostgreSQL plans both forms alike).
        return lead.c.id.in_(
            select(child.c.lead_id).where(child.c.organization_id == self.org_id, *tests)
        )

    def full_text(self, node: FullText, object_type: str, table: FromClause) -> ColumnElement[bool]:
        """A bare word: a case-insensitive substring of the object's text fields. On a lead
        it also matches a contact's name, title, emails or phones; inside ``contact(...)``,
        ``task(...)`` and the like it searches that object's own text."""
        word = node.value
        tests = self._own_text(object_type, table, word)
        if object_type == "lead":
            contact = fields.table_of("contact").alias()
            in_contact = or_(*self._own_text("contact", contact, word))
            tests.append(self._children_match(table, contact, "contact", in_contact))
        return or_(*tests)

    def _own_text(
        self, object_type: str, table: FromClause, word: str
    ) -> list[ColumnElement[bool]]:
        tests = [
            self.contains(
                cast(table.c[name], Text) if name in fields.JSON_COLUMNS else table.c[name], word
            )
            for name in fields.full_text_columns(object_type)
        ]
        digits = "".join(ch for ch in word if ch.isdigit())
        looks_like_phone = len(digits) >= 3 and len(digits) >= len(word.strip("+-() ")) - 2
        if object_type == "contact" and looks_like_phone:
            tests.append(cast(table.c.phones, Text).contains(digits, autoescape=True))
        return tests

    # --- conditions -------------------------------------------------------------------------

    def value(self, spec: FieldSql, table: FromClause) -> ColumnElement[Any]:
        expr = spec.expr(table)
        if spec.kind == "json_length":
            if self.dialect == "postgresql":
                return func.jsonb_array_length(expr)
            return func.json_array_length(expr)
        return expr

    def condition(
        self, spec: FieldSql, table: FromClause, condition: Condition
    ) -> ColumnElement[bool]:
        if spec.kind in ("emails", "phones"):
            return self.contact_point(spec, table, condition)
        counted = spec.counts is not None and self.org_id is not None
        if counted and isinstance(condition, NumberRange):
            assert spec.counts is not None
            return self.count_range(spec.counts, table, condition)
        expr = self.value(spec, table)
        if spec.kind == "json_list":
            return self.custom(expr, condition)
        if isinstance(condition, Exists):
            if spec.kind == "json_text":
                return self.value(FieldSql(spec.expr, "json_length"), table) > 0
            return expr.is_not(None)
        if isinstance(condition, TextCondition):
            if spec.kind == "json_text":
                return self.contains(cast(expr, Text), condition.value)
            if condition.mode == "exact_value":
                return _lower(expr) == condition.value.lower()
            return self.contains(expr, condition.value)
        if isinstance(condition, Term):
            return self.term(spec, expr, condition)
        if isinstance(condition, NumberRange):
            return _range(expr, condition.gt, condition.gte, condition.lt, condition.lte)
        if spec.kind == "day_or_moment":
            expr = case((func.length(expr) == 10, expr + MIDNIGHT), else_=expr)
        return self.moment_range(expr, condition)

    def count_range(
        self, object_type: str, lead: FromClause, r: NumberRange
    ) -> ColumnElement[bool]:
        """``contacts > 1``: one grouped pass over the children instead of a count per lead.
        A range that holds 0 also takes the leads without any child (NOT IN the others)."""
        child = fields.table_of(object_type).alias()
        n = func.count()
        wanted = _range(n, r.gt, r.gte, r.lt, r.lte)
        holds_zero = _holds(0, r)

        def leads(having: ColumnElement[bool]) -> Select[Any]:
            return (
                select(child.c.lead_id)
                .where(
                    child.c.organization_id == self.org_id, *fields.type_test(object_type, child)
                )
                .group_by(child.c.lead_id)
                .having(having)
            )

        if holds_zero:
            return lead.c.id.not_in(leads(not_(wanted)))
        return lead.c.id.in_(leads(wanted))

    def term(self, spec: FieldSql, expr: ColumnElement[Any], term: Term) -> ColumnElement[bool]:
        if not term.values:
            return false()
        if spec.kind == "bool":
            return expr.in_([v == "true" for v in term.values])
        return expr == term.values[0] if len(term.values) == 1 else expr.in_(term.values)

    def moment_range(self, expr: ColumnElement[Any], r: MomentRange) -> ColumnElement[bool]:
        def at(moment: Any) -> str | None:
            return None if moment is None else moments.resolve(moment, self.now, self.tz)

        return _range(expr, at(r.gt), at(r.gte), at(r.lt), at(r.lte))

    def custom(self, doc: Any, condition: Condition) -> ColumnElement[bool]:
        """A custom value (``custom->cf_id``): a scalar, or a list for multi-value fields."""
        text: ColumnElement[Any] = doc.as_string()
        if isinstance(condition, Exists):
            return text.is_not(None)
        if isinstance(condition, NumberRange):
            number: ColumnElement[Any] = doc.as_float()
            return _range(number, condition.gt, condition.gte, condition.lt, condition.lte)
        if isinstance(condition, MomentRange):
            day_or_moment = case((func.length(text) == 10, text + MIDNIGHT), else_=text)
            return self.moment_range(day_or_moment, condition)
        if isinstance(condition, TextCondition):
            wanted = condition.value.lower()
            if condition.mode != "exact_value":
                return self.contains(text, wanted)
            # A list's JSON text holds the value as a JSON string: '["a", "b"]'.
            item = orjson.dumps(wanted).decode()
            return or_(_lower(text) == wanted, self.contains(text, item))
        return text.in_(condition.values) if condition.values else false()

    def contact_point(
        self, spec: FieldSql, table: FromClause, condition: Condition
    ) -> ColumnElement[bool]:
        """Emails/phones of a contact: JSON lists of ``{"email"|"phone": ..., "type": ...}``."""
        doc = spec.expr(table)
        key = "email" if spec.kind == "emails" else "phone"
        if isinstance(condition, Exists):
            return self.value(FieldSql(spec.expr, "json_length"), table) > 0
        if not isinstance(condition, TextCondition):
            raise ValueError(f"{key} takes text")
        if condition.mode != "exact_value":
            return cast(doc, Text).contains(condition.value, autoescape=True)
        wanted = condition.value.lower() if key == "email" else condition.value
        if self.dialect == "postgresql":
            needle = cast(literal(orjson.dumps([{key: wanted}]).decode()), JSONB)
            # The very expressions of the GIN indexes (migration search_1).
            haystack = cast(_lower(cast(doc, Text)), JSONB) if key == "email" else doc
            contains: ColumnElement[bool] = haystack.op("@>")(needle)
            return contains
        items = func.json_each(doc).table_valued("value").alias()
        found: ColumnElement[Any] = func.json_extract(items.c.value, f"$.{key}")
        if key == "email":
            found = _lower(found)
        # SQLite has no index over list items: a substring test on the stored text (cheap)
        # keeps json_each (exact, but parses the document) to the few candidates.
        quoted = orjson.dumps(wanted).decode()
        return and_(
            self.contains(cast(doc, Text), quoted),
            exists(select(literal(1)).select_from(items).where(found == wanted)),
        )

    def contains(self, expr: ColumnElement[Any], word: str) -> ColumnElement[bool]:
        """Case-insensitive substring. SQLite's LIKE already ignores ASCII case (and its
        lower() folds nothing else), so there it runs without lower(): 5-10x cheaper."""
        if self.dialect == "sqlite":
            return expr.contains(word, autoescape=True)
        return _lower(expr).contains(word.lower(), autoescape=True)

    # --- order ------------------------------------------------------------------------------

    def order(self, keys: tuple[SortKey, ...], table: FromClause) -> list[ColumnElement[Any]]:
        """ORDER BY for ``sort:``, ties broken by id in the last key's direction."""
        out: list[ColumnElement[Any]] = []
        for key in keys:
            spec = fields.field_sql(key.field.object_type, key.field.name)
            expr = self.value(spec, table)
            if spec.nullable:  # nulls sort as the smallest value on both backends
                present = case((expr.is_(None), 0), else_=1)
                out.append(present.desc() if key.descending else present.asc())
            out.append(expr.desc() if key.descending else expr.asc())
        last_descending = keys[-1].descending if keys else False
        out.append(table.c.id.desc() if last_descending else table.c.id.asc())
        return out


def _lower(expr: ColumnElement[Any]) -> ColumnElement[str]:
    return func.lower(expr, type_=Text())


def _range(expr: Any, gt: Any, gte: Any, lt: Any, lte: Any) -> ColumnElement[bool]:
    tests = []
    if gt is not None:
        tests.append(expr > gt)
    if gte is not None:
        tests.append(expr >= gte)
    if lt is not None:
        tests.append(expr < lt)
    if lte is not None:
        tests.append(expr <= lte)
    return and_(*tests) if tests else true()


def _holds(value: float, r: NumberRange) -> bool:
    return (
        (r.gt is None or value > r.gt)
        and (r.gte is None or value >= r.gte)
        and (r.lt is None or value < r.lt)
        and (r.lte is None or value <= r.lte)
    )
