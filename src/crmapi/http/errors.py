"""The only place error bodies are built: typed errors in, Close-shaped JSON out."""

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from crmapi.domain.errors import (
    APIError,
    InvalidRequest,
    MethodNotAllowed,
    RateLimited,
    RequestTimeout,
    ServiceUnavailable,
)
from crmapi.http import ratelimit
from crmapi.util.jsonutil import dumps

log = logging.getLogger("crmapi")
# Lines about connections go where uvicorn logs its own (shown at the default level).
server_log = logging.getLogger("uvicorn.error")

_HTTP_MESSAGES = {
    404: "The requested URL was not found on the server.",
    405: "The method is not allowed for the requested URL.",
}


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_body(exc: APIError) -> dict[str, object]:
    if isinstance(exc, InvalidRequest):
        body: dict[str, object] = {"errors": exc.errors, "field-errors": exc.field_errors}
        return body if exc.error is None else {"error": exc.error, **body}
    if isinstance(exc, RateLimited):
        details: dict[str, object] = {
            "message": exc.message,
            "rate_endpoint_group": exc.group,
            "rate_limit": exc.limit,
            "rate_limit_type": exc.limit_type,
            "rate_reset": round(exc.reset, 3),
            "rate_window": exc.window,
        }
        # Singer reads rate_reset at the top level, Airbyte and older clients under "error".
        return {**details, "error": details}
    if exc.status >= 500:
        # 5xx bodies carry an object-valued error: that is what Close's clients parse.
        return {"error": {"message": exc.message}}
    return {"error": exc.message}


def rate_limit_headers(exc: RateLimited) -> dict[str, str]:
    # Same forms as every served response, plus Retry-After in whole seconds (never 0).
    found = ratelimit.headers(ratelimit.Quota(exc.limit, 0, exc.reset))
    return {**found, "Retry-After": found["RateLimit-Reset"]}


def render_error(exc: APIError) -> Response:
    headers = rate_limit_headers(exc) if isinstance(exc, RateLimited) else None
    if isinstance(exc, RequestTimeout | ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, MethodNotAllowed) and exc.allow:
        headers = {"Allow": exc.allow}
    return json_response(error_body(exc), exc.status, headers)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return render_error(exc)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers or {})
    return json_response({"error": message}, exc.status_code, headers or None)


def client_gone(request: Request | None) -> Response:
    """The client hung up (mid-body or before the answer): one quiet line, no traceback."""
    where = f" during {request.method} {request.url.path}" if request is not None else ""
    server_log.info("client disconnected%s", where)
    return Response(status_code=499)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    # Never a bare 500 page: clients parse every body as JSON with an object-valued error.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return json_response({"error": {"message": "Internal server error."}}, 500)
