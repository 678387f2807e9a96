"""What a test holds: an organization of a running crmapi, and its plane controls.

Only the standard library: the plugin must not choose an HTTP client for its users.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from crmapi.testing.observe import Observe


class PlaneError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class PlaneSession:
    """JSON over HTTP to ``/_crmapi/`` with one credential (an org key or the admin token)."""

    def __init__(
        self, server_url: str, *, api_key: str | None = None, admin_token: str | None = None
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            token = base64.b64encode(f"{api_key}:".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        if admin_token:
            self.headers["X-Crmapi-Admin-Token"] = admin_token

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        url = self.server_url + "/_crmapi" + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=self.headers)
        # Straight to the local server: a proxy from the environment must not get in between.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=300) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                detail: Any = json.loads(text)
            except ValueError:
                detail = text
            raise PlaneError(exc.code, detail) from None
        return json.loads(raw) if raw.strip() else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)


class Clock:
    """The organization's test clock."""

    def __init__(self, plane: PlaneSession, org_id: str) -> None:
        self._plane = plane
        self._path = f"/orgs/{org_id}/clock"

    def state(self) -> dict[str, Any]:
        """Mode, ``now`` and what is due (``pending``)."""
        result: dict[str, Any] = self._plane.get(self._path)
        return result

    def now(self) -> str:
        return str(self.state()["now"])

    def freeze(self, at: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._plane.put(
            self._path, {"mode": "frozen", **({"now": at} if at else {})}
        )
        return result

    def offset(self, seconds: float = 0.0, *, now: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"mode": "offset"}
        body.update({"now": now} if now else {"offset_seconds": seconds})
        result: dict[str, Any] = self._plane.put(self._path, body)
        return result

    def real(self) -> dict[str, Any]:
        result: dict[str, Any] = self._plane.put(self._path, {"mode": "real"})
        return result

    def advance(
        self, by: str | float | None = None, *, to: str | None = None, until_idle: bool = False
    ) -> list[dict[str, Any]]:
        """Move the clock, firing due work in time order; returns what fired."""
        body: dict[str, Any] = {}
        if by is not None:
            body["by"] = by
        if to is not None:
            body["to"] = to
        if until_idle:
            body["until"] = "idle"
        fired: list[dict[str, Any]] = self._plane.post(self._path + "/advance", body)["fired"]
        return fired


class Outbox:
    """What the organization "sent"."""

    def __init__(self, plane: PlaneSession, org_id: str) -> None:
        self._plane = plane
        self._path = f"/orgs/{org_id}/outbox"

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._plane.get(self._path, kind=kind)["data"]
        return data

    def emails(self) -> list[dict[str, Any]]:
        return self.messages("email")

    def sms(self) -> list[dict[str, Any]]:
        return self.messages("sms")

    def clear(self, kind: str | None = None) -> None:
        self._plane.delete(self._path, kind=kind)


class Helpers:
    """The outside world: ``helpers.inbound_email(lead_id=..., ...)`` and the like."""

    def __init__(self, plane: PlaneSession, org_id: str) -> None:
        self._plane = plane
        self._path = f"/orgs/{org_id}/test_helpers/"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(**body: Any) -> dict[str, Any]:
            result: dict[str, Any] = self._plane.post(self._path + name, body)
            return result

        return call


class EmulatorOrg:
    """One organization of a running crmapi, ready for a Close client.

    ``base_url`` (``http://127.0.0.1:PORT/api/v1/``) and ``api_key`` are what ``closeio``'s
    ``API(base_url, api_key=...)``, ``requests`` (``auth=(api_key, "")``) and ``httpx``
    take. ``plane`` is an HTTP session to ``/_crmapi/`` with this organization's key.
    """

    def __init__(self, server_url: str, org_id: str, api_key: str, user_id: str = "") -> None:
        self.server_url = server_url.rstrip("/")
        self.base_url = self.server_url + "/api/v1/"
        self.org_id = org_id
        self.api_key = api_key
        self.user_id = user_id
        self.plane = PlaneSession(self.server_url, api_key=api_key)
        self.clock = Clock(self.plane, org_id)
        self.outbox = Outbox(self.plane, org_id)
        self.helpers = Helpers(self.plane, org_id)
        # The request journal, fault rules and strict mode (``verify``, ``fault``, ``strict``).
        self.observe = Observe(self.server_url, api_key, org_id)

    def verify(self, operation: str, count: int = 1, **criteria: Any) -> Any:
        """The journal holds exactly ``count`` requests of ``operation`` (e.g. create_note)."""
        return self.observe.verify(operation, count=count, **criteria)

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials, as Close takes them: the key, an empty password."""
        return (self.api_key, "")

    def snapshot(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.plane.post(f"/orgs/{self.org_id}/snapshots", {"name": name})
        return result

    def restore(self, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        path = f"/orgs/{self.org_id}/snapshots/{name}/restore"
        result: dict[str, Any] = self.plane.post(path, {"dry_run": dry_run})
        return result

    def reset(self, to: str = "empty") -> dict[str, Any]:
        result: dict[str, Any] = self.plane.post(f"/orgs/{self.org_id}/reset", {"to": to})
        return result

    def delete(self) -> None:
        self.plane.delete(f"/orgs/{self.org_id}")

    def __repr__(self) -> str:
        return f"EmulatorOrg({self.org_id!r}, base_url={self.base_url!r})"
