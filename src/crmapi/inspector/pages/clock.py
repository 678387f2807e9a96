"""The organization's clock and its fault rules: the current time and mode, the pending due
work in time order, advance buttons, and fault rules with their counters (one-click templates
for the usual misbehaviours, or a rule of the plane's own format)."""

import copy
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import RedirectResponse, Response

from crmapi.domain.errors import InvalidRequest
from crmapi.inspector.plane import segment
from crmapi.inspector.web import UI, Page, Rendered, View, Visit

# Advance buttons: the ``by`` the plane's advance accepts, and their labels.
STEPS = (("1m", "+1 minute"), ("1h", "+1 hour"), ("1d", "+1 day"), ("7d", "+1 week"))
KIND_LABELS = {
    "message.send": "Send a scheduled message",
    "email.followup": "Email follow-up task",
    "webhook.delivery": "Webhook delivery attempt",
}
MAX_RULE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Template:
    """A fault rule one click turns on (added under ``id``) and off (removed)."""

    id: str
    title: str
    description: str
    rule: dict[str, Any]

    def build(self) -> dict[str, Any]:
        return {"id": self.id, **copy.deepcopy(self.rule)}


TEMPLATES = (
    Template(
        "template-close-throttling",
        "Close throttling",
        "Every third API request is refused as Close refuses a key over its limit: 429 with "
        "Close's body (API call count exceeded for this period, rate_reset 2 s, rate_limit, "
        "rate_window) and its rate-limit headers.",
        {
            "trigger": {"every": 3},
            "effect": {"kind": "rate_limit", "limit": 40, "window": 1, "reset": 2},
        },
    ),
    Template(
        "template-503-storm",
        "503 storm",
        "The next 10 API requests answer 503 Service unavailable, then the API recovers.",
        {"trigger": {"next": 10}, "effect": {"kind": "status", "status": 503}},
    ),
    Template(
        "template-slow-api",
        "Slow API",
        "Every API request waits before it is answered: log-normal latency around 800 ms, "
        "at most 5 s.",
        {"effect": {"kind": "latency", "dist": "lognormal", "median": 800, "sigma": 0.5,
                    "max": 5000}},
    ),
)  # fmt: skip
BY_ID = {t.id: t for t in TEMPLATES}


def show(visit: Visit) -> Rendered:
    state = visit.plane.get("/clock")
    rules = visit.plane.get("/faults")["data"]
    on = {r["id"]: r for r in rules}
    return Rendered(
        "clock.html",
        {
            "title": "Clock and faults",
            "clock": state,
            "pending": [
                {**p, "label": KIND_LABELS.get(p["kind"], p["kind"])} for p in state["pending"]
            ],  # fmt: skip
            "steps": STEPS,
            "fired": visit.params.get("fired"),
            "rules": rules,
            "templates": [(t, on.get(t.id)) for t in TEMPLATES],
            "example": orjson.dumps(TEMPLATES[1].rule).decode(),
        },
    )


def advance(visit: Visit) -> Response:
    by = visit.form.get("by", "")
    body = {"until": "idle"} if by == "idle" else {"by": by}
    result = visit.plane.call("POST", "/clock/advance", body=body)
    fired = sum(1 for f in result.get("fired", []) if f.get("kind") != "event.retention")
    return RedirectResponse(f"{UI}/clock/?fired={fired}", 303)


def set_mode(visit: Visit) -> Response:
    body: dict[str, Any] = {"mode": visit.form.get("mode", "")}
    if body["mode"] == "offset":  # ticking again from the time it was frozen at
        body["now"] = visit.plane.get("/clock")["now"]
    visit.plane.call("PUT", "/clock", body=body)
    return RedirectResponse(f"{UI}/clock/", 303)


def _rule(form: dict[str, str]) -> dict[str, Any]:
    template = form.get("template")
    if template:
        if template not in BY_ID:
            raise InvalidRequest(field_errors={"template": "No such template."})
        return BY_ID[template].build()
    raw = form.get("rule", "").strip()
    if len(raw) > MAX_RULE_BYTES:
        raise InvalidRequest(["The rule is too large."])
    try:
        rule = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(field_errors={"rule": "Not valid JSON."}) from None
    if not isinstance(rule, dict):
        raise InvalidRequest(field_errors={"rule": "A rule is a JSON object."})
    return rule


def add_fault(visit: Visit) -> Response:
    visit.plane.call("POST", "/faults", body=_rule(visit.form))
    return RedirectResponse(f"{UI}/clock/#faults-h", 303)


def remove_fault(visit: Visit) -> Response:
    visit.plane.call("DELETE", f"/faults/{segment(visit.form.get('id'))}")
    return RedirectResponse(f"{UI}/clock/#faults-h", 303)


PAGE = Page(
    "clock",
    "Clock and faults",
    (
        View("GET", "", show),
        View("POST", "advance/", advance),
        View("POST", "mode/", set_mode),
        View("POST", "faults/", add_fault),
        View("POST", "faults/remove/", remove_fault),
    ),
)
