"""Pages as declarations, and the one wrapper that gives every view its session, its
organization's API, CSRF checking and error pages.

A page module exports ``PAGE = Page(...)``; ``registry.PAGES`` lists them, and that list is
the navigation: a new page (the journal, the clock) is one module and one line there.
"""

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crmapi.domain.context import Principal
from crmapi.domain.errors import APIError, InvalidRequest, Unauthorized
from crmapi.http.auth import credential
from crmapi.inspector import session as sessions
from crmapi.inspector.api import Api
from crmapi.inspector.plane import Plane
from crmapi.inspector.render import render_page

UI = "/_crmapi/ui"
MAX_FORM_BYTES = 256 * 1024
# Pages load nothing from elsewhere and run no inline script: a note's markup that slipped
# past the sanitiser still could not run (defence in depth).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Rendered:
    template: str
    context: Mapping[str, Any]
    status: int = 200


@dataclass
class Visit:
    """One request to a view: who is signed in, the query or form, and the API as that key."""

    request: Request
    api: Api
    session: sessions.Session
    params: dict[str, str]
    form: dict[str, str]
    path_params: dict[str, str]
    me: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return self.api.principal

    @property
    def plane(self) -> Plane:
        """The emulator plane of this key's organization (and of no other)."""
        return Plane(self.request, self.api.principal)


ViewHandler = Callable[[Visit], "Rendered | Response"]


@dataclass(frozen=True)
class View:
    method: str  # GET shows, POST acts (always with a CSRF token)
    path: str  # below the page's own path: "" or "{id}/" or "{id}/pause/"
    handler: ViewHandler


@dataclass(frozen=True)
class Page:
    slug: str  # /_crmapi/ui/<slug>/
    title: str  # its label in the navigation
    views: Sequence[View]
    nav: bool = True

    @property
    def url(self) -> str:
        return f"{UI}/{self.slug}/"


def page_response(request: Request, rendered: Rendered, **extra: Any) -> HTMLResponse:
    html = render_page(rendered.template, {"request": request, **extra, **rendered.context})
    return HTMLResponse(html, rendered.status, headers=SECURITY_HEADERS)


def signin_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{UI}/signin/?next={quote(target, safe='')}", 303)


def basic_header(api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{api_key}:".encode()).decode("ascii")


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (all our forms are); anything else or anything large is refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest(["Forms are sent as application/x-www-form-urlencoded."])
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise InvalidRequest(["The form is too large."])
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def same_origin(request: Request) -> bool:
    """A browser names the page a POST came from; it must be this server (CSRF, second line)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def forbidden(request: Request, message: str) -> HTMLResponse:
    return page_response(
        request, Rendered("error.html", {"title": "Refused", "message": message}, 403)
    )


ERROR_TITLES = {400: "Not possible", 404: "Not found", 429: "Not possible"}


async def _gate(request: Request, view: View) -> tuple[sessions.Session, dict[str, str]] | Response:
    """The session and form of an allowed request, or the answer that refuses it."""
    session = sessions.load(request)
    if session is None or not session.signed_in:
        return (
            signin_redirect(request)
            if view.method == "GET"
            else forbidden(request, "Sign in first.")
        )
    if view.method != "POST":
        return session, {}
    try:
        form = await read_form(request)
    except InvalidRequest as exc:
        return forbidden(request, exc.message)
    if not (session.csrf_ok(form.get("csrf")) and same_origin(request)):
        return forbidden(request, "This form has expired or came from another site.")
    return session, form


def _visit(request: Request, session: sessions.Session, form: dict[str, str]) -> Visit | None:
    """The visit as the session's key, or None when the key no longer authenticates."""
    state = request.app.state
    try:
        principal = state.auth.authenticate(
            credential(basic_header(session.api_key)), state.db.read
        )
    except Unauthorized:
        return None
    return Visit(
        request=request,
        api=Api(principal, state.db, state.settings),
        session=session,
        params=dict(request.query_params),
        form=form,
        path_params={k: str(v) for k, v in request.path_params.items()},
    )


def _run(page: Page, view: View, visit: Visit) -> Response:
    try:
        visit.me = visit.api.get("/me/")
        result = view.handler(visit)
    except APIError as exc:  # the API's own 404s and 400s, as pages
        status = 400 if exc.status == 429 else exc.status
        title = ERROR_TITLES.get(exc.status, "Error")
        result = Rendered("error.html", {"title": title, "message": exc.message}, status)
    if isinstance(result, Response):
        return result
    return page_response(visit.request, result, me=visit.me, csrf=visit.session.csrf, current=page)


def make_endpoint(page: Page, view: View) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        gate = await _gate(request, view)
        if isinstance(gate, Response):
            return gate
        session, form = gate

        def run() -> Response:
            visit = _visit(request, session, form)
            if visit is None:  # the key was deleted: the session is over
                response = signin_redirect(request)
                sessions.clear(response)
                return response
            return _run(page, view, visit)

        return await run_in_threadpool(run)

    return endpoint
