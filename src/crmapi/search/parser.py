"""Close's lead search text -> a ``Search`` tree (grammar of more.md §1.10).

    query    := or_expr
    or_expr  := and_expr (OR and_expr)*
    and_expr := unary (AND? unary)*              juxtaposition is AND
    unary    := (NOT | "-") unary | primary
    primary  := "(" or_expr ")" | NAME"(" or_expr? ")" | key (":" | OP) value | term

Precedence NOT > AND > OR; operators in any case. ``sort:`` and ``slice:`` are modifiers, taken
out of the query wherever they stand (not under ``not``/``or`` nor inside a related group).
"""

from crmapi.search import keywords as kw
from crmapi.search import stored
from crmapi.search.env import Env
from crmapi.search.errors import SearchSyntaxError
from crmapi.search.lexer import Token, tokenize
from crmapi.search.tree import (
    FieldRef,
    FullText,
    HasRelated,
    MatchAll,
    Node,
    Not,
    Or,
    Search,
    Slice,
    SortKey,
    conjunction,
)

MAX_LENGTH = 10_000
MAX_DEPTH = 32
MAX_SLICES = 10_000
# How many smart views deep ``in:`` may reach (a view naming a view naming a view...).
MAX_VIEWS = 8
# sort: names -> fields of the lead (and their aliases, more.md §1.5)
SORT_FIELDS = {
    "created": "date_created",
    "date_created": "date_created",
    "updated": "date_updated",
    "date_updated": "date_updated",
    "name": "name",
    "display_name": "name",
    "activities": "num_activities",
    "opportunities": "num_opportunities",
    "contacts": "num_contacts",
    "calls": "num_calls",
    "emails": "num_emails",
    "last_call": "last_call_date",
    "last_email": "last_email_date",
    "last_activity": "last_activity_date",
    "id": "id",
}


def parse(source: str, env: Env, object_type: str = "lead") -> Search:
    """Parse ``source``; raise ``SearchSyntaxError`` pointing at the first problem."""
    if len(source) > MAX_LENGTH:
        raise SearchSyntaxError(MAX_LENGTH, f"the query is longer than {MAX_LENGTH} characters")
    parser = _Parser(source, tokenize(source), env)
    query = parser.or_expr(kw.SCOPES[object_type], depth=0, modifiers=True)
    if parser.i < len(parser.tokens):
        token = parser.tokens[parser.i]
        raise SearchSyntaxError(token.start, f"unexpected {token.text!r}")
    return Search(object_type, query, tuple(parser.sort), parser.slice, source)


