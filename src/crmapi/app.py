"""``create_app(settings)``: the ASGI application; no module-level state."""

import gc
import logging
import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmapi import openapi
from crmapi.domain.errors import APIError
from crmapi.emulator.install import install as install_emulator
from crmapi.emulator.observed import Observed
from crmapi.emulator.registry import plane_routes
from crmapi.events.worker import Worker
from crmapi.http import errors, health, ratelimit_store
from crmapi.http.auth import Authenticator, FailureLimiter, parse_networks
from crmapi.http.fairness import Costs, OrgGate
from crmapi.http.middleware import CloseConventions
from crmapi.http.routing import API_PREFIX, build, route_table
from crmapi.inspector import inspector_routes
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Start the server's own background work (webhook delivery, event retention)."""
    settings: Settings = app.state.settings
    _tune_gc()
    # Requests that block (PostgreSQL, writes) run in this many threads: more only fought
    # over the GIL (a PostgreSQL lead page: 438 req/s with anyio's default 40, 587 with 6).
    to_thread.current_default_thread_limiter().total_tokens = settings.threads
    # A thread rendering an expensive page holds the GIL until the interpreter asks it to
    # switch (5 ms by default); the event loop serving everyone else waits that long each
    # time. 0.2 ms keeps another organization's cheap requests near their idle latency
    # (fairness test: 3.2x idle p95 at 1 ms, 1.4x at 0.2 ms; switches only happen when a
    # second thread wants the GIL, so a lone request pays nothing).
    sys.setswitchinterval(0.0002)
    worker = Worker(app.state.db, settings).start() if settings.background_workers else None
    try:
        yield
    finally:
        if worker is not None:
            await run_in_threadpool(worker.stop)
        app.state.limiter.close()


def _tune_gc() -> None:
    """Move everything imported and built at startup out of the cycle collector's sight.

    Requests allocate short-lived, acyclic objects that reference counting frees. With the
    defaults, the collector ran a full pass over the whole startup heap (SQLAlchemy, the
    registry, caches) every few hundred requests: a 30-50 ms pause of the event loop and a
    fifth of a feed page's CPU (docs/performance.md). Frozen objects are never scanned, and a
    larger first generation makes the remaining collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app(settings: Settings | None = None, *, migrate_schema: bool = True) -> Starlette:
    settings = settings or Settings.from_env()
    db = Database(
        settings.database_url,
        read_timeout=settings.request_timeout_seconds,
        synchronous=settings.sqlite_synchronous,
    )
    if migrate_schema:
        migrate.upgrade(db)
    routes = [
        Route(API_PREFIX + "/openapi.json/", openapi_document),
        # Before the emulator plane's routes, and kept in production (load balancers use it).
        Route(health.PATH, health.endpoint),
        *build(route_table(), wrap=None if settings.production else Observed),
    ]
    if not settings.production:
        routes += [*plane_routes(), *inspector_routes()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
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
    app.state.auth_failures = FailureLimiter(settings.auth_failures_per_minute)
    app.state.proxies = parse_networks(settings.trusted_proxies)
    app.state.gate = OrgGate(settings.org_concurrency or max(1, (os.cpu_count() or 2) // 2))
    app.state.costs = Costs()
    app.state.limiter = ratelimit_store.make_limiter(settings, db)
    app.state.session_secret = settings.session_secret or secrets.token_urlsafe(32)
    install_emulator(app, settings)  # journal, faults, strict mode (not in production)
    logging.getLogger("crmapi").setLevel(logging.INFO)
    return app


async def openapi_document(request: Request) -> Response:
    """The OpenAPI document, public: it describes the API, not any organization's data."""
    state = request.app.state
    if not hasattr(state, "openapi"):
        state.openapi = errors.json_response(openapi.document()).body
    return Response(state.openapi, media_type="application/json")
