"""``GET /api/v1/openapi.json``: an OpenAPI 3.1 document generated from the route table.

Nothing here is written by hand per resource: paths and methods come from ``route_table()``,
query parameters from each list's ``ListSpec``, request bodies from the ``FieldSet`` that
validates them, and error bodies from ``http.errors``. A route without metadata still appears
(generic object schemas), so the document cannot drift from what is served.
"""

import re
from collections.abc import Iterable
from typing import Any

from crmapi.domain.fields import Field, FieldSet
from crmapi.http.endpoint import Op
from crmapi.http.routing import API_PREFIX, RouteDecl, route_table
from crmapi.query.grammar import MAX_FIELDS, MAX_INT
from crmapi.query.model import FilterSpec, ListSpec, ModeSpec, ParamSpec
from crmapi.search.exact import NOTHING
from crmapi.util.dates import PATTERN as DATE_PATTERN

Schema = dict[str, Any]

_STRING_KINDS = {"str", "id", "enum", "datetime", "date"}
_FILTER_TYPES = {"id": "string", "str": "string", "datetime": "string", "int": "integer"}
_PATH_PARAM = re.compile(r"{(\w+)}")
# What query.grammar accepts as a boolean (Python clients send True/False).
_BOOL_PATTERN = "^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])\\s*$"
# Strings never hold NUL (PostgreSQL cannot store it; every body with one is a 400).
NO_NUL = "^[^\\u0000]*$"
NOT_BLANK = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$"
# A comma list with at least one value (an empty one is a 400).
_LIST_PATTERN = "^[^\\u0000]*[^,\\s\\u0000][^\\u0000]*$"

ERROR_SCHEMAS: dict[str, Schema] = {
    "ValidationError": {
        "type": "object",
        "description": "400: every problem at once; nothing was changed.",
        "required": ["errors", "field-errors"],
        "properties": {
            "errors": {"type": "array", "items": {"type": "string"}},
            "field-errors": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "RateLimited": {
        "type": "object",
        "description": "429, Close's shape: the details at the top level and under error.",
        "required": ["error", "rate_reset"],
        "properties": {
            "rate_reset": {"type": "number"},
            "error": {
                "type": "object",
                "required": ["message", "rate_reset"],
                "properties": {
                    "message": {"type": "string"},
                    "rate_reset": {"type": "number"},
                    "rate_limit": {"type": "integer"},
                    "rate_window": {"type": "integer"},
                    "rate_endpoint_group": {"type": "string"},
                    "rate_limit_type": {"type": "string"},
                },
            },
        },
    },
    "ServerError": {
        "type": "object",
        "description": "5xx: an object-valued error (what Close's clients parse).",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            }
        },
    },
}

_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("Invalid request", "ValidationError"),
    "401": ("Missing or unknown API key or token", "Error"),
    "403": ("Not allowed for this member's role (another member's webhook subscription)", "Error"),
    "404": ("Unknown id (or another organization's)", "Error"),
    "405": ("Method not allowed for this path", "Error"),
    "413": ("Request body too large", "Error"),
    "415": ("Body is not JSON", "Error"),
    "429": (
        "Rate limited (per key, per organization, or failed logins per address)",
        "RateLimited",
    ),
    "503": ("Request deadline exceeded; retry", "ServerError"),
}


def _nullable(schema: Schema, f: Field) -> Schema:
    if f.nullable and "type" in schema:
        schema = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def field_schema(f: Field) -> Schema:
    """The JSON schema of one declared field, as the validator accepts it."""
    schema: Schema
    if f.kind in _STRING_KINDS:
        schema = {"type": "string"}
        if f.kind == "enum":
            schema["enum"] = list(f.choices)
        elif f.kind == "datetime":
            schema["format"] = "date-time"
        elif f.kind == "date":
            schema["format"] = "date"
        elif f.kind == "id":
            schema.update(minLength=1, maxLength=100)
        if f.kind in ("str", "id"):
            schema["pattern"] = NO_NUL if f.blank else NOT_BLANK
        if f.max_length is not None:
            schema["maxLength"] = f.max_length
    elif f.kind in ("int", "number"):
        # The bounds the validator enforces: declared, else what storage holds (64-bit).
        low, high = f.bounds
        schema = {"type": "integer" if f.kind == "int" else "number"}
        schema.update(minimum=low, maximum=high)
    elif f.kind == "bool":
        schema = {"type": "boolean"}
    elif f.kind in ("str_list", "object_list"):
        item: Schema = (
            {"type": "string", "pattern": NO_NUL} if f.kind == "str_list" else {"type": "object"}
        )
        schema = {"type": "array", "items": item}
        if f.max_items is not None:
            schema["maxItems"] = f.max_items
    elif f.kind == "object":
        schema = {"type": "object"}
    else:
        schema = {}
    return _nullable(schema, f)


