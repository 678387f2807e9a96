"""The plane's own OpenAPI document (``/_crmapi/openapi.json``), built from its declarations."""

import re
from typing import Any

from crmapi import __version__
from crmapi.emulator.plane import PLANE_PREFIX, PlaneOp

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "org": [{"basic": []}, {"bearer": []}, {"admin": []}],
    "admin": [{"admin": []}],
    "public": [],
}


def _operation(op: PlaneOp) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": _operation_id(op),
        "security": _SECURITY[op.scope],
        "tags": list(op.tags) or [op.path.strip("/").split("/")[0]],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", op.path)
        ],
        "responses": {
            str(op.status): {
                "description": "OK",
                **(
                    {"content": {"application/json": {"schema": dict(op.response_schema)}}}
                    if op.response_schema
                    else {}
                ),
            },
            "400": {"description": "Invalid request (Close's error shape)"},
            "401": {"description": "No or a wrong credential"},
            "404": {"description": "Not found, or another organization's"},
        },
    }
    if op.body_schema is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": dict(op.body_schema)}},
        }
    return operation


def _operation_id(op: PlaneOp) -> str:
    words = [w for w in re.split(r"[/{}_-]+", op.path) if w]
    return "_".join([op.method.lower(), *words])


def document(ops: list[PlaneOp]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path = PLANE_PREFIX + op.path.rstrip("/") + "/"
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmapi emulator plane",
            "version": __version__,
            "description": "Test-double controls beside the Close API (absent in production mode).",
        },
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic", "description": "The org's API key"},
                "bearer": {"type": "http", "scheme": "bearer"},
                "admin": {"type": "apiKey", "in": "header", "name": "X-Crmapi-Admin-Token"},
            }
        },
        "paths": paths,
    }
