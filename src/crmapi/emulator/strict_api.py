"""Strict mode through the plane: the organization's level and its features report."""

from typing import Any

from crmapi.domain.errors import InvalidRequest
from crmapi.emulator import strict
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.emulator.state import of


def get_level(ctx: PlaneCtx) -> dict[str, Any]:
    state = of(ctx.request.app).strict
    return {
        "level": state.level(ctx.org, None),
        "organization": state.orgs.get(ctx.org),
        "server": state.server_level,
    }


def set_level(ctx: PlaneCtx) -> dict[str, Any]:
    raw = ctx.body.get("level") if isinstance(ctx.body, dict) else None
    state = of(ctx.request.app).strict
    if raw is None:
        state.orgs.pop(ctx.org, None)  # back to the server's level
    elif strict.level_of(str(raw)) is None:
        raise InvalidRequest(field_errors={"level": f"One of {', '.join(strict.LEVELS)} or null."})
    else:
        state.orgs[ctx.org] = str(raw).lower()
    return get_level(ctx)


def report(ctx: PlaneCtx) -> dict[str, Any]:
    """Warnings grouped by client User-Agent: a bug list for the integration's authors."""
    by_agent = of(ctx.request.app).strict.report.get(ctx.org, {})
    return {
        "data": [
            {
                "user_agent": agent,
                "warnings": sorted(items.values(), key=lambda w: -int(w["count"])),
                "total": sum(int(w["count"]) for w in items.values()),
            }
            for agent, items in sorted(by_agent.items())
        ]
    }


def clear_report(ctx: PlaneCtx) -> dict[str, Any]:
    of(ctx.request.app).strict.report.pop(ctx.org, None)
    return {}


def _op(method: str, path: str, handler: Any, summary: str) -> PlaneOp:
    return PlaneOp(
        method,
        "/orgs/{org}/strict" + path,
        handler,
        "org",
        summary,
        blocking=False,
        tags=("strict",),
    )


OPS = [
    _op("GET", "", get_level, "The effective strict level"),
    _op("PUT", "", set_level, "Set the organization's level (null: the server's)"),
    _op("GET", "/report", report, "Warnings grouped by User-Agent"),
    _op("DELETE", "/report", clear_report, "Forget the warnings seen"),
]