def body_schema(fields: FieldSet, creating: bool) -> Schema:
    """Request body: the writable fields; unknown keys are accepted and ignored (Close does)."""
    writable = [f for f in fields.fields if (f.create if creating else f.update)]
    schema: Schema = {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in writable},
        "additionalProperties": True,
    }
    required = [f.name for f in writable if creating and f.required]
    if required:
        schema["required"] = required
    return schema


def object_schema(fields: FieldSet | None) -> Schema:
    """A returned object: ``id`` plus the declared fields (any may be left out by ``_fields``)."""
    properties: dict[str, Schema] = {"id": {"type": "string"}}
    for f in fields.fields if fields else ():
        if f.kind != "any" and not f.on_request and f.name != "status":
            properties[f.name] = field_schema(f)
    return {"type": "object", "properties": properties, "additionalProperties": True}


def _filter_param(name: str, spec: FilterSpec, empty_is_absent: bool = False) -> Schema:
    multi = spec.op == "in" or spec.multi
    description = "Comma-separated list." if multi else ""
    if spec.choices and multi:
        description += f" Each one of: {', '.join(spec.choices)}."
    if spec.requires:
        description += f" Only together with {' or '.join(spec.requires)}."
    if spec.requires_order:
        description += f" Only when sorting by {spec.requires_order}."
    schema = _filter_schema(spec, multi)
    if empty_is_absent and "pattern" in schema:  # the event log reads "date_updated__gt="
        schema["pattern"] = f"^$|{schema['pattern']}"
    param = _query_param(name, schema, description)
    # The same rules, machine-readable (OpenAPI cannot say "only with another parameter").
    if spec.requires:
        param["x-requires"] = list(spec.requires)
    if spec.requires_order:
        param["x-requires-order"] = spec.requires_order
    return param


def _filter_schema(spec: FilterSpec, multi: bool) -> Schema:
    """What query.grammar accepts for one filter value (or comma list of values)."""
    if spec.pattern is not None:
        return {"type": "string", "pattern": spec.pattern}
    if multi:
        if spec.choices:
            one = "\\s*(" + "|".join(re.escape(c) for c in spec.choices) + ")\\s*"
            return {"type": "string", "pattern": f"^{one}(,{one})*$"}
        return {"type": "string", "pattern": _LIST_PATTERN}
    if spec.choices:
        return {"type": "string", "enum": list(spec.choices)}
    if spec.kind == "bool":
        return {"type": "string", "pattern": _BOOL_PATTERN}
    if spec.kind == "datetime":
        return {"type": "string", "pattern": DATE_PATTERN}
    if spec.kind == "int":
        return {"type": "integer", "minimum": -MAX_INT, "maximum": MAX_INT}
    return {"type": "string", "maxLength": spec.max_length, "pattern": NO_NUL}


def _query_param(
    name: str, schema: Schema, description: str = "", empty_is_absent: bool = False
) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False, "schema": schema}
    if empty_is_absent:
        # ``_limit=`` is the default, not an error: clients send empty values (``_cursor=``).
        param["allowEmptyValue"] = True
    if description.strip():
        param["description"] = description.strip()
    return param


def _mode_param(name: str, mode: ModeSpec) -> Schema:
    schema = {"type": "string", "enum": list(mode.choices)}
    return _query_param(name, schema, mode.description, empty_is_absent=True)


def _plain_param(name: str, spec: ParamSpec) -> Schema:
    schema: Schema = {"type": "string"} if spec.kind == "str" else {"type": "integer"}
    if spec.choices:
        schema["enum"] = list(spec.choices)
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    return _query_param(name, schema, spec.description)


def fields_param() -> Schema:
    return _query_param(
        "_fields",
        {"type": "string"},
        f"Comma-separated field names to return (at most {MAX_FIELDS}).",
        empty_is_absent=True,
    )


def _paging_params(spec: ListSpec) -> list[Schema]:
    """``_skip``/``_limit``/``_order_by``/``_fields``; ``_cursor``/``_limit``; or ``_fields``."""
    if spec.paging == "none":
        return [fields_param()]
    if spec.paging == "cursor":
        return [
            _query_param(
                "_cursor",
                {"type": "string"},
                "cursor_next or cursor_previous of a previous page; empty or absent: newest.",
                empty_is_absent=True,
            ),
            _query_param(
                "_limit",
                {"type": "integer", "minimum": 1, "maximum": min(spec.max_limit, MAX_INT)},
                empty_is_absent=True,
            ),
        ]
    skip: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_INT}
    if spec.max_skip is not None:
        skip["maximum"] = min(spec.max_skip, MAX_INT)
    orders = sorted(spec.orderings)
    limit = {"type": "integer", "minimum": 0, "maximum": spec.max_limit}
    order = {"type": "string", "enum": [*orders, *(f"-{o}" for o in orders)]}
    return [
        _query_param("_skip", skip, empty_is_absent=True),
        _query_param("_limit", limit, empty_is_absent=True),
        _query_param("_order_by", order, empty_is_absent=True),
        fields_param(),
    ]


