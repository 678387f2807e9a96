"""Leads: the list with its search box, and a lead with its contacts, deals, tasks and
timeline (and a note form: the page's action)."""

from typing import Any

from starlette.responses import RedirectResponse, Response

from crmapi.inspector import timeline
from crmapi.inspector.web import UI, Page, Rendered, View, Visit

PAGE_SIZE = 50
FILTERS = ("type", "user", "from", "to")


def _skip(params: dict[str, str]) -> int:
    raw = params.get("skip", "0")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def list_leads(visit: Visit) -> Rendered:
    query = visit.params.get("query", "").strip()
    skip = _skip(visit.params)
    # ``query`` goes to the same listing clients call, so the search language applies here
    # as soon as the API understands it.
    page = visit.api.get(
        "/lead/", query=query, _skip=skip, _limit=PAGE_SIZE, _order_by="-date_updated"
    )
    return Rendered(
        "leads.html",
        {
            "title": "Leads",
            "query": query,
            "leads": page["data"],
            "total": page.get("total_results"),
            "skip": skip,
            "has_more": page["has_more"],
            "page_size": PAGE_SIZE,
        },
    )


def show_lead(visit: Visit) -> Rendered:
    lead_id = visit.path_params["id"]
    lead = visit.api.get(f"/lead/{lead_id}/")
    filters = {name: visit.params.get(name, "").strip() for name in FILTERS}
    tasks = visit.api.get("/task/", lead_id=lead_id, _type="all", _limit=100)
    return Rendered(
        "lead.html",
        {
            "title": lead.get("display_name") or lead.get("name") or lead_id,
            "lead": lead,
            "tasks": tasks["data"],
            "timeline": timeline.load(visit.api, lead_id, filters, _skip(visit.params)),
            "filter_types": timeline.FILTER_TYPES,
            "labels": timeline.LABELS,
            "users": _members(visit.me),
            "page_size": timeline.PAGE_SIZE,
        },
    )


def _members(me: dict[str, Any]) -> list[dict[str, Any]]:
    organizations = me.get("organizations") or [{}]
    return list(organizations[0].get("memberships", []))


def add_note(visit: Visit) -> Response:
    lead_id = visit.path_params["id"]
    visit.api.get(f"/lead/{lead_id}/")  # another organization's lead: the 404 page
    text = visit.form.get("note", "").strip()
    if text:
        visit.api.call("POST", "/activity/note/", body={"lead_id": lead_id, "note": text})
    return RedirectResponse(f"{UI}/leads/{lead_id}/#timeline", 303)


PAGE = Page(
    "leads",
    "Leads",
    (
        View("GET", "", list_leads),
        View("GET", "{id}/", show_lead),
        View("POST", "{id}/notes/", add_note),
    ),
)