class _Parser:
    def __init__(self, source: str, tokens: list[Token], env: Env) -> None:
        self.source = source
        self.tokens = tokens
        self.env = env
        self.i = 0
        self.sort: list[SortKey] = []
        self.slice: Slice | None = None

    # --- token helpers ----------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def at_operator(self, name: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.lower == name

    def end(self) -> int:
        return len(self.source)

    # --- grammar ----------------------------------------------------------------------------

    def or_expr(self, scope: kw.Scope, depth: int, modifiers: bool) -> Node:
        if depth > MAX_DEPTH:
            raise SearchSyntaxError(self._pos(), f"nesting deeper than {MAX_DEPTH} levels")
        parts = [self.and_expr(scope, depth, modifiers)]
        while self.at_operator("or"):
            operator = self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind == "rparen":
                raise SearchSyntaxError(operator.start, "'or' needs a clause after it")
            parts.append(self.and_expr(scope, depth, modifiers))
        if len(parts) > 1:
            return Or(tuple(parts))
        return parts[0]

    def and_expr(self, scope: kw.Scope, depth: int, modifiers: bool) -> Node:
        nodes: list[Node] = []
        while True:
            token = self.peek()
            if token is None or token.kind == "rparen" or self.at_operator("or"):
                break
            if self.at_operator("and"):
                operator = self.take()
                if not nodes:
                    raise SearchSyntaxError(operator.start, "'and' needs a clause before it")
                nxt = self.peek()
                if nxt is None or nxt.kind == "rparen" or self.at_operator("or"):
                    raise SearchSyntaxError(operator.start, "'and' needs a clause after it")
                continue
            node = self.unary(scope, depth, modifiers)
            if node is not None:
                nodes.append(node)
        if not nodes and self.at_operator("or"):
            raise SearchSyntaxError(self._pos(), "'or' needs a clause before it")
        return conjunction(nodes)

    def unary(self, scope: kw.Scope, depth: int, modifiers: bool) -> Node | None:
        token = self.peek()
        assert token is not None
        if token.kind == "minus" or (token.kind == "word" and token.lower == "not"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind == "rparen":
                raise SearchSyntaxError(token.start, f"{token.text!r} needs a clause after it")
            inner = self.unary(scope, depth + 1, False)
            if inner is None:
                raise SearchSyntaxError(token.start, f"{token.text!r} needs a clause after it")
            return Not(inner)
        return self.primary(scope, depth, modifiers)

    def primary(self, scope: kw.Scope, depth: int, modifiers: bool) -> Node | None:
        token = self.take()
        if token.kind == "lparen":
            return self.group(token, scope, depth, modifiers)
        if token.kind == "rparen":
            raise SearchSyntaxError(token.start, "unbalanced ')'")
        if token.kind in ("colon", "op"):
            raise SearchSyntaxError(token.start, f"{token.text!r} needs a field name before it")
        nxt = self.peek()
        # name(...) only when the parenthesis touches the name; "acme (x)" is a term and a group.
        adjacent = nxt is not None and nxt.kind == "lparen" and nxt.start == token.end
        if token.kind == "word" and adjacent:
            return self.related(token, scope, depth)
        if nxt is not None and nxt.kind in ("colon", "op"):
            return self.clause(token, scope, modifiers)
        return self.term(token)

    def group(self, opening: Token, scope: kw.Scope, depth: int, modifiers: bool) -> Node:
        node = self.or_expr(scope, depth + 1, modifiers)
        closing = self.peek()
        if closing is None or closing.kind != "rparen":
            raise SearchSyntaxError(opening.start, "unbalanced '(' (no closing ')')")
        self.take()
        return node

    def related(self, name: Token, scope: kw.Scope, depth: int) -> Node:
        related = scope.related.get(name.lower)
        if related is None:
            if name.lower in kw.UNSUPPORTED:
                raise SearchSyntaxError(name.start, kw.UNSUPPORTED[name.lower])
            known = ", ".join(f"{n}(...)" for n in sorted(scope.related)) or "none here"
            raise SearchSyntaxError(name.start, f"unknown group {name.text!r}(...) ({known})")
        opening = self.take()
        inner = self.or_expr(kw.SCOPES[related], depth + 1, False)
        closing = self.peek()
        if closing is None or closing.kind != "rparen":
            raise SearchSyntaxError(opening.start, "unbalanced '(' (no closing ')')")
        self.take()
        return HasRelated(scope.object_type, related, inner)

    def clause(self, key: Token, scope: kw.Scope, modifiers: bool) -> Node | None:
        op = self.take()
        value = self.value(op)
        name = key.text if key.kind == "quoted" else key.lower
        if key.kind == "word" and name in ("sort", "slice"):
            if not modifiers:
                raise SearchSyntaxError(
                    key.start, f"{name}: applies to the whole search (not under or/not/(...))"
                )
            self.modifier(name, op, value)
            return None
        if key.kind == "word" and name == "in":
            _only_colon(op, "in")
            return view_query(self.env, value.text, scope.object_type, value.start)
        keyword = scope.keywords.get(name) if key.kind == "word" else None
        if keyword is not None:
            return kw.build(keyword, scope, op.text, value, self.env)
        if name.lower().startswith("custom."):
            field_name = key.text[7:]
            found = kw.custom(scope, field_name, op.text, value, self.env, key.start)
            if found is None:
                raise SearchSyntaxError(
                    key.start, f"no {scope.custom_type} custom field {field_name!r}"
                )
            return found
        found = kw.custom(scope, key.text, op.text, value, self.env, key.start)
        if found is not None:
            return found
        if name in kw.UNSUPPORTED:
            raise SearchSyntaxError(key.start, f"{name}: {kw.UNSUPPORTED[name]}")
        raise SearchSyntaxError(key.start, f"unknown keyword {key.text!r}")

    def value(self, op: Token) -> kw.Value:
        token = self.peek()
        if token is None or token.kind not in ("word", "quoted"):
            raise SearchSyntaxError(op.start, f"{op.text!r} needs a value after it")
        self.take()
        text = token.text
        # "30 days ago" after an operator is one value, unquoted (Close's own saved views).
        unit, ago = self.peek(), self.peek(1)
        if (
            token.kind == "word"
            and text.isdigit()
            and unit is not None
            and ago is not None
            and unit.kind == "word"
            and ago.kind == "word"
            and ago.lower == "ago"
        ):
            self.i += 2
            text = f"{text} {unit.text} ago"
        return kw.Value(text, token.kind == "quoted", token.start)

    def modifier(self, name: str, op: Token, value: kw.Value) -> None:
        if op.text != ":":
            raise SearchSyntaxError(op.start, f"{name} takes ':'")
        if name == "sort":
            self.sort.extend(self.sort_keys(value))
            return
        if self.slice is not None:
            raise SearchSyntaxError(value.start, "slice: given twice")
        self.slice = _slice(value)

    def sort_keys(self, value: kw.Value) -> list[SortKey]:
        keys = []
        for part in value.text.split(","):
            descending = part.startswith("-")
            name = part.lstrip("-").lower()
            column = SORT_FIELDS.get(name)
            if column is None:
                allowed = ", ".join(sorted(SORT_FIELDS))
                raise SearchSyntaxError(value.start, f"cannot sort by {part!r} (use {allowed})")
            keys.append(SortKey(FieldRef("lead", column), descending))
        return keys

    def term(self, token: Token) -> Node:
        if token.kind == "word" and token.text == "*":
            return MatchAll()
        if token.kind == "word" and token.lower in ("and", "or", "not"):
            raise SearchSyntaxError(token.start, f"{token.text!r} needs a clause around it")
        return FullText(token.text)

    def _pos(self) -> int:
        token = self.peek()
        return token.start if token is not None else self.end()


def view_query(env: Env, ref: str, object_type: str, at: int, by_name: bool = True) -> Node:
    """What ``in:<ref>`` means: the query of the smart view with that id (or name), read as
    stored each time (a view edited later changes every search naming it)."""
    view = env.saved_search(ref)
    if view is None or (not by_name and view.id != ref):
        raise SearchSyntaxError(at, f"smart view {ref!r} does not exist")
    wanted = stored.VIEW_OBJECT_TYPES.get(view.type)
    if wanted != object_type:
        raise SearchSyntaxError(
            at, f"smart view {view.name!r} selects {view.type}s, not {object_type}s"
        )
    if view.id in env.expanding:
        raise SearchSyntaxError(at, f"smart view {view.name!r} refers to itself (through in:)")
    if len(env.expanding) >= MAX_VIEWS:
        raise SearchSyntaxError(at, f"smart views nest deeper than {MAX_VIEWS} levels (in:)")
    env.expanding.append(view.id)
    try:
        if view.s_query is not None:
            return stored.load(view.s_query).query
        return parse(view.query or "", env, object_type).query
    except (SearchSyntaxError, stored.StoredQueryError) as exc:
        # The reason is about the view's own text: report it where the view is named.
        reason = exc.reason if isinstance(exc, SearchSyntaxError) else str(exc)
        raise SearchSyntaxError(at, f"smart view {view.name!r}: {reason}") from None
    finally:
        env.expanding.pop()


def _only_colon(op: Token, name: str) -> None:
    if op.text != ":":
        raise SearchSyntaxError(op.start, f"{name} takes ':' not {op.text!r}")


def _slice(value: kw.Value) -> Slice:
    index, _, count = value.text.partition("/")
    if not (index.isdigit() and count.isdigit()):
        raise SearchSyntaxError(value.start, "slice: takes i/n, e.g. slice:2/5")
    i, n = int(index), int(count)
    if not 1 <= n <= MAX_SLICES or not 1 <= i <= n:
        raise SearchSyntaxError(value.start, f"slice:{i}/{n}: i must be 1..n and n 1..{MAX_SLICES}")
    return Slice(i, n)
