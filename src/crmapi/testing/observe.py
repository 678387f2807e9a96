"""``Observe``: the journal, faults and strict mode of one organization, from a test.

Talks HTTP to a running crmapi (standard library only, so it works in any test venv)::

    obs = Observe("http://127.0.0.1:8000", api_key, org_id)
    obs.verify("create_activity_note", count=1)
    with obs.fault({"kind": "rate_limit", "reset": 1}, trigger={"next": 2}):
        sync()
    obs.strict = True
"""

import json
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ObserveError(AssertionError):
    """A verification failed (the server's 409 body is attached) or the plane refused."""

    def __init__(self, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


class Observe:
    def __init__(self, base_url: str, api_key: str, org_id: str) -> None:
        self.base = base_url.rstrip("/")
        self.org_id = org_id
        self._auth = "Basic " + b64encode(f"{api_key}:".encode()).decode()

    def _call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/_crmapi/orgs/{self.org_id}{path}", data=data, method=method
        )
        request.add_header("Authorization", self._auth)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        found = json.loads(raw) if raw else None
        if status not in ok:
            raise ObserveError(f"{method} {path} answered {status}: {found}", found)
        return found

    @staticmethod
    def _criteria(operation: str | None, criteria: dict[str, Any]) -> dict[str, Any]:
        return {**criteria, **({"operation": operation} if operation else {})}

    def find(self, operation: str | None = None, **criteria: Any) -> list[dict[str, Any]]:
        body = {"criteria": self._criteria(operation, criteria), "limit": 10_000}
        found: list[dict[str, Any]] = self._call("POST", "/journal/find", body)["data"]
        return found

    def count(self, operation: str | None = None, **criteria: Any) -> int:
        body = {"criteria": self._criteria(operation, criteria)}
        return int(self._call("POST", "/journal/count", body)["count"])

    def verify(
        self,
        operation: str | None = None,
        count: int | dict[str, int] | None = None,
        **criteria: Any,
    ) -> dict[str, Any]:
        """Raise ``ObserveError`` (with the near misses) unless the count holds."""
        body: dict[str, Any] = {"criteria": self._criteria(operation, criteria)}
        if count is not None:
            body["count"] = count
        found = self._call("POST", "/journal/verify", body, ok=(200, 409))
        if not found["ok"]:
            misses = json.dumps(found.get("near_misses", []), indent=1)[:2000]
            raise ObserveError(
                f"expected {found['expected']} matching {body['criteria']}, "
                f"found {found['actual']}; nearest misses: {misses}",
                found,
            )
        return dict(found)

    def unrouted(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/journal/unrouted")["data"])

    def clear(self) -> None:
        self._call("DELETE", "/journal")

    @contextmanager
    def fault(
        self,
        effect: dict[str, Any],
        match: dict[str, Any] | None = None,
        trigger: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """A rule for the duration of the block; yields it, then its final counters."""
        rule = {"effect": effect, "match": match or {}, "trigger": trigger or {}}
        created = self._call("POST", "/faults", rule)
        final: dict[str, Any] = dict(created)
        try:
            yield final
        finally:
            try:
                final.update(self._call("GET", f"/faults/{created['id']}"))
            finally:
                self._call("DELETE", f"/faults/{created['id']}", ok=(200, 404))

    @property
    def strict(self) -> bool:
        return bool(self._call("GET", "/strict")["level"] == "strict")

    @strict.setter
    def strict(self, on: bool | str) -> None:
        level = on if isinstance(on, str) else ("strict" if on else None)
        self._call("PUT", "/strict", {"level": level})

    def report(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/strict/report")["data"])
