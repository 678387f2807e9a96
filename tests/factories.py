"""Objects for tests, made through the real API (one place knows the minimal bodies).

``lead(api)`` instead of ``api.ok("POST", "lead/", {...})``: each factory takes the fields a
test cares about as keyword arguments and fills the rest. ``everything(api)`` makes one object
of every creatable resource in the registry (bodies from each ``FieldSet``; see
tests/reliability/objects.py), so tests over the registry need no per-resource code.
"""

from typing import Any

from tests.conftest import Api
from tests.reliability.objects import create_everything

Obj = dict[str, Any]


def lead(api: Api, name: str | None = "Wayne Enterprises", **fields: Any) -> Obj:
    """A lead; ``name=None`` sends none (Close names it "Untitled")."""
    body = {**({"name": name} if name is not None else {}), **fields}
    return api.ok("POST", "lead/", body)  # type: ignore[no-any-return]


def contact(api: Api, lead_id: str | None = None, name: str = "Ann", **fields: Any) -> Obj:
    body = {"name": name, **fields}
    if lead_id is not None:
        body["lead_id"] = lead_id
    return api.ok("POST", "contact/", body)  # type: ignore[no-any-return]


def opportunity(api: Api, lead_id: str, **fields: Any) -> Obj:
    return api.ok("POST", "opportunity/", {"lead_id": lead_id, **fields})  # type: ignore[no-any-return]


def task(api: Api, lead_id: str, text: str = "Call back", **fields: Any) -> Obj:
    body = {"lead_id": lead_id, "text": text, **fields}
    return api.ok("POST", "task/", body)  # type: ignore[no-any-return]


def note(api: Api, lead_id: str, note: str = "A note", **fields: Any) -> Obj:
    body = {"lead_id": lead_id, "note": note, **fields}
    return api.ok("POST", "activity/note/", body)  # type: ignore[no-any-return]


def everything(api: Api) -> dict[str, str]:
    """``{collection path: id}``: one new object of every resource that can be created."""

    def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        response = api.request(method, path, json=body)
        return response.status_code, response.json() if response.content else None

    return create_everything(send)
