"""The text language's shape, without a database: tokens and the trees queries parse into."""

from typing import Any

import pytest

from crmapi.search import parser
from crmapi.search.env import Env
from crmapi.search.lexer import tokenize
from crmapi.search.tree import (
    And,
    FieldCondition,
    FieldRef,
    Fixed,
    FullText,
    HasRelated,
    MatchAll,
    MomentRange,
    Not,
    NumberRange,
    Or,
    Slice,
    SortKey,
    Text,
)

# Clauses that need no lookup (no statuses, users or custom fields): Env's connection unused.
ENV = Env(conn=None, org_id="orga_x", user_id="user_x")  # type: ignore[arg-type]
A, B, C = FullText("a"), FullText("b"), FullText("c")


def lead(name: str) -> FieldRef:
    return FieldRef("lead", name)


TOKENS = [
    ('date_updated>="2024-02-01T00:00"', ["word", "op", "quoted"]),
    ("date_updated >= 2024-03-03T10:00:06.123456+00:00", ["word", "op", "word"]),
    ("created_by :justin", ["word", "colon", "word"]),
    ('"custom.Foo bar":test', ["quoted", "colon", "word"]),
    ("call( date >= x)", ["word", "lparen", "word", "op", "word", "rparen"]),
    ("-acme sort:-created", ["minus", "word", "word", "colon", "word"]),
    ('"say \\"hi\\""', ["quoted"]),
]


@pytest.mark.parametrize(("text", "kinds"), TOKENS, ids=[t for t, _ in TOKENS])
def test_it_tokenizes(text: str, kinds: list[str]) -> None:
    assert [t.kind for t in tokenize(text)] == kinds


def test_values_keep_colons_and_lost_plus_signs() -> None:
    assert tokenize("x >= 2024-03-03T10:00:06.123456 00:00")[2].text == (
        "2024-03-03T10:00:06.123456+00:00"
    )
    assert tokenize('"say \\"hi\\""')[0].text == 'say "hi"'


TREES: list[tuple[str, Any]] = [
    ("", MatchAll()),
    ("*", MatchAll()),
    ("a b", And((A, B))),
    ("a and b", And((A, B))),
    ("a AND b", And((A, B))),
    ("a or b", Or((A, B))),
    ("a OR b", Or((A, B))),
    ("a or b c", Or((A, And((B, C))))),
    ("a b or c", Or((And((A, B)), C))),
    ("(a or b) c", And((Or((A, B)), C))),
    ("not a b", And((Not(A), B))),
    ("not a or b", Or((Not(A), B))),
    ("-a", Not(A)),
    ("not not a", Not(Not(A))),
    ("NOT (a or b)", Not(Or((A, B)))),
    ('"a b"', FullText("a b")),
    ("name:'x'", FieldCondition(lead("name"), Text("'x'"))),
    ('name:"Acme Inc"', FieldCondition(lead("name"), Text("Acme Inc"))),
    ("contacts > 1", FieldCondition(lead("num_contacts"), NumberRange(gt=1))),
    ("calls = 0", FieldCondition(lead("num_calls"), NumberRange(gte=0, lte=0))),
    (
        'date_updated>="2024-02-01T00:00"',
        FieldCondition(
            lead("date_updated"), MomentRange(gte=Fixed("2024-02-01T00:00:00.000000+00:00"))
        ),
    ),
    (
        "date_updated <= 2023-10-09",
        FieldCondition(
            lead("date_updated"), MomentRange(lt=Fixed("2023-10-10T00:00:00.000000+00:00"))
        ),
    ),
    (
        "email:X@Y.com",
        HasRelated(
            "lead",
            "contact",
            FieldCondition(FieldRef("contact", "email"), Text("x@y.com", "exact_value")),
        ),
    ),
    ("contact()", HasRelated("lead", "contact", MatchAll())),
    ("has:calls", HasRelated("lead", "activity.call", MatchAll())),
]


@pytest.mark.parametrize(("text", "tree"), TREES, ids=[t or "<empty>" for t, _ in TREES])
def test_it_parses_into_the_tree(text: str, tree: Any) -> None:
    assert parser.parse(text, ENV).query == tree


def test_modifiers_leave_the_query() -> None:
    found = parser.parse("a sort:-opportunities,date_created (b) slice:2/7", ENV)
    assert found.query == And((A, B))
    assert found.sort == (
        SortKey(lead("num_opportunities"), True),
        SortKey(lead("date_created"), False),
    )
    assert found.slice == Slice(2, 7)
