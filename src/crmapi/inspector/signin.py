"""Sign-in with an API key (checked by the API's own authenticator) and sign-out."""

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crmapi.domain.errors import InvalidRequest, RateLimited, Unauthorized
from crmapi.http.auth import credential
from crmapi.inspector import session as sessions
from crmapi.inspector.web import (
    UI,
    Rendered,
    basic_header,
    forbidden,
    page_response,
    read_form,
    same_origin,
)


def _next(value: str | None) -> str:
    """Only a path of the inspector itself (no open redirect to another site)."""
    if value and value.startswith(UI + "/") and not urlsplit(value).netloc and "\\" not in value:
        return value
    return f"{UI}/leads/"


def _form(
    request: Request, session: sessions.Session, error: str = "", status: int = 200
) -> Response:
    context = {
        "title": "Sign in",
        "csrf": session.csrf,
        "next": _next(request.query_params.get("next")),
        "error": error,
    }
    response = page_response(request, Rendered("signin.html", context, status))
    sessions.store(request, response, session)
    return response


async def show(request: Request) -> Response:
    # A session without a key still carries the CSRF token the sign-in form must return.
    session = sessions.load(request)
    if session is None or session.signed_in:
        # Signing in again (another key) starts from a session without the old key.
        session = sessions.fresh()
    return _form(request, session)


async def submit(request: Request) -> Response:
    session = sessions.load(request)
    try:
        form = await read_form(request)
    except InvalidRequest as exc:
        return forbidden(request, exc.message)
    if session is None or not session.csrf_ok(form.get("csrf")) or not same_origin(request):
        return forbidden(request, "This form has expired or came from another site.")
    key = form.get("api_key", "").strip()
    state = request.app.state
    address = request.client.host if request.client else ""

    def check() -> str:
        try:
            state.auth_failures.check(address)
            state.auth.authenticate(credential(basic_header(key)), state.db.read)
        except Unauthorized:
            state.auth_failures.failed(address)
            return "That API key is not valid."
        except RateLimited:
            return "Too many failed sign-ins from this address; wait a minute."
        return ""

    error = await run_in_threadpool(check) if key else "Enter an API key."
    if error:
        return _form(request, session, error, 401)
    response = RedirectResponse(_next(form.get("next")), 303)
    sessions.store(request, response, sessions.fresh(key))
    return response


async def signout(request: Request) -> Response:
    session = sessions.load(request)
    try:
        form = await read_form(request)
    except InvalidRequest as exc:
        return forbidden(request, exc.message)
    if session is None or not session.csrf_ok(form.get("csrf")) or not same_origin(request):
        return forbidden(request, "This form has expired or came from another site.")
    response = RedirectResponse(f"{UI}/signin/", 303)
    sessions.clear(response)
    return response
