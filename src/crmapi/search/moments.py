"""Date values of the text language: absolute (at their precision) and relative phrases.

An absolute value stands for the interval its precision names: ``2023-10-09`` is that whole
day, ``2024-02-01T00:00`` that minute. So ``date_updated <= 2023-10-09`` includes the day and
``date_updated >= "2024-02-01T00:00"`` (tap-closeio) starts at the minute. A value with a
fraction of a second, and ``N <unit> ago``, are instants.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from crmapi.search.tree import Ago, DayStart, Fixed, Moment, MomentRange, Unit
from crmapi.util import dates

UNITS: dict[str, Unit] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "seconds"),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("day", "days"), "days"),
    **dict.fromkeys(("week", "weeks"), "weeks"),
    **dict.fromkeys(("month", "months"), "months"),
    **dict.fromkeys(("year", "years"), "years"),
}
DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}
_AGO = re.compile(r"^(\d{1,6})\s*([a-z]+)\s+ago$")
_MINUTE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d$")
_SECOND = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(Z|[+-]\d\d:?\d\d)?$")
# Months and years have no fixed length; Close does not say which calendar rule it uses.
_SECONDS: dict[Unit, float] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 7 * 86400,
    "months": 30 * 86400,
    "years": 365 * 86400,
}


@dataclass(frozen=True)
class Span:
    """``start`` and, for a value with a precision, the first moment after it."""

    start: Moment
    end: Moment | None = None


def span(text: str, tz: float) -> Span:
    """Read a date value; raise ``ValueError`` with a reason when it is not one."""
    value = " ".join(text.lower().split())
    if value in DAYS:
        return Span(DayStart(DAYS[value]), DayStart(DAYS[value] + 1))
    if value == "now":
        return Span(Ago(0, "seconds"))
    ago = _AGO.match(value)
    if ago:
        unit = UNITS.get(ago.group(2))
        if unit is None:
            raise ValueError(f"unknown time unit {ago.group(2)!r} (use minutes, hours, days...)")
        return Span(Ago(int(ago.group(1)), unit))
    return _absolute(text.strip(), tz)


def _absolute(text: str, tz: float) -> Span:
    try:
        start = dates.parse(text, tz)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not a date: use YYYY-MM-DD, an ISO 8601 datetime, "
            "today, yesterday or '<n> days ago'"
        ) from None
    step = _precision(text)
    if step is None:
        return Span(Fixed(start))
    return Span(Fixed(start), Fixed(_shift(start, step)))


# Beyond the calendar: the first and last instants there are (``1000 years ago`` is fine).
EARLIEST = "0001-01-01T00:00:00.000000+00:00"
LATEST = "9999-12-31T23:59:59.999999+00:00"


def _shift(value: str, seconds: float) -> str:
    try:
        return dates.shift(value, seconds=seconds)
    except OverflowError:
        return EARLIEST if seconds < 0 else LATEST


def _precision(text: str) -> float | None:
    if len(text) == 10:
        return 86400
    if _MINUTE.match(text):
        return 60
    if _SECOND.match(text):
        return 1
    return None


def comparison(op: str, value: Span) -> MomentRange:
    """The range ``field <op> value`` selects (``:`` and ``=`` select the value itself)."""
    start, end = value.start, value.end
    if end is None:
        instant = {
            ">": MomentRange(gt=start),
            ">=": MomentRange(gte=start),
            "<": MomentRange(lt=start),
            "<=": MomentRange(lte=start),
        }
        return instant.get(op, MomentRange(gte=start, lte=start))
    ranged = {
        ">": MomentRange(gte=end),
        ">=": MomentRange(gte=start),
        "<": MomentRange(lt=start),
        "<=": MomentRange(lt=end),
    }
    return ranged.get(op, MomentRange(gte=start, lt=end))


def resolve(moment: Moment, now: str, tz: float) -> str:
    """The canonical UTC instant a moment stands for, at ``now`` in the caller's zone."""
    if isinstance(moment, Fixed):
        return moment.value
    if isinstance(moment, Ago):
        return _shift(now, -moment.amount * _SECONDS[moment.unit])
    local = dates.to_datetime(now) + timedelta(hours=tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    start = midnight + timedelta(days=moment.days) - timedelta(hours=tz)
    return dates.canonical(start)