def list_params(spec: ListSpec) -> list[Schema]:
    """The paging parameters, every declared filter and every handler-applied mode."""
    params = _paging_params(spec)
    # The event log (cursor paging) reads an empty filter as absent; other lists refuse it.
    empty = spec.paging == "cursor"
    # A parameter Close documents but this server refuses (``exact.refused``) is left out:
    # the document describes what this server accepts.
    params += [
        _filter_param(name, f, empty)
        for name, f in sorted(spec.filters.items())
        if f.pattern != NOTHING
    ]
    params += [_mode_param(name, m) for name, m in sorted(spec.modes.items())]
    return params


def _list_schema(spec: ListSpec, fields: FieldSet | None) -> Schema:
    """The listing envelope: ``has_more`` paging, or the event log's cursors."""
    data = {"type": "array", "items": object_schema(fields)}
    if spec.paging == "cursor":
        cursor = {"type": ["string", "null"]}
        return {
            "type": "object",
            "required": ["data", "cursor_next", "cursor_previous"],
            "properties": {"data": data, "cursor_next": cursor, "cursor_previous": cursor},
            "additionalProperties": True,
        }
    return {
        "type": "object",
        "required": ["data", "has_more"],
        "properties": {"data": data, "has_more": {"type": "boolean"}},
        "additionalProperties": True,
    }


def operation_id(method: str, path: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{slug or 'root'}"


def _responses(op: Op, method: str, path: str) -> dict[str, Schema]:
    ok: Schema
    if op.list_spec is not None:
        ok = _list_schema(op.list_spec, op.fields)
    elif method == "DELETE":
        ok = {"type": "object"}
    elif op.fields is not None or "{id}" in path:
        ok = object_schema(op.fields)
    else:
        ok = {"type": "object"}
    success: Schema = {"description": "OK", "content": {"application/json": {"schema": ok}}}
    if op.media_types:
        file: Schema = {"type": "string", "format": "binary"}
        content = {media_type: {"schema": file} for media_type in op.media_types}
        success = {"description": "A file", "content": content}
    if op.status == 204:
        success = {"description": "No Content"}
    responses: dict[str, Schema] = {str(op.status): success}
    for code, (description, name) in _ERRORS.items():
        responses[code] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    return responses


def _operation(op: Op, method: str, path: str) -> Schema:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(path)
    ]
    if op.list_spec is not None:
        params += list_params(op.list_spec)
    elif method in ("GET", "POST", "PUT"):
        params.append(fields_param())
    params += [_plain_param(name, spec) for name, spec in sorted(op.params.items())]
    operation: Schema = {
        "operationId": operation_id(method, path),
        "summary": op.summary or f"{method} {path}",
        "parameters": params,
        "responses": _responses(op, method, path),
    }
    if method in ("POST", "PUT"):
        schema = (
            body_schema(op.fields, creating=method == "POST")
            if op.fields is not None
            else {"type": "object", "additionalProperties": True}
        )
        operation["requestBody"] = {
            # An empty body is a valid create when no field is required (POST /lead/ -> Untitled)
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": schema}},
        }
    return operation


def _links(decls: list[RouteDecl]) -> dict[tuple[str, str], dict[str, Schema]]:
    """create -> get/update/delete through the response's ``id`` (stateful fuzzing)."""
    by_path = dict(decls)
    links: dict[tuple[str, str], dict[str, Schema]] = {}
    for path, ops in decls:
        item = by_path.get(path + "{id}/")
        if "POST" not in ops or not item:
            continue
        links[(path, "POST")] = {
            f"{method.title()}Created": {
                "operationId": operation_id(method, path + "{id}/"),
                "parameters": {"id": "$response.body#/id"},
            }
            for method in sorted(item)
        }
    return links


def document(decls: Iterable[RouteDecl] | None = None) -> Schema:
    """The whole OpenAPI document for ``decls`` (default: every route crmapi serves)."""
    table = list(decls if decls is not None else route_table())
    links = _links(table)
    paths: dict[str, Schema] = {}
    for path, ops in table:
        item: Schema = {}
        for method, op in sorted(ops.items()):
            operation = _operation(op, method, path)
            if (path, method) in links:
                operation["responses"][str(op.status)]["links"] = links[(path, method)]
            item[method.lower()] = operation
        paths[API_PREFIX + path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "crmapi: the Close REST API v1",
            "version": "1",
            "description": "Generated from crmapi's route table; see docs/reliability.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": paths,
        "components": {
            "schemas": ERROR_SCHEMAS,
            "securitySchemes": {
                "ApiKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The API key as the user name, empty password.",
                },
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
