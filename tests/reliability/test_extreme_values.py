"""Extreme values in every field of every declared body: 400 or success, never a 500.

The bodies come from the OpenAPI document the app serves (so a new field or route is covered
without edits): for each POST/PUT with declared properties, a valid base body (built like the
isolation matrix's, ``objects.py``) gets one property replaced by an extreme value: integers
past 32 and 64 bits, negative numbers, the largest double, NaN and Infinity (as JSON
extensions in the raw text), very long strings, deep nesting, every wrong type. Every value
class reaches every field once (a fixed table), then hypothesis draws mixtures at random
(deterministic: ``derandomize``), on both backends.
"""

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from crmapi.http.routing import API_PREFIX, route_table
from tests.conftest import Api, make_org
from tests.reliability.conftest import record
from tests.reliability.objects import FIRST, body_for, create_everything

I64 = 2**63
I32 = 2**31


class Raw:
    """A JSON token sent as-is (``NaN``, ``1e400``): what a non-strict encoder emits."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text})"


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


# One of each class, sent to every field.
TABLE: list[Any] = [
    I64,
    -I64 - 1,
    I32,
    2**64,
    10**30,
    -1,
    1.7976931348623157e308,
    Raw("NaN"),
    Raw("1e400"),
    "x" * 100_000,
    "9" * 400,
    nested(300),
    [I64],
    {"k": 10**30},
    True,
]

EXTREME_NUMBERS = st.one_of(
    st.integers(min_value=I32 - 3, max_value=I32 + 3),
    st.integers(min_value=I64 - 3, max_value=2**64 + 3),
    st.integers(min_value=-(2**64) - 3, max_value=-I32 + 3),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1e-400"]).map(Raw),
)
EXTREME_STRINGS = st.one_of(
    st.integers(min_value=256, max_value=300_000).map(lambda n: "y" * n),
    st.text(max_size=50),
    st.from_regex(r"-?[0-9]{19,400}", fullmatch=True),
)
SCALARS = st.one_of(EXTREME_NUMBERS, EXTREME_STRINGS, st.booleans(), st.none())
EXTREMES = st.one_of(
    SCALARS,
    st.integers(min_value=33, max_value=900).map(nested),
    st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    st.dictionaries(st.text(max_size=20), SCALARS, max_size=3),
)


def encode(body: dict[str, Any]) -> bytes:
    """JSON text with ``Raw`` tokens spliced in (json.dumps cannot write ``1e400``)."""
    raws: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"\x01raw{len(raws) - 1}\x01"
        raise TypeError(type(value))

    text = json.dumps(body, default=default, allow_nan=True)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x01raw{i}\x01"), raw)
    return text.encode()


class Target:
    """One operation of the document with a base body the server accepts."""

    def __init__(self, method: str, url: str, base: dict[str, Any], fields: list[str]) -> None:
        self.method = method
        self.url = url
        self.base = base
        self.fields = fields

    def __repr__(self) -> str:
        return f"{self.method} {self.url}"


@pytest.fixture
def org(app: Any) -> Iterator[Api]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield make_org(app, client)


def _targets(api: Api) -> list[Target]:
    document = api.client.get("/api/v1/openapi.json").json()

    def send(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        response = api.request(method, path, json=body)
        return response.status_code, response.json() if response.content else {}

    created = create_everything(send)
    refs: dict[str, Any] = {key: created[path] for path, key in FIRST.items()}
    for kind in ("lead", "opportunity"):
        refs[f"{kind}_statuses"] = [s["id"] for s in api.ok("GET", f"status/{kind}/")["data"]]
    custom = _custom_fields(api, refs)
    ops = dict(route_table())
    targets = []
    for doc_path, item in sorted(document["paths"].items()):
        path = doc_path.removeprefix(API_PREFIX)
        for method in ("post", "put"):
            operation = item.get(method)
            if operation is None or "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            fields = sorted(schema.get("properties", {}))
            if not fields:
                continue
            owner = path.strip("/").split("/")[0]
            if owner in custom and path.count("/") <= 3:
                fields += custom[owner]  # lead, contact, opportunity and their {id}
            url, base = path, {}
            if "{id}" in path:
                collection = path.removesuffix("{id}/")
                if collection not in created:
                    continue
                url = path.replace("{id}", created[collection])
            elif method == "post":
                base = body_for(path, ops[path]["POST"], refs)
            targets.append(Target(method.upper(), url, base, fields))
    return targets


CUSTOM_TYPES = ("text", "number", "date", "datetime", "choices", "user", "contact")


def _custom_fields(api: Api, refs: dict[str, Any]) -> dict[str, list[str]]:
    """One custom field of every type per object type: ``custom.<id>`` keys are body fields
    too (declared through ``/custom_field/``, not in the document)."""
    keys: dict[str, list[str]] = {}
    for kind in ("lead", "contact", "opportunity"):
        for kind_type in CUSTOM_TYPES:
            extra = {"choices": ["a", "b"]} if kind_type == "choices" else {}
            body = {"name": f"{kind} {kind_type}", "type": kind_type, **extra}
            created = api.ok("POST", f"custom_field/{kind}/", body)
            keys.setdefault(kind, []).append(f"custom.{created['id']}")
            multi = {**body, "name": f"{kind} many {kind_type}", "accepts_multiple_values": True}
            if kind_type in ("choices", "user", "contact"):
                created = api.ok("POST", f"custom_field/{kind}/", multi)
                keys[kind].append(f"custom.{created['id']}")
    return keys


def _try(api: Api, target: Target, field: str, value: Any) -> tuple[int, str | None]:
    """The status, and what is wrong with the answer (None when it is a 2xx or Close's 400)."""
    body = {**target.base, field: value}
    response = api.request(
        target.method,
        target.url,
        content=encode(body),
        headers={"Content-Type": "application/json"},
    )
    status = response.status_code
    shown = value if len(repr(value)) < 200 else f"<{type(value).__name__} {len(repr(value))}>"
    where = f"{target} {field}={shown}"
    if 200 <= status < 300 or status == 404:
        return status, None
    if status == 400 and set(response.json()) == {"errors", "field-errors"}:
        return status, None
    return status, f"{where} -> {status} {response.text[:300]}"


def test_extreme_values_in_every_field_are_refused_or_stored(org: Api, database_url: str) -> None:
    targets = _targets(org)
    started = time.monotonic()
    counts = {"requests": 0, "accepted": 0, "refused": 0}
    problems: list[str] = []

    def attempt(target: Target, field: str, value: Any) -> None:
        status, problem = _try(org, target, field, value)
        counts["requests"] += 1
        counts["accepted" if status < 300 else "refused"] += 1
        if problem is not None:
            problems.append(problem)

    pairs = [(t, f) for t in targets for f in t.fields]
    for target, field in pairs:
        for value in TABLE:
            attempt(target, field, value)

    @settings(
        max_examples=200,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(pair=st.sampled_from(pairs), value=EXTREMES)
    def random_mixtures(pair: tuple[Target, str], value: Any) -> None:
        attempt(*pair, value)

    random_mixtures()
    record(
        "extreme-values",
        database_url,
        {
            "operations": len(targets),
            "fields": len(pairs),
            "requests": counts["requests"],
            "accepted": counts["accepted"],
            "refused_400": counts["refused"],
            "server_errors": len(problems),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    assert len(targets) >= 40
    assert problems == [], "\n".join(problems[:40]) + f"\n({len(problems)} in all)"
