"""``/_crmapi/info`` and the plane's OpenAPI document."""

from typing import Any

from crmapi import __version__
from crmapi.emulator.plane import PlaneCtx, PlaneOp


def get_info(ctx: PlaneCtx) -> dict[str, Any]:
    settings = ctx.settings
    return {
        "version": __version__,
        "mode": settings.mode,
        "backend": ctx.db.dialect,
        "admin_token_set": bool(settings.admin_token),
        "rate_limit_per_key": settings.rate_limit_per_key,
    }


def get_org_info(ctx: PlaneCtx) -> dict[str, Any]:
    """Who the caller is in the organization it drives (the org key's user, or the admin)."""
    return {
        "organization_id": ctx.org,
        "user_id": ctx.principal.user_id if ctx.principal else None,
        "admin": ctx.admin,
    }


OPS = [
    PlaneOp(
        "GET", "/info", get_info, "public", "The emulator's effective configuration", blocking=False
    ),
    PlaneOp(
        "GET",
        "/orgs/{org}/info",
        get_org_info,
        "org",
        "Who this credential is in the organization",
        blocking=False,
    ),
]
