"""Which events a request caused: ``emit`` reports each id here while a request collects them.

A ContextVar, so threadpool handlers (which run in a copy of the request's context) append to
the request's own list; nothing is collected when no one asked (CLI, background worker).
"""

from contextvars import ContextVar, Token

_CAUSED: ContextVar[list[str] | None] = ContextVar("crmapi_caused_events", default=None)


def start() -> Token[list[str] | None]:
    return _CAUSED.set([])


def stop(token: Token[list[str] | None]) -> list[str]:
    found = _CAUSED.get() or []
    _CAUSED.reset(token)
    return found


def note(event_id: str) -> None:
    collected = _CAUSED.get()
    if collected is not None:
        collected.append(event_id)
