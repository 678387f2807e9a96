"""A sequence's sending window (more.md §5.1 ``schedule``): weekday ranges in its timezone.

``{"ranges": [{"weekday": 1, "start": "09:00", "end": "16:59"}]}``: weekday 1 is Monday and 7
Sunday (ISO), times are the sequence's local wall time, ``end`` included to its last second. A
step that comes due outside every range waits for the next one to open. No schedule (or no
ranges): any time.
"""

import re
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from crmapi.domain.errors import InvalidRequest

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_RANGES = 100


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """An IANA name Python knows (``America/Los_Angeles``, ``US/Eastern``), else a 400."""
    if name not in _zones():
        raise InvalidRequest(field_errors={"timezone": f"Unknown time zone: {name[:64]}."})
    return name


def _invalid(problem: str) -> InvalidRequest:
    return InvalidRequest(field_errors={"schedule": f"Not a valid schedule: {problem}."})


def _range(index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _invalid(f"range {index} must be an object")
    weekday, start, end = item.get("weekday"), item.get("start"), item.get("end")
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
        raise _invalid(f"range {index}: weekday must be 1 (Monday) to 7 (Sunday)")
    for value in (start, end):
        if not isinstance(value, str) or not _HHMM.match(value):
            raise _invalid(f"range {index}: start and end must be HH:MM")
    if str(start) >= str(end):
        raise _invalid(f"range {index}: start must be before end")
    return {"weekday": weekday, "start": start, "end": end}


def check(schedule: Any) -> dict[str, Any] | None:
    """The schedule as stored (only the keys Close documents), or a 400 naming the problem."""
    if schedule is None:
        return None
    ranges = schedule.get("ranges") if isinstance(schedule, dict) else None
    if not isinstance(ranges, list) or len(ranges) > MAX_RANGES:
        raise _invalid(f"ranges must be a list of at most {MAX_RANGES} items")
    return {"ranges": [_range(i, item) for i, item in enumerate(ranges)]}


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_open(moment: datetime, zone_name: str, schedule: dict[str, Any] | None) -> datetime:
    """The first instant at or after ``moment`` (aware) inside the window."""
    ranges = (schedule or {}).get("ranges") or []
    if not ranges:
        return moment
    try:
        zone = ZoneInfo(zone_name)
    except ZoneInfoNotFoundError:
        return moment
    local = moment.astimezone(zone)
    candidates = []
    for days in range(8):
        day = local.date() + timedelta(days=days)
        for item in ranges:
            if item["weekday"] != day.isoweekday():
                continue
            start = datetime.combine(day, _clock(item["start"]), zone)
            end = datetime.combine(day, _clock(item["end"]), zone) + timedelta(seconds=59)
            if start <= local <= end:
                return moment
            if local < start:
                candidates.append(start)
    return min(candidates).astimezone(moment.tzinfo) if candidates else moment
