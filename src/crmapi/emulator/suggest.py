"""The route an unrouted request probably meant: a missing ``/api/v1``, a wrong version, a
misspelt resource (ids are compared as ``{id}``); the raw path's missing slash or ``//`` is
noted too (both are served, so they only matter next to another mistake)."""

import difflib
import re
from functools import cache
from typing import Any

from crmapi.http.routing import API_PREFIX, route_table

_PARAM = re.compile(r"\{[^}]*\}")
# Close ids (lead_..., acti_...) and anything long and opaque.
_ID = re.compile(r"^([a-z]+_[A-Za-z0-9]{8,}|[A-Za-z0-9_-]{24,})$")
_PREFIXES = ("/api/v1/", "/api/v2/", "/api/v0/", "/api/", "/v1/", "/")


@cache
def _templates() -> tuple[tuple[str, re.Pattern[str]], ...]:

    out = []
    for path, _ in route_table():
        template = API_PREFIX + path
        pieces = [re.escape(piece) for piece in _PARAM.split(template)]
        out.append((template, re.compile("^" + "[^/]+".join(pieces) + "$")))
    return tuple(out)


def _route_for(path: str) -> str | None:
    return next((t for t, pattern in _templates() if pattern.match(path)), None)


def _shape(path: str) -> str:
    return "/".join("{id}" if _ID.match(p) else p for p in path.split("/"))


# Comparing is quadratic in the path's length: longer paths are not anyone's typo.
MAX_COMPARED = 160


def _similarity(path: str, template: str) -> float:
    """Segment by segment (a misspelt resource, an extra or missing segment): cheap, unlike a
    character diff of the whole path, which is quadratic in its length."""
    ps = [p for p in path.split("/") if p]
    ts = [p for p in _PARAM.sub("{id}", template).split("/") if p]
    if abs(len(ps) - len(ts)) > 1:
        return 0.0
    pairs = list(zip(ps, ts, strict=False))
    same = sum(difflib.SequenceMatcher(None, a[:60], b).ratio() for a, b in pairs)
    return same / max(len(ps), len(ts))


def suggest(raw_path: str, path: str) -> dict[str, Any] | None:
    if len(path) > MAX_COMPARED:
        return None
    notes = []
    if not raw_path.endswith("/"):
        notes.append("missing trailing slash")
    if "//" in raw_path:
        notes.append("'//' in the path")
    for prefix in _PREFIXES:
        if path.startswith(prefix) and prefix != "/api/v1/":
            candidate = "/api/v1/" + path[len(prefix) :]
            route = _route_for(candidate)
            if route is not None:
                reason = "missing /api/v1" if prefix == "/" else f"{prefix} instead of /api/v1/"
                return {"route": route, "path": candidate, "reasons": [reason, *notes]}
    shaped = _shape(path if path.startswith("/api/v1/") else "/api/v1/" + path.lstrip("/"))
    scored = [(_similarity(shaped, t), t) for t, _ in _templates()]
    score, original = max(scored)
    if score < 0.6:
        return None
    return {"route": original, "reasons": ["no such route; closest match", *notes]}
