"""The request journal: per organization, a bounded ring of what the API was asked and answered.

Bounded three ways so a long CI run cannot exhaust memory (WireMock's unbounded journal does):
at most ``max_entries`` per organization, bodies cut at ``body_max`` bytes, and at most
``bytes_max`` bytes of bodies per organization. It lives in this server process
(docs/decisions.md). Entries keep raw bytes; they are parsed only when read, so writing one
costs a few microseconds on the request path.
"""

import asyncio
import fnmatch
import itertools
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from crmapi.domain.errors import InvalidRequest
from crmapi.emulator import criteria
from crmapi.emulator.suggest import suggest

REDACTED = frozenset({b"authorization", b"cookie", b"x-crmapi-admin-token", b"proxy-authorization"})
DEFAULT_BYTES_MAX = 64 * 1024 * 1024
Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class Entry:
    method: str
    path: str
    query: bytes
    headers: Headers
    request_body: bytes = b""
    request_size: int = 0
    status: int = 0
    response_headers: Headers = field(default_factory=list)
    response_body: bytes = b""
    response_size: int = 0
    operation: str = ""
    group: str = ""
    started: float = 0.0  # wall clock, epoch seconds
    duration_ms: float = 0.0
    events: list[str] = field(default_factory=list)
    fault: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    api_key_id: str | None = None
    raw_path: str = ""
    unrouted: bool = False  # matched no route; the suggestion is worked out when read
    suggestion: dict[str, Any] | None = None
    org_time: str = ""
    id: str = ""

    @property
    def cost(self) -> int:
        return len(self.request_body) + len(self.response_body) + 512


