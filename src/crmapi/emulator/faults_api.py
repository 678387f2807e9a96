"""Fault rules through the plane: per organization, or global with the admin token."""

from typing import Any

from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.emulator.state import of


def _org(ctx: PlaneCtx) -> str | None:
    return ctx.path_params.get("org")


def list_rules(ctx: PlaneCtx) -> dict[str, Any]:
    return {"data": [r.render() for r in of(ctx.request.app).faults.rules(_org(ctx))]}


def add_rule(ctx: PlaneCtx) -> dict[str, Any]:
    return of(ctx.request.app).faults.add(_org(ctx), ctx.body).render()


def replace_rules(ctx: PlaneCtx) -> dict[str, Any]:
    body = ctx.body
    rules = body.get("rules") if isinstance(body, dict) else body
    if not isinstance(rules, list):
        raise InvalidRequest(field_errors={"rules": "A list of rules."})
    return {"data": [r.render() for r in of(ctx.request.app).faults.replace(_org(ctx), rules)]}


def clear_rules(ctx: PlaneCtx) -> dict[str, Any]:
    rules = of(ctx.request.app).faults.rules(_org(ctx))
    cleared = len(rules)
    rules.clear()
    return {"cleared": cleared}


def get_rule(ctx: PlaneCtx) -> dict[str, Any]:
    rule = of(ctx.request.app).faults.find(_org(ctx), ctx.path_params["id"])
    if rule is None:
        raise NotFound("Fault rule does not exist.")
    return rule.render()


def delete_rule(ctx: PlaneCtx) -> dict[str, Any]:
    if not of(ctx.request.app).faults.remove(_org(ctx), ctx.path_params["id"]):
        raise NotFound("Fault rule does not exist.")
    return {}


_RULE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "match": {
            "type": "object",
            "description": "api_key (key id), group, method, path "
            "(glob), query (matchers), operation; webhooks: subscription_id, "
            "object_type, action",
        },
        "trigger": {
            "type": "object",
            "description": "next, every, after, probability+seed, "
            "window {from, to} on the org clock",
        },
        "effect": {
            "type": "object",
            "description": "kind: rate_limit, status, latency, "
            "timeout, drop, truncate, malformed, page_drift, webhook",
        },
    },
    "required": ["effect"],
}


def _ops(prefix: str, scope: Any) -> list[PlaneOp]:
    def op(method: str, path: str, handler: Any, summary: str, **kw: Any) -> PlaneOp:
        return PlaneOp(
            method, prefix + path, handler, scope, summary, blocking=False, tags=("faults",), **kw
        )

    return [
        op("GET", "/faults", list_rules, "Fault rules, with their counters"),
        op(
            "POST",
            "/faults",
            add_rule,
            "Add a rule (evaluated after the existing ones)",
            body_schema=_RULE,
        ),
        op("PUT", "/faults", replace_rules, "Replace every rule"),
        op("DELETE", "/faults", clear_rules, "Remove every rule"),
        op("GET", "/faults/{id}", get_rule, "One rule and its counters"),
        op("DELETE", "/faults/{id}", delete_rule, "Remove one rule"),
    ]


OPS = [*_ops("/orgs/{org}", "org"), *_ops("", "admin")]
