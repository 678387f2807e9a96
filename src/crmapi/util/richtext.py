"""Close's rich text: a restricted XHTML subset wrapped in ``<body>``, kept in sync with text."""

import html
from html.parser import HTMLParser

import nh3

# Close's rich-text subset (activities digest §1.10): basic styling, links, images and
# mentions. Anything else (scripts, event handlers, frames) is dropped on write.
ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "hr", "i", "img",
    "li", "ol", "p", "pre", "s", "span", "strong", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt"},
    "span": {"style", "class", "data-type", "data-id", "data-label"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}

_BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "ul", "ol", "hr", "body"})


def to_html(text: str) -> str:
    """Plain text to Close rich text: one paragraph per line."""
    lines = text.split("\n") if text else [""]
    return (
        "<body>" + "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines) + "</body>"
    )


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS and tag not in ("br", "hr", "body"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def to_text(markup: str) -> str:
    """Close rich text to its plain-text rendering."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts).strip("\n")


def wrap_body(markup: str) -> str:
    """Rich text must be wrapped in ``<body>``; wrap bare markup."""
    stripped = markup.strip()
    if stripped.startswith("<body") and stripped.endswith("</body>"):
        return stripped
    return f"<body>{stripped}</body>"


def _inner(markup: str) -> str:
    stripped = markup.strip()
    if stripped.startswith("<body") and stripped.endswith("</body>"):
        return stripped[stripped.index(">") + 1 : -len("</body>")]
    return stripped


def sanitize(markup: str) -> str:
    """Written rich text as stored: Close's subset only, wrapped in ``<body>``."""
    cleaned = nh3.clean(
        _inner(markup),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )
    return f"<body>{cleaned}</body>"


class _MentionFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        mentioned = found.get("data-id")
        is_mention = tag == "span" and found.get("data-type") == "mention"
        if is_mention and mentioned and mentioned not in self.ids:
            self.ids.append(mentioned)


def mentions(markup: str) -> list[str]:
    """The user and group ids rich text mentions, first seen first (``note_mentions``)."""
    finder = _MentionFinder()
    finder.feed(markup)
    finder.close()
    return finder.ids


def pair(obj: dict[str, object], sent: dict[str, object], text_key: str, html_key: str) -> None:
    """Keep a text/html pair in sync: html wins when both are sent (Close's rule)."""
    if sent.get(html_key) is not None:
        markup = sanitize(str(sent[html_key]))
        obj[html_key] = markup
        obj[text_key] = to_text(markup)
    elif sent.get(text_key) is not None:
        obj[html_key] = to_html(str(sent[text_key]))
    elif html_key in sent or text_key in sent:
        obj[text_key] = ""
        obj[html_key] = to_html("")
