"""Tokens of Close's lead search language (more.md §1.2).

Only double quotes quote (``\\"`` escapes one inside). A value after ``:`` or a comparison
operator is read in *value mode*, where ``:`` is an ordinary character, so ISO datetimes
(``2024-03-03T10:00:06.123456+00:00``) and ``slice:2/7`` are one token.
"""

import re
from dataclasses import dataclass
from typing import Literal

from crmapi.search.errors import SearchSyntaxError

Kind = Literal["word", "quoted", "colon", "op", "lparen", "rparen", "minus"]

OPERATORS = ("<=", ">=", "<", ">", "=")
# Characters that end a bare word outside value mode.
_STOP = set(' \t\r\n()":<>=')
# An unencoded "+" in a query string arrives as a space: "…06.123456 00:00" is one datetime.
_LOST_PLUS = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+$")
_OFFSET = re.compile(r" (\d\d:\d\d)(?=$|[\s)])")


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int  # offset in the query, for error messages
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    value_mode = False
    while True:
        pos = _skip_space(source, pos)
        if pos >= len(source):
            return tokens
        token = _next(source, pos, value_mode)
        value_mode = token.kind in ("colon", "op")
        tokens.append(token)
        pos = token.end


def _skip_space(source: str, pos: int) -> int:
    while pos < len(source) and source[pos].isspace():
        pos += 1
    return pos


def _next(source: str, pos: int, value_mode: bool) -> Token:
    char = source[pos]
    if char == '"':
        return _quoted(source, pos)
    if char == "(":
        return Token("lparen", char, pos, pos + 1)
    if char == ")":
        return Token("rparen", char, pos, pos + 1)
    if value_mode:
        return _value(source, pos)
    if char == ":":
        return Token("colon", char, pos, pos + 1)
    for op in OPERATORS:
        if source.startswith(op, pos):
            return Token("op", op, pos, pos + len(op))
    if char == "-" and pos + 1 < len(source) and source[pos + 1] not in _STOP:
        return Token("minus", char, pos, pos + 1)
    end = pos
    while end < len(source) and source[end] not in _STOP:
        end += 1
    return Token("word", source[pos:end], pos, end)


def _value(source: str, pos: int) -> Token:
    end = pos
    while end < len(source) and not source[end].isspace() and source[end] not in '()"':
        end += 1
    text = source[pos:end]
    if _LOST_PLUS.match(text):
        lost = _OFFSET.match(source, end)
        if lost:
            return Token("word", f"{text}+{lost.group(1)}", pos, lost.end())
    return Token("word", text, pos, end)


def _quoted(source: str, pos: int) -> Token:
    out: list[str] = []
    i = pos + 1
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source) and source[i + 1] in '"\\':
            out.append(source[i + 1])
            i += 2
            continue
        if char == '"':
            return Token("quoted", "".join(out), pos, i + 1)
        out.append(char)
        i += 1
    raise SearchSyntaxError(pos, 'unterminated quoted string (a " has no closing ")')
