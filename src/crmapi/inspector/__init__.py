"""The inspector: server-rendered pages at ``/_crmapi/ui/`` (and ``/``) to look at an
organization's leads, timelines, events and webhooks in a browser. Off in production mode."""

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from crmapi.inspector import signin
from crmapi.inspector.registry import PAGES
from crmapi.inspector.web import UI, Rendered, make_endpoint, page_response

# Shipped files (package data), served from memory; nothing is fetched from elsewhere.
STATIC = {
    "inspector.css": "text/css; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
    "htmx.LICENSE.txt": "text/plain; charset=utf-8",
}


def _static_body(name: str) -> bytes:
    return resources.files("crmapi.inspector").joinpath("static", name).read_bytes()


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in STATIC:
        return Response("Not found", 404, media_type="text/plain")
    cache = request.app.state.__dict__.setdefault("inspector_static", {})
    if name not in cache:
        cache[name] = _static_body(name)
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(cache[name], media_type=STATIC[name], headers=headers)


async def home(request: Request) -> Response:
    return RedirectResponse(f"{UI}/leads/", 303)


async def unknown(request: Request) -> Response:
    """Any other inspector path: a page saying so, not the API's JSON 404."""
    rendered = Rendered(
        "error.html", {"title": "Not found", "message": "There is no such inspector page."}, 404
    )
    return page_response(request, rendered)


def inspector_routes() -> list[Route]:
    # CloseConventions gives every path a trailing slash before routing, static files too.
    routes = [
        Route("/", home, methods=["GET"]),
        Route(f"{UI}/", home, methods=["GET"]),
        Route(f"{UI}/signin/", signin.show, methods=["GET"]),
        Route(f"{UI}/signin/", signin.submit, methods=["POST"]),
        Route(f"{UI}/signout/", signin.signout, methods=["POST"]),
        Route(f"{UI}/static/{{name}}/", static, methods=["GET"]),
    ]
    for page in PAGES:
        for view in page.views:
            path = f"{UI}/{page.slug}/{view.path}"
            routes.append(Route(path, make_endpoint(page, view), methods=[view.method]))
    routes.append(Route(f"{UI}/{{rest:path}}", unknown, methods=["GET"]))
    return routes
