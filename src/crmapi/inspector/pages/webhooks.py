"""Webhooks: subscriptions (paused and resumed through ``PUT /webhook/{id}/`` as a client
would), their deliveries with every attempt, redelivery and replay, and sinks (built-in
receivers), the last three from the emulator plane."""

from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from crmapi.inspector.plane import segment
from crmapi.inspector.web import UI, Page, Rendered, View, Visit

PAGE_SIZE = 25
STATES = ("pending", "retrying", "delivered", "dropped", "paused")


def list_webhooks(visit: Visit) -> Rendered:
    subscriptions = visit.api.get("/webhook/")["data"]
    filters = {
        "subscription_id": visit.params.get("subscription_id", "").strip(),
        "state": visit.params.get("state", "").strip(),
    }
    deliveries = visit.plane.get("/webhook-deliveries", **filters)["data"]
    return Rendered(
        "webhooks.html",
        {
            "title": "Webhooks",
            "subscriptions": subscriptions,
            "filters": filters,
            "states": STATES,
            "deliveries": deliveries[:PAGE_SIZE],
            "more_deliveries": max(0, len(deliveries) - PAGE_SIZE),
            "sinks": [_sink(visit, s) for s in visit.plane.get("/sinks")["data"]],
        },
    )


def _sink(visit: Visit, sink: dict[str, Any]) -> dict[str, Any]:
    """A sink with its latest arrivals (the plane keeps the last thousand)."""
    full = visit.plane.get(f"/sinks/{segment(sink['name'])}")
    return {**sink, "latest": list(reversed(full["received"][-5:]))}


def pause(visit: Visit) -> Response:
    return _update(visit, "paused")


def resume(visit: Visit) -> Response:
    return _update(visit, "active")


def _update(visit: Visit, status: str) -> Response:
    webhook_id = visit.path_params["id"]
    visit.api.call("PUT", f"/webhook/{webhook_id}/", body={"status": status})
    return RedirectResponse(f"{UI}/webhooks/", 303)


def _back(visit: Visit, anchor: str) -> Response:
    keep = {k: visit.form[k] for k in ("subscription_id", "state") if visit.form.get(k)}
    query = f"?{urlencode(keep)}" if keep else ""
    return RedirectResponse(f"{UI}/webhooks/{query}#{anchor}", 303)


def redeliver(visit: Visit) -> Response:
    delivery_id = segment(visit.form.get("delivery_id"))
    visit.plane.call("POST", f"/webhook-deliveries/{delivery_id}/redeliver")
    return _back(visit, delivery_id)


def replay(visit: Visit) -> Response:
    event_id = segment(visit.form.get("event_id", "").strip())
    body = {"subscription_id": visit.form.get("subscription_id", "")}
    created = visit.plane.call("POST", f"/events/{event_id}/replay", body=body)
    return RedirectResponse(f"{UI}/webhooks/#{created['id']}", 303)


def flush(visit: Visit) -> Response:
    """Send the organization's due deliveries now, outside the worker's rounds."""
    webhook_id = segment(visit.path_params["id"])
    visit.plane.call("POST", f"/webhooks/{webhook_id}/flush")
    return RedirectResponse(f"{UI}/webhooks/?subscription_id={webhook_id}#deliveries-h", 303)


def create_sink(visit: Visit) -> Response:
    visit.plane.call("POST", "/sinks", body={"name": visit.form.get("name", "").strip()})
    return RedirectResponse(f"{UI}/webhooks/#sinks-h", 303)


def fail_sink(visit: Visit) -> Response:
    name = segment(visit.form.get("name"))
    raw = visit.form.get("next", "1")
    body = {"status": 500, "next": int(raw) if raw.isdigit() and len(raw) < 6 else raw}
    visit.plane.call("PUT", f"/sinks/{name}/behaviour", body=body)
    return RedirectResponse(f"{UI}/webhooks/#sink-{name}", 303)


def delete_sink(visit: Visit) -> Response:
    visit.plane.call("DELETE", f"/sinks/{segment(visit.form.get('name'))}")
    return RedirectResponse(f"{UI}/webhooks/#sinks-h", 303)


PAGE = Page(
    "webhooks",
    "Webhooks",
    (
        View("GET", "", list_webhooks),
        View("POST", "{id}/pause/", pause),
        View("POST", "{id}/resume/", resume),
        View("POST", "{id}/flush/", flush),
        View("POST", "deliveries/redeliver/", redeliver),
        View("POST", "events/replay/", replay),
        View("POST", "sinks/", create_sink),
        View("POST", "sinks/fail/", fail_sink),
        View("POST", "sinks/delete/", delete_sink),
    ),
)
