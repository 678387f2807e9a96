"""Typed errors raised anywhere below HTTP; ``http.errors`` is the only place bodies are built."""

from collections.abc import Mapping


class APIError(Exception):
    """Base of every error a client can cause; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(APIError):
    """400 with Close's ``{"errors": [...], "field-errors": {...}}`` body."""

    status = 400

    def __init__(
        self,
        errors: list[str] | None = None,
        field_errors: Mapping[str, str] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        self.errors = list(errors or [])
        self.field_errors = dict(field_errors or {})
        # A top-level ``error`` string as well, where Close sends one (the max_skip 400).
        self.error = error
        super().__init__(
            "; ".join(self.errors + [f"{k}: {v}" for k, v in self.field_errors.items()])
        )


class Unauthorized(APIError):
    status = 401


class NotFound(APIError):
    status = 404


class MethodNotAllowed(APIError):
    status = 405

    def __init__(self, message: str, allow: str = "") -> None:
        super().__init__(message)
        self.allow = allow  # the ``Allow`` header (RFC 9110 requires it on a 405)


class PayloadTooLarge(APIError):
    status = 413


class UnsupportedMediaType(APIError):
    status = 415


class RequestTimeout(APIError):
    """503: the request ran past ``Settings.request_timeout_seconds``; safe to retry."""

    status = 503

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request took longer than {seconds:g} seconds; try again.")
        self.retry_after = 2


class ServiceUnavailable(APIError):
    """503: the database cannot answer now (down, restarting); clients retry with Retry-After."""

    status = 503

    def __init__(self, message: str = "The service is temporarily unavailable; try again.") -> None:
        super().__init__(message)
        self.retry_after = 2


class RateLimited(APIError):
    """429; carries what the limiter knows so the renderer can fill Close's body and headers."""

    status = 429

    def __init__(
        self, *, limit: int, reset: float, group: str, limit_type: str, window: int
    ) -> None:
        super().__init__("API call count exceeded for this period")
        self.limit = limit
        self.reset = reset
        self.group = group
        self.limit_type = limit_type
        self.window = window


UNAUTHORIZED_MESSAGE = (
    "The server could not verify that you are authorized to access the URL requested.  You "
    "either supplied the wrong credentials (e.g. a bad password), or your browser doesn't "
    "understand how to supply the credentials required."
)


# Close's field error for an id naming nothing the caller's organization holds.
DOES_NOT_EXIST = "Object does not exist."


def object_not_found(model: str) -> NotFound:
    """Close's 404 wording for an unknown (or foreign) object id."""
    return NotFound(f"Empty query: {model} matching query does not exist.")
