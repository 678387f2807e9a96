"""The emulator's per-process state, kept on ``app.state.emulator`` (None in production)."""

import logging
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from crmapi.domain.context import Principal
from crmapi.domain.errors import APIError
from crmapi.emulator.faults import Faults
from crmapi.emulator.journal import Journal
from crmapi.emulator.sinks import Sinks
from crmapi.emulator.strict import StrictState
from crmapi.http.auth import credential
from crmapi.settings import Settings
from crmapi.storage import db

log = logging.getLogger("crmapi.emulator")


class Emulator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.journal = Journal(max(0, settings.journal_max), max(0, settings.journal_body_max))
        self.faults = Faults()
        self.strict = StrictState(settings.strict)
        self.sinks = Sinks()
        if settings.faults_file:
            self.faults.load(orjson.loads(Path(settings.faults_file).read_bytes()))
            log.info("loaded fault rules from %s", settings.faults_file)

    def needs_caller_first(self) -> bool:
        """Faults and per-org strictness depend on the organization before the handler runs."""
        return self.faults.any() or bool(self.strict.orgs)


async def caller(app: Starlette, scope: Scope) -> Principal | None:
    """Who sent the request (None for no or a bad credential); off the loop: it may query."""
    header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
    if not header:
        return None
    state = app.state

    def find() -> Principal | None:
        try:
            found: Principal = state.auth.authenticate(credential(header), state.db.read)
            return found
        except APIError:
            return None
        except db.DRIVER_ERRORS:
            # The database is away: the dispatcher answers Close's 503 (nothing to journal).
            return None

    return await run_in_threadpool(find)


def of(app: Any) -> Emulator:
    emulator: Emulator = app.state.emulator
    return emulator
