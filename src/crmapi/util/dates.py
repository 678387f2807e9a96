"""Datetimes as Close emits them: always microseconds and an explicit UTC offset.

Every datetime is stored as this canonical UTC string too, so that string order is time
order on both backends and the hot path never converts a timestamp.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone

CANONICAL = "%Y-%m-%dT%H:%M:%S.%f+00:00"

# Set only while the demo story replays history through the real write paths.
_FROZEN: ContextVar[str | None] = ContextVar("crmapi_frozen_now", default=None)


def now() -> str:
    """The current time in canonical form."""
    return _FROZEN.get() or datetime.now(UTC).strftime(CANONICAL)


@contextmanager
def frozen(moment: datetime) -> Iterator[str]:
    """Make ``now()`` return ``moment`` in this context (demo data written "in the past")."""
    token = _FROZEN.set(canonical(moment))
    try:
        yield canonical(moment)
    finally:
        _FROZEN.reset(token)


def today(tz_offset_hours: float = 0.0) -> str:
    """The caller's calendar date (``YYYY-MM-DD``) given its ``X-TZ-Offset``."""
    current = to_datetime(now()) + timedelta(hours=tz_offset_hours)
    return current.date().isoformat()


def canonical(value: datetime) -> str:
    """Render an aware (or UTC-naive) datetime canonically."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "+00:00"


def _zone(tz_offset_hours: float) -> timezone:
    return timezone(timedelta(hours=tz_offset_hours))


def parse(text: str, tz_offset_hours: float = 0.0) -> str:
    """Parse a client datetime or date into canonical form.

    Accepts full ISO-8601 with offset (``Z`` too), naive ``YYYY-MM-DDTHH:MM[:SS[.f]]`` and
    plain ``YYYY-MM-DD``. Naive values are read in the ``X-TZ-Offset`` zone. Raises
    ``ValueError`` for anything else.
    """
    text = text.strip()
    if not text or len(text) > 40:
        raise ValueError(text)
    # An unescaped "+" in a query string arrives as a space.
    text = text.replace(" ", "+") if "T" in text else text.replace(" ", "T", 1)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            parsed = datetime(day.year, day.month, day.day)
        else:
            parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(tz_offset_hours))
        return canonical(parsed)
    except OverflowError as exc:
        raise ValueError(text) from exc


def parse_tz_offset(header: str | None) -> float:
    """Read an ``X-TZ-Offset`` header (hours, e.g. ``-4`` or ``-2.5``); bad values mean UTC."""
    if not header:
        return 0.0
    try:
        hours = float(header)
    except ValueError:
        return 0.0
    return hours if -24 < hours < 24 else 0.0


def to_datetime(value: str) -> datetime:
    """Turn a canonical string back into an aware datetime."""
    return datetime.fromisoformat(value)


def rfc2822(value: str) -> str:
    """Render a canonical datetime as an RFC-2822 date, as in an email envelope."""
    return to_datetime(value).strftime("%a, %d %b %Y %H:%M:%S +0000")


def shift(value: str, **delta: float) -> str:
    """A canonical datetime moved by a ``timedelta(**delta)``."""
    return canonical(to_datetime(value) + timedelta(**delta))
