"""The request journal: newest first with the journal API's filters, a live tail (htmx polls
for entries after the newest shown), strict-mode warnings, unrouted requests and HAR export."""

from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from crmapi.inspector.web import UI, Page, Rendered, View, Visit

PAGE_SIZE = 50
# GET /_crmapi/orgs/{org}/journal's own query filters (``warnings`` is a checkbox).
FILTERS = ("method", "path", "status", "operation", "group")
TAIL_SECONDS = 2
LEVELS = (("off", "off: answer as Close, say nothing"), ("warn", "warn: answer as Close, warn"),
          ("strict", "strict: refuse with Close's 400"))  # fmt: skip


def _filters(visit: Visit) -> dict[str, str]:
    found = {name: visit.params.get(name, "").strip() for name in FILTERS}
    if visit.params.get("warnings") in ("1", "true"):
        found["warnings"] = "1"
    return {k: v for k, v in found.items() if v}


def _tail_url(filters: dict[str, str], since: str) -> str:
    return f"{UI}/journal/tail/?" + urlencode({**filters, "since": since})


def show(visit: Visit) -> Rendered:
    filters = _filters(visit)
    listing = visit.plane.get("/journal", **filters, limit=PAGE_SIZE)
    entries = listing["data"]
    newest = entries[0]["id"] if entries else "jr_0"
    return Rendered(
        "journal.html",
        {
            "title": "Journal",
            "filters": filters,
            "filter_names": FILTERS,
            "entries": entries,
            "stats": listing["stats"],
            "live": visit.params.get("live") != "0",
            "tail_url": _tail_url(filters, newest),
            "tail_seconds": TAIL_SECONDS,
            "keep": urlencode(filters),
            "unrouted": visit.plane.get("/journal/unrouted")["data"][:PAGE_SIZE],
            "strict": visit.plane.get("/strict"),
            "levels": LEVELS,
            "report": visit.plane.get("/strict/report")["data"],
        },
    )


def tail(visit: Visit) -> Rendered | Response:
    """Entries after ``since``: an htmx partial (204, nothing swapped, when there are none)."""
    filters = _filters(visit)
    since = visit.params.get("since", "jr_0")
    entries: list[dict[str, Any]] = visit.plane.get(
        "/journal", **filters, since=since, limit=PAGE_SIZE
    )["data"]
    if not entries:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return Rendered(
        "journal_tail.html",
        {
            "entries": entries,
            "tail_url": _tail_url(filters, entries[0]["id"]),
            "tail_seconds": TAIL_SECONDS,
        },
    )


def har(visit: Visit) -> Response:
    """The plane's HAR export of this organization's journal, as a download."""
    response: Response = visit.plane.get("/journal.har")
    response.headers["Cache-Control"] = "no-store"
    return response


def set_strict(visit: Visit) -> Response:
    """The organization's strict level; empty goes back to the server's."""
    level = visit.form.get("level", "")
    visit.plane.call("PUT", "/strict", body={"level": level or None})
    return RedirectResponse(f"{UI}/journal/#strict-h", 303)


def clear(visit: Visit) -> Response:
    visit.plane.call("DELETE", "/journal")
    return RedirectResponse(f"{UI}/journal/", 303)


PAGE = Page(
    "journal",
    "Journal",
    (
        View("GET", "", show),
        View("GET", "tail/", tail),
        View("GET", "har/", har),
        View("POST", "clear/", clear),
        View("POST", "strict/", set_strict),
    ),
)
