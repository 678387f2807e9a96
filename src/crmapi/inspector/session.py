"""The inspector's session: the API key and a CSRF token in a signed, HttpOnly cookie.

The cookie is signed (itsdangerous), not encrypted: it carries the signed-in user's own key
back to the server, and HttpOnly keeps page scripts from reading it. Every request checks the
key again through the API's own ``Authenticator``, so a deleted key ends the session at once.
"""

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "crmapi_inspector"
# Only the inspector's own paths ever receive the cookie (never /api/v1 or the plane).
COOKIE_PATH = "/_crmapi/ui/"
MAX_AGE = 12 * 3600
_SALT = "crmapi.inspector.session"


@dataclass(frozen=True)
class Session:
    csrf: str
    api_key: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.api_key)

    def csrf_ok(self, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.csrf.encode())


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(request.app.state.session_secret, salt=_SALT)


def fresh(api_key: str = "") -> Session:
    """A new session (new CSRF token): at sign-in, so a token seen before it is worthless."""
    return Session(csrf=secrets.token_urlsafe(24), api_key=api_key)


def load(request: Request) -> Session | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(request).loads(raw, max_age=MAX_AGE)
    except BadSignature:  # also expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        return None
    key = data.get("k")
    return Session(csrf=data["c"], api_key=key if isinstance(key, str) else "")


def store(request: Request, response: Response, session: Session) -> None:
    value = _serializer(request).dumps({"c": session.csrf, "k": session.api_key})
    response.set_cookie(
        COOKIE,
        str(value),
        max_age=MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
