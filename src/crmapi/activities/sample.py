"""Realistic samples of activities, for ``crmapi seed`` and the demo.

Each activity type declares ``sample`` (a function of a ``Sampler``, a lead and a moment) and
``sample_weight`` (its share, in percent, of a seeded feed) on its ``ActivitySpec``; the seeder
(``seed.Generator``) is the ``Sampler`` and has no per-type code. Everything drawn comes from
the sampler's ``rng``, so a seed reproduces the same rows.
"""

import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from crmapi.util import richtext

NOTES = [
    "Met at the conference; interested in the team plan.",
    "Asked for a follow-up next week.",
    "Budget approved for Q3.",
    "Decision maker is the CTO.",
    "Wants a demo of the reporting.",
    "Sent pricing sheet.",
    "Competitor contract ends in March.",
]
SUBJECTS = [
    "Quick question",
    "Pricing for your team",
    "Following up",
    "Demo next week?",
    "Contract draft",
    "Intro",
]


class Sampler(Protocol):
    """What a sample function may use (``seed.Generator`` provides it)."""

    rng: random.Random
    # The open email thread of each lead (id, subject): replies join it across batches.
    threads: dict[str, tuple[str, str]]
    as_rows: bool  # base() returns table rows (bulk loader) rather than objects
    lead_statuses: list[dict[str, Any]]

    def new_id(self, prefix: str) -> str: ...

    def base(
        self,
        type_name: str,
        lead_id: str,
        when: datetime,
        data: dict[str, Any],
        contact: bool = False,
        anonymous: bool = False,
    ) -> Any:
        """One activity of ``type_name`` with its own fields ``data``; ``contact`` picks one of
        the lead's contacts, ``anonymous`` leaves out user_id and created_by."""
        ...


# (sampler, lead id, moment) -> the activities (objects or rows) it makes, in order.
Sample = Callable[[Sampler, str, datetime], list[Any]]


def ts(moment: datetime) -> str:
    """``dates.canonical`` for the generator's naive UTC moments (no time zone conversion)."""
    return moment.isoformat(timespec="microseconds") + "+00:00"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(m: datetime) -> str:
    """``m.strftime("%a, %d %b %Y %H:%M:%S +0000")`` without strftime's cost or locale."""
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


_HTML: dict[str, str] = {}


def html(text: str) -> str:
    """``richtext.to_html`` memoised: sample texts come from a handful of sentences."""
    found = _HTML.get(text)
    if found is None:
        found = _HTML[text] = richtext.to_html(text)
    return found
