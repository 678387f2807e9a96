"""``GET /_crmapi/health``: what a load balancer asks before sending a host traffic.

Public and outside the API (no credentials, no rate limit, no organization's data), served in
every mode. 200 when the database answers a query, 503 when it does not, so a host that has
lost its database is taken out of rotation instead of answering 500s.
"""

import asyncio

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crmapi import __version__
from crmapi.http.errors import json_response
from crmapi.storage.db import Database

PATH = "/_crmapi/health/"  # the middleware adds the trailing slash to every path
TIMEOUT_SECONDS = 2.0
BACKENDS = {"sqlite": "sqlite", "postgresql": "postgresql"}


def _ping(db: Database) -> None:
    with db.read() as conn:
        conn.execute(text("SELECT 1"))


async def endpoint(request: Request) -> Response:
    db: Database = request.app.state.db
    body = {"status": "ok", "backend": BACKENDS.get(db.dialect, db.dialect), "version": __version__}
    try:
        await asyncio.wait_for(run_in_threadpool(_ping, db), TIMEOUT_SECONDS)
    except Exception:  # any failure to reach the database means "do not route here"
        return json_response({**body, "status": "unavailable"}, 503, {"Retry-After": "2"})
    return json_response(body, 200, {"Cache-Control": "no-store"})
