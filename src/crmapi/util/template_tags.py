"""Close's template tags: ``{{ lead.display_name }}``, ``{{ contact.first_name }}``,
``{{ lead.custom.Budget }}`` (more.md §4.4).

Only variable lookups exist (no filters, blocks or expressions: none is evidenced for Close),
so this is a lookup in a dict of dicts, never evaluated code: a template cannot reach anything
the context does not hold. An unknown variable renders as the empty string (§11 #7); text a
tag cannot parse is refused when the template is written (``check``).
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

# ``{{`` ... ``}}`` with anything but braces inside; what is inside must be a dotted path.
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_ROOT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A path segment: a key or a custom field's name (names may hold spaces, not dots or pipes).
_SEGMENT = re.compile(r"^[^{}|%()\[\]\"'<>\n]+$")
_BLOCK = re.compile(r"\{%|%\}")

Escape = Callable[[str], str]


class TemplateSyntaxError(ValueError):
    """Text a tag cannot be read from; the message is shown to the client."""


def _path(inner: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in inner.strip().split("."))
    if not parts or not _ROOT.match(parts[0]) or not all(_SEGMENT.match(p) for p in parts[1:]):
        raise TemplateSyntaxError(f"Invalid template tag: {{{{{inner}}}}}.")
    return parts


def check(text: str) -> None:
    """Raise ``TemplateSyntaxError`` unless every tag in ``text`` is a variable lookup."""
    if _BLOCK.search(text):
        raise TemplateSyntaxError("Template blocks ({% ... %}) are not supported.")
    for match in _TAG.finditer(text):
        _path(match.group(1))
    if "{{" in _TAG.sub("", text):
        raise TemplateSyntaxError("Unclosed template tag: {{ without }}.")


def _lookup(context: Mapping[str, Any], path: tuple[str, ...]) -> str:
    value: Any = context
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return ""
        value = value[key]
    # Lists and objects have no text form in Close's templates: they render as nothing.
    if value is None or isinstance(value, Mapping | list | tuple):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(text: str, context: Mapping[str, Any], escape: Escape | None = None) -> str:
    """``text`` with every tag replaced by its value (``escape``d, for HTML bodies)."""

    def value(match: re.Match[str]) -> str:
        try:
            found = _lookup(context, _path(match.group(1)))
        except TemplateSyntaxError:
            # Stored before the rule existed or imported raw: shown as written, never fatal.
            return match.group(0)
        return escape(found) if escape is not None else found

    return _TAG.sub(value, text)
