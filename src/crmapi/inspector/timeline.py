"""A lead's timeline: one page of the activity feed, in the feed's own order, with emails
gathered into their threads and every activity paired with the template that shows it."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from crmapi.activities.registry import BY_TYPE
from crmapi.inspector.api import Api

PAGE_SIZE = 25
# How each type is shown (templates/activity/*.html); a type missing here falls back to its
# fields as a list, so a new activity type is visible before it has a template.
TEMPLATES = {
    "Email": "email",
    "Call": "call",
    "Note": "note",
    "SMS": "sms",
    "WhatsAppMessage": "whatsapp",
    "Meeting": "meeting",
    "LeadStatusChange": "status_change",
    "OpportunityStatusChange": "status_change",
    "FormSubmission": "form_submission",
    "CustomActivity": "custom",
    "LeadMerge": "lead_merge",
    "TaskCompleted": "task_completed",
    "Created": "created",
}
LABELS = {
    "Email": "Email",
    "Call": "Call",
    "Note": "Note",
    "SMS": "SMS",
    "WhatsAppMessage": "WhatsApp",
    "Meeting": "Meeting",
    "LeadStatusChange": "Lead status change",
    "OpportunityStatusChange": "Opportunity status change",
    "FormSubmission": "Form submission",
    "CustomActivity": "Custom activity",
    "LeadMerge": "Merge",
    "TaskCompleted": "Task completed",
    "Created": "Lead created",
    "EmailThread": "Email thread",
}
# The types a reader can filter on: what the default feed shows, plus "Custom" (any type).
FILTER_TYPES = tuple(
    name for name, spec in BY_TYPE.items() if spec.in_default_feed and name != "CustomActivity"
)


@dataclass
class Entry:
    activity: dict[str, Any]
    template: str
    label: str
    emails: list[dict[str, Any]] = field(default_factory=list)  # a thread's, newest first
    fields: list[tuple[str, Any]] = field(default_factory=list)  # a custom activity's, named


@dataclass
class Timeline:
    entries: list[Entry]
    has_more: bool
    skip: int
    filters: dict[str, str]


def feed_params(lead_id: str, filters: dict[str, str], skip: int) -> dict[str, Any]:
    """The feed query for the filters the page offers (type, user, dates as days in UTC)."""
    params: dict[str, Any] = {"lead_id": lead_id, "_skip": skip, "_limit": PAGE_SIZE}
    if filters.get("type"):
        params["_type"] = filters["type"]
    if filters.get("user"):
        params["user_id"] = filters["user"]
    if filters.get("from"):
        params["date_created__gte"] = filters["from"]
    if filters.get("to"):
        params["date_created__lt"] = _next_day(filters["to"])
    return params


def _next_day(value: str) -> str:
    try:
        return (date.fromisoformat(value) + timedelta(days=1)).isoformat()
    except ValueError:
        return value  # the feed's own validation answers with its 400


def load(api: Api, lead_id: str, filters: dict[str, str], skip: int) -> Timeline:
    page = api.get("/activity/", **feed_params(lead_id, filters, skip))
    names = custom_names(api) if any(a["_type"] == "CustomActivity" for a in page["data"]) else {}
    return Timeline(_entries(page["data"], names), bool(page["has_more"]), skip, filters)


def _entries(items: list[dict[str, Any]], names: dict[str, str]) -> list[Entry]:
    """Emails of one thread on this page join the entry of the thread's newest email."""
    entries: list[Entry] = []
    threads: dict[str, Entry] = {}
    for item in items:
        kind = item["_type"]
        if kind == "Email" and item.get("thread_id"):
            entry = threads.get(item["thread_id"])
            if entry is not None:
                entry.emails.append(item)
                continue
        entry = Entry(item, TEMPLATES.get(kind, "generic"), LABELS.get(kind, kind))
        if kind == "Email":
            entry.emails.append(item)
            if item.get("thread_id"):
                threads[item["thread_id"]] = entry
        if kind == "CustomActivity":
            entry.label = names.get(item.get("custom_activity_type_id") or "", entry.label)
            entry.fields = custom_values(item, names)
        entries.append(entry)
    return entries


def custom_names(api: Api) -> dict[str, str]:
    """Names of custom activity types and of their fields (``custom.cf_...``), by id."""
    names = {t["id"]: t["name"] for t in api.get("/custom_activity/")["data"]}
    for f in api.every("/custom_field/activity/"):
        names[f"custom.{f['id']}"] = f["name"]
    return names


def custom_values(activity: dict[str, Any], names: dict[str, str]) -> list[tuple[str, Any]]:
    return [
        (names.get(key, key.removeprefix("custom.")), value)
        for key, value in activity.items()
        if key.startswith("custom.")
    ]
