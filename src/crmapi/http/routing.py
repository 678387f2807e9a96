"""The route table, built from the registry's declarations (``crmapi/registry.py``)."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from starlette.routing import Route

from crmapi import registry
from crmapi.activities import handlers as activities
from crmapi.events import api as events
from crmapi.events import webhooks
from crmapi.http.endpoint import Op, dispatcher
from crmapi.http.operations import operation_name
from crmapi.http.ratelimit import endpoint_group
from crmapi.resources.handlers import GENERIC
from crmapi.resources.spec import VERB_ROUTES, Operation, ResourceSpec

API_PREFIX = "/api/v1"

RouteDecl = tuple[str, dict[str, Op]]

# Resources whose modules declare their HTTP routes themselves (the event system's).
OWN_ROUTES: dict[str, list[tuple[str, dict[str, Operation]]]] = {
    "event": events.ROUTES,
    "webhook": webhooks.ROUTES,
}


def route_table() -> list[RouteDecl]:
    """Every path crmapi serves, relative to ``/api/v1``: each resource's, then each activity
    type's (``/activity/<type>/``)."""
    out: list[RouteDecl] = []
    for spec in registry.RESOURCES:
        out += resource_routes(spec)
    for activity in registry.TYPES:
        out += _paths(f"/activity/{activity.path}/", activities.operations(activity), None)
    return out


def resource_routes(spec: ResourceSpec) -> list[RouteDecl]:
    """A resource's paths: its actions' own paths first (``/lead/merge/`` must not be read as
    ``/lead/{id}/``), then the collection and the item."""
    if spec.own_routes:
        return [
            (path, {method: _op(op, None, "") for method, op in ops.items()})
            for path, ops in OWN_ROUTES[spec.name]
        ]
    out: list[RouteDecl] = []
    for base in (spec.path, *spec.aliases):
        out += _paths(base, spec.operations, spec, actions=True)
    return out


def _paths(
    base: str,
    operations: Mapping[str, Operation],
    spec: ResourceSpec | None,
    actions: bool = False,
) -> list[RouteDecl]:
    by_suffix: dict[str, dict[str, Op]] = {}
    for action in spec.actions if spec is not None and actions else ():
        by_suffix.setdefault(action.suffix, {})[action.method] = _op(action.operation, None, "")
    for suffix in ("", "{id}/"):
        for verb, operation in operations.items():
            where, method = VERB_ROUTES[verb]
            if where == suffix:
                by_suffix.setdefault(suffix, {})[method] = _op(operation, spec, verb)
    ordered = [s for s in by_suffix if s not in ("", "{id}/")] + ["", "{id}/"]
    return [(base + s, dict(sorted(by_suffix[s].items()))) for s in ordered if by_suffix.get(s)]


def _op(operation: Operation, spec: ResourceSpec | None, verb: str) -> Op:
    """The HTTP operation of a declared one: lists read the resource's ``ListSpec``, every
    verb but delete its ``FieldSet`` (both also describe it in /openapi.json)."""
    fields = operation.fields
    list_spec = operation.list_spec
    if spec is not None:
        fields = fields or (spec.fields if verb != "delete" else None)
        list_spec = list_spec or (spec.list_spec if verb == "list" else None)
    handler = operation.handler
    if handler is None:
        assert spec is not None, operation.summary
        handler = GENERIC[verb](spec)
    return Op(
        handler,
        operation.status,
        summary=operation.summary,
        list_spec=list_spec,
        params=operation.params,
        fields=fields,
        media_types=operation.media_types,
    )


# Wraps one path's dispatcher (the emulator's journal, faults and strict mode: crmapi.app
# passes it in, so this layer never imports the plane above it).
Wrap = Callable[[str, dict[str, Op], Any], Any]


def build(decls: Iterable[RouteDecl], wrap: Wrap | None = None) -> list[Route]:
    routes = []
    for path, ops in decls:
        named = {
            m: replace(
                op,
                group=op.group or endpoint_group(path, m),
                operation=op.operation or operation_name(m, path, op.list_spec is not None),
            )
            for m, op in ops.items()
        }
        methods = sorted({*named, "POST", "PUT", "DELETE", "PATCH", "GET", "OPTIONS"})
        endpoint: Any = dispatcher(named)
        if wrap is not None:
            endpoint = wrap(API_PREFIX + path, named, endpoint)
        routes.append(Route(API_PREFIX + path, endpoint, methods=methods))
    return routes
