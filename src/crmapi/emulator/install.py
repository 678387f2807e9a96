"""Attaching the emulator's journal, faults and strict mode to an app (not in production)."""

from starlette.applications import Starlette

from crmapi.emulator import deliveries, inprocess, observed
from crmapi.emulator.state import Emulator
from crmapi.settings import Settings


def install(app: Starlette, settings: Settings) -> None:
    """Attach the emulator to ``app`` (nothing in production mode)."""
    if settings.production:
        app.state.emulator = None
        return
    emulator = Emulator(settings)
    app.state.emulator = emulator
    # The inspector's pages reach the plane through this (they may not import the emulator).
    app.state.plane_call = inprocess.call
    app.router.default = observed.unrouted
    deliveries.attach(app.state.db, emulator)
