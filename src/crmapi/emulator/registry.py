"""Every operation of the emulator plane, from each module's ``OPS`` (one line per module)."""

from typing import Any

from starlette.routing import Route

from crmapi.emulator import (
    clock,
    deliveries,
    faults_api,
    info,
    journal_api,
    openapi,
    orgs,
    outbox,
    signatures,
    sinks_api,
    snapshots,
    strict_api,
    test_helpers,
)
from crmapi.emulator.plane import PlaneCtx, PlaneOp, routes


def plane_ops() -> list[PlaneOp]:
    return [
        *info.OPS,
        *orgs.OPS,
        *clock.OPS,
        *snapshots.OPS,
        *outbox.OPS,
        *test_helpers.OPS,
        *journal_api.OPS,
        *faults_api.OPS,
        *strict_api.OPS,
        *deliveries.OPS,
        *sinks_api.OPS,
        *signatures.OPS,
        *_OWN,
    ]


def plane_routes() -> list[Route]:
    return routes(plane_ops())


def _openapi(ctx: PlaneCtx) -> dict[str, Any]:
    return openapi.document(plane_ops())


_OWN = [
    PlaneOp(
        "GET", "/openapi.json", _openapi, "public", "This plane's OpenAPI document", blocking=False
    ),
]
