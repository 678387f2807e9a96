"""``create_app(settings)``: the ASGI application; no module-level state."""

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from crmapi.domain.errors import APIError
from crmapi.http import errors
from crmapi.http.auth import Authenticator
from crmapi.http.middleware import CloseConventions
from crmapi.http.ratelimit import RateLimiter
from crmapi.http.routing import build, route_table
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database


def create_app(settings: Settings | None = None, *, migrate_schema: bool = True) -> Starlette:
    settings = settings or Settings.from_env()
    db = Database(settings.database_url)
    if migrate_schema:
        migrate.upgrade(db)
    app = Starlette(
        routes=build(route_table()),
        middleware=[Middleware(CloseConventions)],
        exception_handlers={
            APIError: errors.api_error_handler,
            HTTPException: errors.http_exception_handler,
            Exception: errors.server_error_handler,
        },
    )
    app.state.settings = settings
    app.state.db = db
    app.state.auth = Authenticator(settings.auth_cache_seconds)
    app.state.limiter = RateLimiter(settings.rate_limit_per_key, settings.rate_limit_window)
    logging.getLogger("crmapi").setLevel(logging.INFO)
    return app
