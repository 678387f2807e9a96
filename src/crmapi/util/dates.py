"""Datetimes as Close emits them: always microseconds and an explicit UTC offset.

Every datetime is stored as this canonical UTC string too, so that string order is time
order on both backends and the hot path never converts a timestamp.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone

CANONICAL = "%Y-%m-%dT%H:%M:%S.%f+00:00"

# What ``parse`` reads, as a regular expression (for the OpenAPI document): a day, or a day
# and time with an optional offset (days 1-28 and years 1000-8999 keep every value matching
# it a real, convertible date).
_DAY = "[1-8][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
_TIME = (
    "T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?"
    "(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?"
)
PATTERN = f"^{_DAY}({_TIME})?$"

# Set while the demo story replays history through the real write paths, and for the
# duration of a request of an organization whose test clock is frozen (emulator/clock.py).
_FROZEN: ContextVar[str | None] = ContextVar("crmapi_frozen_now", default=None)
# Seconds added to wall time for an organization whose test clock runs at an offset.
_OFFSET: ContextVar[float] = ContextVar("crmapi_clock_offset", default=0.0)


def now() -> str:
    """The current time in canonical form (the organization's test clock, when it has one)."""
    frozen_now = _FROZEN.get()
    if frozen_now is not None:
        return frozen_now
    offset = _OFFSET.get()
    if offset:
        return (datetime.now(UTC) + timedelta(seconds=offset)).strftime(CANONICAL)
    return datetime.now(UTC).strftime(CANONICAL)


@contextmanager
def clock(frozen_at: str | None, offset_seconds: float = 0.0) -> Iterator[None]:
    """``now()`` reads a frozen instant, or wall time moved by an offset, in this context."""
    frozen_token = _FROZEN.set(frozen_at)
    offset_token = _OFFSET.set(offset_seconds)
    try:
        yield
    finally:
        _OFFSET.reset(offset_token)
        _FROZEN.reset(frozen_token)


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
