"""The event log, filtered as ``GET /event/`` filters, each event's change shown as a diff."""

from typing import Any
from urllib.parse import urlencode

from crmapi.events.api import FILTERS
from crmapi.inspector import diff
from crmapi.inspector.web import Page, Rendered, View, Visit

PAGE_SIZE = 25
DATES = {"from": "date_updated__gte", "to": "date_updated__lt"}


def list_events(visit: Visit) -> Rendered:
    filters = {name: visit.params.get(name, "").strip() for name in (*FILTERS, *DATES)}
    params: dict[str, Any] = {k: v for k, v in filters.items() if k in FILTERS and v}
    params.update({DATES[k]: filters[k] for k in DATES if filters[k]})
    cursor = visit.params.get("cursor", "")
    page = visit.api.get("/event/", **params, _cursor=cursor, _limit=PAGE_SIZE)
    return Rendered(
        "events.html",
        {
            "title": "Event log",
            "filters": filters,
            "filter_names": FILTERS,
            "keep": urlencode({k: v for k, v in filters.items() if v}),
            "events": [(e, diff.changes(e)) for e in page["data"]],
            "cursor_next": page["cursor_next"],
            "cursor_previous": page["cursor_previous"],
        },
    )


PAGE = Page("events", "Event log", (View("GET", "", list_events),))