def _header(headers: Headers, name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _headers(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in headers:
        name = key.decode("latin-1").lower()
        text = "[redacted]" if key.lower() in REDACTED else value.decode("latin-1")
        out[name] = f"{out[name]}, {text}" if name in out else text
    return out


def _body(raw: bytes, size: int) -> Any:
    if not raw:
        return None
    if len(raw) == size:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return raw.decode("utf-8", "replace")


def render(entry: Entry, bodies: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entry.id,
        "at": datetime.fromtimestamp(entry.started, UTC).isoformat(),
        "org_time": entry.org_time,
        "method": entry.method,
        "path": entry.path,
        "raw_path": entry.raw_path or entry.path,
        "query": dict(parse_qsl(entry.query.decode("latin-1"), keep_blank_values=True)),
        "operation": entry.operation,
        "group": entry.group,
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 3),
        "api_key_id": entry.api_key_id,
        "user_agent": _header(entry.headers, b"user-agent"),
        "events": list(entry.events),
        "fault": entry.fault,
        "warnings": list(entry.warnings),
        "unrouted": entry.unrouted,
    }
    if entry.unrouted:
        view["suggestion"] = suggestion(entry)
    if bodies:
        view["request"] = {
            "headers": _headers(entry.headers),
            "body": _body(entry.request_body, entry.request_size),
            "body_size": entry.request_size,
            "body_truncated": len(entry.request_body) < entry.request_size,
        }
        view["response"] = {
            "headers": _headers(entry.response_headers),
            "body": _body(entry.response_body, entry.response_size),
            "body_size": entry.response_size,
            "body_truncated": len(entry.response_body) < entry.response_size,
        }
    return view


def suggestion(entry: Entry) -> dict[str, Any] | None:
    """The route an unrouted entry probably meant, computed on first read (it compares the
    path with every route, too slow for the request path) and then kept."""

    if entry.suggestion is None:
        entry.suggestion = suggest(entry.raw_path or entry.path, entry.path) or {}
    return entry.suggestion or None


class Ring:
    """One organization's entries, oldest first, within its count and byte bounds."""

    def __init__(self, max_entries: int, bytes_max: int) -> None:
        self.entries: deque[Entry] = deque()
        self.max_entries = max_entries
        self.bytes_max = bytes_max
        self.bytes = 0
        self.dropped = 0

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.bytes += entry.cost
        while len(self.entries) > self.max_entries or (
            self.bytes > self.bytes_max and len(self.entries) > 1
        ):
            self.bytes -= self.entries.popleft().cost
            self.dropped += 1


class Journal:
    """Every organization's ring, and the live tails listening to them."""

    def __init__(self, max_entries: int, body_max: int, bytes_max: int = DEFAULT_BYTES_MAX):
        self.max_entries = max_entries
        self.body_max = body_max
        self.bytes_max = bytes_max
        self.rings: dict[str, Ring] = {}
        self.tails: dict[str, list[asyncio.Queue[Entry]]] = {}
        self._seq = itertools.count(1)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def add(self, org: str, entry: Entry) -> None:
        entry.id = f"jr_{next(self._seq)}"
        ring = self.rings.get(org)
        if ring is None:
            ring = self.rings[org] = Ring(self.max_entries, self.bytes_max)
        ring.add(entry)
        for queue in self.tails.get(org, ()):
            if queue.qsize() < 1000:  # a stalled tail loses entries, never the server memory
                queue.put_nowait(entry)

    def entries(self, org: str) -> Iterable[Entry]:
        ring = self.rings.get(org)
        return list(ring.entries) if ring else []

    def newest_first(self, org: str) -> Iterator[Entry]:
        ring = self.rings.get(org)
        return reversed(list(ring.entries)) if ring else iter(())

    def get(self, org: str, entry_id: str) -> Entry | None:
        return next((e for e in self.entries(org) if e.id == entry_id), None)

    def clear(self, org: str) -> int:
        ring = self.rings.pop(org, None)
        return len(ring.entries) if ring else 0

    def stats(self, org: str) -> dict[str, int]:
        ring = self.rings.get(org)
        return {
            "entries": len(ring.entries) if ring else 0,
            "bytes": ring.bytes if ring else 0,
            "dropped": ring.dropped if ring else 0,
            "max_entries": self.max_entries,
            "body_max": self.body_max,
            "bytes_max": self.bytes_max,
        }

    def subscribe(self, org: str) -> asyncio.Queue[Entry]:
        queue: asyncio.Queue[Entry] = asyncio.Queue()
        self.tails.setdefault(org, []).append(queue)
        return queue

    def unsubscribe(self, org: str, queue: asyncio.Queue[Entry]) -> None:
        listeners = self.tails.get(org, [])
        if queue in listeners:
            listeners.remove(queue)
        if not listeners:
            self.tails.pop(org, None)


# Criteria: which entries a find/count/verify is about.

_SCALARS = ("method", "operation", "group", "api_key_id", "user_agent")
KNOWN_CRITERIA = frozenset(
    {*_SCALARS, "path", "status", "query", "body", "response_body", "warnings", "fault", "unrouted"}
)


def check_criteria(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest(field_errors={"criteria": "Must be an object."})
    unknown = set(raw) - KNOWN_CRITERIA
    if unknown:
        raise InvalidRequest(
            field_errors={
                "criteria": f"Unknown criteria {sorted(unknown)}; use {sorted(KNOWN_CRITERIA)}."
            }
        )
    for key in ("query", "body", "response_body"):
        if key in raw:
            if not isinstance(raw[key], dict):
                raise InvalidRequest(field_errors={key: "Must be an object of matchers."})
            for name, m in raw[key].items():
                criteria.check(m, f"{key}.{name}")
    for key in ("status", *_SCALARS):
        if key in raw:
            criteria.check(raw[key], key)
    return dict(raw)


def _normal_path(path: str) -> str:
    while "//" in path:
        path = path.replace("//", "/")
    return path if path.endswith("/") or "*" in path else path + "/"


def failures(crit: Mapping[str, Any], view: Mapping[str, Any]) -> list[str]:
    """The criteria ``view`` (a rendered entry) does not meet; empty when it matches."""
    failed = []
    for key in _SCALARS:
        if key in crit:
            value = view.get(key)
            m = crit[key]
            if key == "method" and isinstance(m, str):
                m = m.upper()
            if not criteria.match(m, value if value is not None else criteria.MISSING):
                failed.append(key)
    if "path" in crit and not _path_matches(str(crit["path"]), view):
        failed.append("path")
    if "status" in crit and not criteria.match(crit["status"], view["status"]):
        failed.append("status")
    for key, source in (
        ("query", view["query"]),
        ("body", (view.get("request") or {}).get("body")),
        ("response_body", (view.get("response") or {}).get("body")),
    ):
        for name, m in crit.get(key, {}).items():
            if not criteria.match(m, criteria.lookup(source, name)):
                failed.append(f"{key}.{name}")
    if "warnings" in crit:
        wanted = crit["warnings"]
        has = view["warnings"]
        ok = (
            bool(has) == wanted
            if isinstance(wanted, bool)
            else any(w.split("=")[0] == wanted or w == wanted for w in has)
        )
        if not ok:
            failed.append("warnings")
    if "fault" in crit:
        fault = view["fault"]
        wanted = crit["fault"]
        ok = (
            (fault is not None) == wanted
            if isinstance(wanted, bool)
            else (fault is not None and fault.get("id") == wanted)
        )
        if not ok:
            failed.append("fault")
    if "unrouted" in crit and bool(crit["unrouted"]) != view["unrouted"]:
        failed.append("unrouted")
    return failed


def _path_matches(wanted: str, view: Mapping[str, Any]) -> bool:

    pattern = _normal_path(wanted)
    path = view["path"]
    if "*" in pattern:
        return fnmatch.fnmatchcase(path, pattern)
    return bool(path == pattern)


def check_count(raw: Any) -> dict[str, int]:
    """``3`` means exactly 3; else ``{"eq"|"gte"|"lte"|"gt"|"lt": n}``; default at least 1."""
    if raw is None:
        return {"gte": 1}
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return {"eq": raw}
    ops = {"eq", "gte", "lte", "gt", "lt"}
    if (
        isinstance(raw, dict)
        and raw
        and set(raw) <= ops
        and all(isinstance(v, int) and not isinstance(v, bool) for v in raw.values())
    ):
        return dict(raw)
    raise InvalidRequest(field_errors={"count": 'A whole number or {"eq"|"gte"|"lte": n}.'})


def count_ok(count: Mapping[str, int], actual: int) -> bool:
    return criteria.match(dict(count), actual)


def near_misses(crit: Mapping[str, Any], views: Iterable[dict[str, Any]], n: int = 3) -> list[Any]:
    """The entries closest to the criteria (fewest failed criteria), with what failed."""
    scored = []
    for view in views:
        failed = failures(crit, view)
        if failed:
            scored.append((len(failed), view, failed))
    scored.sort(key=lambda item: item[0])
    return [{"failed": failed, "entry": _brief(view)} for _, view, failed in scored[:n]]


def _brief(view: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "method", "path", "query", "operation", "status", "warnings")
    out = {k: view[k] for k in keys}
    out["body"] = (view.get("request") or {}).get("body")
    return out


def har(entries: Iterable[Entry], base: str) -> dict[str, Any]:
    """HAR 1.2 of the entries, oldest first (browsers and proxies import it)."""
    items = []
    for entry in entries:
        view = render(entry)
        query = entry.query.decode("latin-1")
        req_headers = view["request"]["headers"]
        resp_headers = view["response"]["headers"]
        items.append(
            {
                "startedDateTime": view["at"],
                "time": view["duration_ms"],
                "request": {
                    "method": entry.method,
                    "url": base.rstrip("/")
                    + (entry.raw_path or entry.path)
                    + (f"?{query}" if query else ""),
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": [{"name": k, "value": v} for k, v in req_headers.items()],
                    "queryString": [{"name": k, "value": v} for k, v in view["query"].items()],
                    **(
                        {
                            "postData": {
                                "mimeType": req_headers.get("content-type", "application/json"),
                                "text": entry.request_body.decode("utf-8", "replace"),
                            }
                        }
                        if entry.request_body
                        else {}
                    ),
                    "headersSize": -1,
                    "bodySize": entry.request_size,
                },
                "response": {
                    "status": entry.status,
                    "statusText": "",
                    "httpVersion": "HTTP/1.1",
                    "cookies": [],
                    "headers": [{"name": k, "value": v} for k, v in resp_headers.items()],
                    "content": {
                        "size": entry.response_size,
                        "mimeType": resp_headers.get("content-type", ""),
                        "text": entry.response_body.decode("utf-8", "replace"),
                    },
                    "redirectURL": "",
                    "headersSize": -1,
                    "bodySize": entry.response_size,
                },
                "cache": {},
                "timings": {"send": 0, "wait": view["duration_ms"], "receive": 0},
                "comment": entry.operation,
            }
        )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "crmapi", "version": "1"},
            "entries": items,
        }
    }


def now() -> float:
    return time.time()
