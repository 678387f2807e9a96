"""The route table, built from each resource module's declarations."""

from collections.abc import Iterable
from dataclasses import replace

from starlette.routing import Route

from crmapi.http.endpoint import Op, dispatcher
from crmapi.http.ratelimit import endpoint_group

API_PREFIX = "/api/v1"

RouteDecl = tuple[str, dict[str, Op]]


def route_table() -> list[RouteDecl]:
    """Every path crmapi serves, relative to ``/api/v1``."""
    from crmapi.activities import handlers as activities
    from crmapi.events import api as events
    from crmapi.events import webhooks
    from crmapi.resources import (
        contacts,
        custom_activity_types,
        custom_fields,
        leads,
        merge,
        opportunities,
        pipelines,
        statuses,
        tasks,
        users,
    )

    return [
        *users.ROUTES,
        *statuses.ROUTES,
        *pipelines.ROUTES,
        *merge.ROUTES,  # /lead/merge/ before /lead/{id}/
        *leads.ROUTES,
        *opportunities.ROUTES,
        *tasks.ROUTES,
        *contacts.ROUTES,
        *activities.routes(),
        *custom_fields.ROUTES,
        *custom_activity_types.ROUTES,
        *events.ROUTES,
        *webhooks.ROUTES,
    ]


def build(decls: Iterable[RouteDecl]) -> list[Route]:
    routes = []
    for path, ops in decls:
        named = {m: replace(op, group=op.group or endpoint_group(path, m)) for m, op in ops.items()}
        methods = sorted({*named, "POST", "PUT", "DELETE", "PATCH", "GET", "OPTIONS"})
        routes.append(Route(API_PREFIX + path, dispatcher(named), methods=methods))
    return routes
