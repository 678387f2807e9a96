"""Reading plane request bodies: small typed getters with Close-shaped 400s."""

import re
from datetime import timedelta
from typing import Any

from crmapi.domain.errors import InvalidRequest
from crmapi.util import dates

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest(["The request body must be a JSON object."])
    return body


def text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(field_errors={key: "Not a valid string."})
    return value


def instant(body: dict[str, Any], key: str) -> str | None:
    value = text(body, key)
    if value is None:
        return None
    try:
        return dates.parse(value)
    except ValueError:
        raise InvalidRequest(field_errors={key: "Not a valid datetime."}) from None


def duration(body: dict[str, Any], key: str) -> timedelta | None:
    """Seconds (a number), ISO 8601 (``P3D``, ``PT1H30M``) or short (``90s``, ``1d``)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        short = _SHORT.match(value.strip())
        if short:
            return timedelta(**{_UNITS[short["unit"]]: float(short["n"])})
        iso = _DURATION.match(value.strip().upper())
        if iso and value.strip().upper() not in ("P", "PT"):
            return timedelta(**{k: float(v) for k, v in iso.groupdict().items() if v})
    raise InvalidRequest(
        field_errors={key: "Not a valid duration (seconds, ISO 8601 like P3D, or 90s/2h/1d)."}
    )


def integer(body: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = body.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidRequest(field_errors={key: "A valid integer is required."})
    return value


def flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise InvalidRequest(field_errors={key: "Must be a valid boolean."})
    return value
