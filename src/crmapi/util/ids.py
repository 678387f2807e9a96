"""Close-shaped object ids: a family prefix plus random base62 characters."""

import random
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ALPHABET = string.ascii_letters + string.digits
# Older Close object families carry 43 random characters, newer ones 22.
_SHORT_FAMILIES = frozenset(
    {
        "actitype",
        "pipe",
        "seq",
        "sub",
        "outcome",
        "form",
        "formconf",
        "formfld",
        "media",
        "smstmpl",
        "evtint",
        "oa2client",
        "whsub",
        "ev",
        "req",
        "memb",
        "role",
        "sdas",
        "dial",
        "apikey",
        "comm",
        "comthr",
    }
)


# An organization created with a seed draws its ids from a seeded stream (emulator orgs).
_RNG: ContextVar[random.Random | None] = ContextVar("crmapi_id_rng", default=None)
_STREAMS: dict[tuple[str, int], random.Random] = {}
# Ids an import keeps (``crmapi import``): the next new id of a family is the one given.
_GIVEN: ContextVar[dict[str, list[str]] | None] = ContextVar("crmapi_given_ids", default=None)


def new_id(prefix: str) -> str:
    """Return a new id such as ``lead_<43 chars>`` or ``pipe_<22 chars>``."""
    given = _GIVEN.get()
    if given is not None and given.get(prefix):
        return given[prefix].pop(0)
    length = 22 if prefix in _SHORT_FAMILIES else 43
    rng = _RNG.get()
    if rng is not None:
        return f"{prefix}_" + "".join(rng.choice(_ALPHABET) for _ in range(length))
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def stream(org: str, seed: int) -> random.Random:
    """The id stream of a seeded organization in this process: the same seed and the same
    sequence of writes give the same ids (a restarted process starts the stream again)."""
    found = _STREAMS.get((org, seed))
    if found is None:
        found = _STREAMS[(org, seed)] = random.Random(f"{seed}:{org}")
    return found


def forget_streams(org: str) -> None:
    """An organization is gone: a new one of the same id and seed starts its stream again."""
    for key in [k for k in _STREAMS if k[0] == org]:
        _STREAMS.pop(key, None)


@contextmanager
def seeded(rng: random.Random | None) -> Iterator[None]:
    token = _RNG.set(rng)
    try:
        yield
    finally:
        _RNG.reset(token)


@contextmanager
def given(*ids: str) -> Iterator[None]:
    """In this block the next ``new_id(prefix)`` calls of each family return these ids of
    that family, in order, once each: a re-imported object (and what its write creates, an
    email's thread) keeps its id through the one write path every object takes."""
    queues: dict[str, list[str]] = {}
    for object_id in ids:
        queues.setdefault(object_id.split("_", 1)[0], []).append(object_id)
    token = _GIVEN.set(queues)
    try:
        yield
    finally:
        _GIVEN.reset(token)


def new_secret(prefix: str, length: int = 40) -> str:
    """Return a fresh high-entropy secret (API key or access token)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
