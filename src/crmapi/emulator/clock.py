"""``/_crmapi/orgs/{org}/clock``: read, set and advance an organization's test clock."""

import dataclasses
from typing import Any

from crmapi import due
from crmapi.domain import clock
from crmapi.domain.clock import MODES, OrgClock
from crmapi.domain.errors import InvalidRequest
from crmapi.emulator import _body, orgtime
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.util import dates

CLOCK_SCHEMA = {
    "type": "object",
    "properties": {
        "mode": {"enum": list(MODES)},
        "now": {"type": "string", "format": "date-time"},
        "offset_seconds": {"type": "number"},
    },
}
ADVANCE_SCHEMA = {
    "type": "object",
    "properties": {
        "by": {"type": ["string", "number"], "description": "P3D, PT1H, 90s, 2h, 1d or seconds"},
        "to": {"type": "string", "format": "date-time"},
        "until": {"enum": ["idle"]},
        "max_steps": {"type": "integer", "minimum": 1},
    },
}


def describe(ctx: PlaneCtx, c: OrgClock) -> dict[str, Any]:
    return {
        "organization_id": ctx.org,
        "mode": c.mode,
        "now": clock.now_for(c),
        "offset_seconds": c.offset_seconds if c.mode == "offset" else 0.0,
        "frozen_at": c.frozen_at if c.mode == "frozen" else None,
        "pending": due.pending(ctx.db, ctx.org),
    }


def current(ctx: PlaneCtx) -> OrgClock:
    with ctx.db.read() as conn:
        return clock.load(conn, ctx.org)


def get_clock(ctx: PlaneCtx) -> dict[str, Any]:
    return describe(ctx, current(ctx))


def parse_clock(body: dict[str, Any], base: OrgClock = clock.REAL) -> OrgClock:
    """``{"mode": "frozen", "now": ...}``, ``{"mode": "offset", "offset_seconds": N}`` (or
    ``"now"``: the offset that makes it that time now), ``{"mode": "real"}``."""
    mode = _body.text(body, "mode", "frozen" if "now" in body else None)
    if mode not in MODES:
        raise InvalidRequest(field_errors={"mode": f"Must be one of {', '.join(MODES)}."})
    at = _body.instant(body, "now")
    if mode == "real":
        return dataclasses.replace(base, mode="real", offset_seconds=0.0, frozen_at=None)
    if mode == "frozen":
        return dataclasses.replace(base, mode="frozen", frozen_at=at or clock.now_for(base))
    offset = body.get("offset_seconds")
    if at is not None:
        wall = dates.to_datetime(clock.now_for(clock.REAL))
        offset = (dates.to_datetime(at) - wall).total_seconds()
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        raise InvalidRequest(field_errors={"offset_seconds": "A number of seconds is required."})
    return dataclasses.replace(base, mode="offset", offset_seconds=float(offset), frozen_at=None)


def put_clock(ctx: PlaneCtx) -> dict[str, Any]:
    moved = parse_clock(_body.obj(ctx.body), current(ctx))
    due.runner.save(ctx.db, ctx.org, moved)
    forget(ctx)
    return describe(ctx, moved)


def forget(ctx: PlaneCtx) -> None:
    # Principals remembered by this process carry the old clock.
    ctx.request.app.state.auth.forget()
    orgtime.forget(ctx.org)


def advance(ctx: PlaneCtx) -> dict[str, Any]:
    body = _body.obj(ctx.body)
    by, to, until = _body.duration(body, "by"), _body.instant(body, "to"), body.get("until")
    if sum(x is not None for x in (by, to, until)) != 1:
        raise InvalidRequest(['Give exactly one of by, to or until ("idle").'])
    if until is not None and until != "idle":
        raise InvalidRequest(field_errors={"until": 'The only value is "idle".'})
    if by is not None:
        to = dates.canonical(dates.to_datetime(clock.now_for(current(ctx))) + by)
    max_steps = _body.integer(body, "max_steps", due.runner.MAX_STEPS) or due.runner.MAX_STEPS
    result = due.advance(ctx.db, ctx.settings, ctx.org, to=to, idle=until == "idle",
                         max_steps=max_steps)  # fmt: skip
    forget(ctx)
    return {"organization_id": ctx.org, **result}


OPS = [
    PlaneOp("GET", "/orgs/{org}/clock", get_clock, "org", "The organization's test clock"),
    PlaneOp(
        "PUT",
        "/orgs/{org}/clock",
        put_clock,
        "org",
        "Set the clock: real, offset or frozen",
        body_schema=CLOCK_SCHEMA,
    ),
    PlaneOp(
        "POST",
        "/orgs/{org}/clock/advance",
        advance,
        "org",
        "Advance the clock by a duration, to an instant or until idle, firing due work",
        body_schema=ADVANCE_SCHEMA,
    ),
]
