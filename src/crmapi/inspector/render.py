"""The Jinja2 environment: autoescaped templates, and the filters that format Close's values.

Rich text from the API (notes, email bodies, WhatsApp messages) is the only markup shown as
markup, and only after ``nh3`` (the ammonia HTML sanitiser) has kept an allow-list of tags and
attributes: no scripts, no event handlers, no ``javascript:`` URLs.
"""

import functools
from datetime import datetime
from typing import Any

import nh3
import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from crmapi.util import dates

# Rich text as Close's editor writes it; nothing that runs, loads or styles the page.
RICH_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
    "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "u", "ul",
}  # fmt: skip
RICH_ATTRIBUTES = {"a": {"href", "title"}}


def rich_text(markup: str | None) -> Markup:
    cleaned = nh3.clean(
        markup or "",
        tags=RICH_TAGS,
        attributes=RICH_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)


def when(value: str | None) -> str:
    """An instant as people read it, in UTC (the page states the zone)."""
    if not value:
        return ""
    try:
        moment = dates.to_datetime(value)
    except (TypeError, ValueError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: int | float | None) -> str:
    if not seconds:
        return "0:00"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def money(cents: int | float | None, currency: str = "USD") -> str:
    if cents is None:
        return ""
    return f"{cents / 100:,.2f} {currency}"


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def short(value: Any) -> str:
    """A value in one line, for diff cells."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def iso_date(value: str | None) -> str:
    return dates.to_datetime(value).date().isoformat() if value else ""


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crmapi.inspector", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        rich_text=rich_text,
        when=when,
        duration=duration,
        money=money,
        pretty=pretty,
        short=short,
        iso_date=iso_date,
    )
    env.globals["now"] = lambda: datetime.now().astimezone()
    return env


# The navigation every page shows. A slot ``inspector/registry.py`` fills with its pages when it
# is imported (the page modules render through this one, so it cannot import them back).
NAVIGATION: list[Any] = []


def render_page(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(pages=tuple(NAVIGATION), **context)
