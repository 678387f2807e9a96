"""One object of every kind the API can create, built from the route table's declarations.

Bodies are generated from each POST's ``FieldSet`` (required fields filled by kind, references
pointed at the lead and contact created first); ``OVERRIDES`` adds what a type's write rules
need beyond its declarations. A new creatable route works here without edits, or fails loudly.
"""

from collections.abc import Callable
from typing import Any

from crmapi.domain.fields import Field
from crmapi.http.endpoint import Op
from crmapi.http.routing import route_table

Send = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]

# Extra body keys some types need (write rules beyond the field declarations).
OVERRIDES: dict[str, dict[str, Any]] = {
    "/lead/": {"name": "Isolated Inc", "contacts": [{"name": "Nested"}]},
    "/contact/": {"name": "Ann", "emails": [{"email": "ann@example.com"}]},
    "/status/lead/": {"label": "Tenant A only"},
}
FIRST = ("/lead/", "/contact/")


def _value(f: Field) -> Any:
    samples: dict[str, Any] = {
        "str": "x",
        "int": 1,
        "number": 1,
        "bool": True,
        "datetime": "2024-03-03T10:00:06+00:00",
        "date": "2024-03-03",
        "str_list": [],
        "object": {},
        "object_list": [],
        "id": "unknown",
    }
    return f.choices[0] if f.kind == "enum" and f.choices else samples.get(f.kind, "x")


def body_for(path: str, op: Op, refs: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if op.fields is not None:
        for f in op.fields.fields:
            if f.create and f.required:
                body[f.name] = _value(f)
            if f.create and f.name in refs:
                body[f.name] = refs[f.name]
    body.update(OVERRIDES.get(path, {}))
    return body


def creatable() -> list[tuple[str, Op]]:
    """Every collection path with a POST, leads and contacts first."""
    found = [(path, ops["POST"]) for path, ops in route_table() if "POST" in ops]
    return sorted(
        found,
        key=lambda item: (item[0] not in FIRST, FIRST.index(item[0]) if item[0] in FIRST else 0),
    )


def create_everything(send: Send) -> dict[str, str]:
    """``{collection path: id}`` of one new object per creatable path; raises on any failure."""
    refs: dict[str, str] = {}
    created: dict[str, str] = {}
    problems = []
    for path, op in creatable():
        status, body = send("POST", path, body_for(path, op, refs))
        if status != 200 or "id" not in body:
            problems.append(f"POST {path} -> {status} {body}")
            continue
        created[path] = body["id"]
        if path == "/lead/":
            refs["lead_id"] = body["id"]
        if path == "/contact/":
            refs["contact_id"] = body["id"]
    if problems:
        raise AssertionError(
            "Could not create an object for every creatable path (add an OVERRIDES entry in "
            "tests/reliability/objects.py):\n" + "\n".join(problems)
        )
    return created
