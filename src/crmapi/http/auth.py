"""Credentials: HTTP Basic with the API key as user name, or ``Authorization: Bearer``."""

import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import Connection

from crmapi.domain.context import Principal
from crmapi.domain.errors import UNAUTHORIZED_MESSAGE, Unauthorized
from crmapi.resources import accounts

_CACHE_SIZE = 4096


def credential(header: str | None) -> tuple[str, str] | None:
    """``("basic", key)`` or ``("bearer", token)`` from an Authorization header."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key, _, _password = decoded.partition(":")
        return ("basic", key) if key else None
    if scheme.lower() == "bearer" and value:
        return ("bearer", value)
    return None


class Authenticator:
    """Resolves credentials to a principal, remembering recent answers for a few seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._cache: OrderedDict[tuple[str, str], tuple[float, Principal]] = OrderedDict()

    def authenticate(self, header: str | None, connect: Callable[[], Connection]) -> Principal:
        cred = credential(header)
        if cred is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        hit = self._cache.get(cred)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        with connect() as conn:
            if cred[0] == "basic":
                principal = accounts.principal_for_key(conn, cred[1])
            else:
                principal = accounts.principal_for_token(conn, cred[1])
        if principal is None:
            raise Unauthorized(UNAUTHORIZED_MESSAGE)
        if self.ttl > 0 and cred[0] == "basic":
            self._cache[cred] = (now + self.ttl, principal)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal
