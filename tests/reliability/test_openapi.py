"""/api/v1/openapi.json is generated from the route table and describes all of it."""

import functools
import re
from typing import Any

import pytest

from crmapi import openapi
from crmapi.domain.fields import Field
from crmapi.http.endpoint import Op
from crmapi.http.routing import API_PREFIX, route_table
from crmapi.registry import RESOURCES
from crmapi.search import exact
from crmapi.util import dates
from tests.conftest import Api


def test_it_serves_the_document_without_credentials(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["openapi"] == "3.1.0"


def test_it_describes_every_route_and_method_of_the_route_table(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    expected = {(API_PREFIX + p, m.lower()) for p, ops in route_table() for m in ops}
    described = {(p, m) for p, item in document["paths"].items() for m in item}
    assert described == expected


@functools.cache
def _document() -> dict[str, Any]:
    return openapi.document()


def _operation(method: str, path: str) -> dict[str, Any]:
    return _document()["paths"][API_PREFIX + path][method]


def test_it_takes_query_parameters_from_the_list_spec() -> None:
    params = {p["name"]: p["schema"] for p in _operation("get", "/lead/")["parameters"]}
    assert params["_limit"] == {"type": "integer", "minimum": 0, "maximum": 200}
    assert {"id__in", "status_id", "date_created__gte", "_fields", "_skip"} <= set(params)
    assert "-name" in params["_order_by"]["enum"]


def test_it_takes_request_bodies_from_the_field_set() -> None:
    create = _operation("post", "/status/lead/")["requestBody"]
    schema = create["content"]["application/json"]["schema"]
    assert create["required"] is True
    assert schema["required"] == ["label"]
    assert schema["properties"]["color"]["enum"][:2] == ["blue", "gray"]
    update = _operation("put", "/contact/{id}/")["requestBody"]["content"]
    assert "lead_id" not in update["application/json"]["schema"]["properties"]


def test_it_links_creates_to_the_item_operations() -> None:
    links = _operation("post", "/lead/")["responses"]["200"]["links"]
    assert {link["operationId"] for link in links.values()} == {
        "get_lead_id",
        "put_lead_id",
        "delete_lead_id",
    }


def test_it_documents_error_bodies_on_every_operation() -> None:
    for item in openapi.document()["paths"].values():
        for operation in item.values():
            assert {"400", "401", "403", "404", "405", "413", "415", "429", "503"} <= set(
                operation["responses"]
            )


@pytest.mark.parametrize(
    ("field", "schema"),
    [
        (
            Field("n", "str", nullable=False, max_length=5),
            {"type": "string", "maxLength": 5, "pattern": openapi.NO_NUL},
        ),
        (
            Field("n", "str", nullable=False, blank=False),
            {"type": "string", "pattern": openapi.NOT_BLANK},
        ),
        # Undeclared bounds are storage's (signed 64-bit); declared ones are stated as such.
        (
            Field("n", "int"),
            {"type": ["integer", "null"], "minimum": -(2**63), "maximum": 2**63 - 1},
        ),
        (
            Field("n", "number", nullable=False, minimum=0, maximum=100),
            {"type": "number", "minimum": 0, "maximum": 100},
        ),
        (
            Field("n", "str_list", nullable=False, max_items=2),
            {
                "type": "array",
                "items": {"type": "string", "pattern": openapi.NO_NUL},
                "maxItems": 2,
            },
        ),
        (Field("n", "bool", nullable=False), {"type": "boolean"}),
        (Field("n", "enum", choices=("a",)), {"type": ["string", "null"], "enum": ["a", None]}),
        (Field("n", "datetime", nullable=False), {"type": "string", "format": "date-time"}),
        (
            Field("n", "object_list", nullable=False, max_items=3),
            {"type": "array", "items": {"type": "object"}, "maxItems": 3},
        ),
        (Field("n", "any"), {}),
    ],
)
def test_it_maps_field_kinds_to_json_schema(field: Field, schema: dict[str, Any]) -> None:
    assert openapi.field_schema(field) == schema


def test_it_states_the_limits_the_grammar_enforces() -> None:
    params = {p["name"]: p for p in _operation("get", "/lead/")["parameters"]}
    assert params["_skip"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 250_000}
    assert params["date_created__gte"]["schema"]["pattern"] == dates.PATTERN
    assert params["id__in"]["schema"]["pattern"]  # at least one value
    feed = {p["name"]: p for p in _operation("get", "/activity/")["parameters"]}
    assert feed["contact_id"]["x-requires"] == ["lead_id"]
    assert feed["activity_at__gte"]["x-requires-order"] == "activity_at"
    won = {p["name"]: p for p in _operation("get", "/opportunity/")["parameters"]}
    assert won["date_won"]["schema"] == {"type": "string", "pattern": dates.PATTERN}


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2024-03-03", True),
        ("2024-03-03T10:00", True),
        ("2024-03-03T10:00:06.123456+00:00", True),
        ("2024-03-03T10:00:06Z", True),
        ("2024-13-03", False),
        ("", False),
        ("yesterday", False),
    ],
)
def test_the_date_pattern_matches_what_the_parser_reads(text: str, valid: bool) -> None:
    assert bool(re.search(dates.PATTERN, text)) is valid
    if valid:
        dates.parse(text)


def test_it_describes_a_route_without_metadata_generically() -> None:
    document = openapi.document([("/thing/{id}/", {"PUT": Op(lambda ctx: {})})])
    operation = document["paths"][API_PREFIX + "/thing/{id}/"]["put"]
    assert operation["requestBody"]["required"] is False
    assert operation["parameters"][0]["name"] == "id"


# --- every operation carries concrete metadata ---------------------------------------------

# GETs on a path without an id that answer one object rather than a list (``show``).
SINGLETONS = {spec.path for spec in RESOURCES if "show" in spec.operations}


def _operations() -> list[tuple[str, str, Op]]:
    return [(path, method, op) for path, ops in route_table() for method, op in ops.items()]


def _is_collection_get(path: str, method: str) -> bool:
    # A path with an id answers about one object (the item, or an action on it: render/).
    return method == "GET" and "{" not in path and path not in SINGLETONS


@pytest.mark.parametrize(("path", "method", "op"), _operations())
def test_it_gives_every_operation_a_summary(path: str, method: str, op: Op) -> None:
    assert _operation(method.lower(), path)["summary"] != f"{method} {path}"


COLLECTIONS = [(p, m, op) for p, m, op in _operations() if _is_collection_get(p, m)]


@pytest.mark.parametrize(("path", "method", "op"), COLLECTIONS)
def test_it_documents_every_list_parameter(path: str, method: str, op: Op) -> None:
    assert op.list_spec is not None, f"GET {path} has no list_spec"
    operation = _operation("get", path)
    names = {p["name"] for p in operation["parameters"]}
    paging = {"skip": {"_skip", "_limit", "_order_by"}, "cursor": {"_cursor", "_limit"}}
    assert paging.get(op.list_spec.paging, {"_fields"}) <= names
    accepted = {n for n, f in op.list_spec.filters.items() if f.pattern != exact.NOTHING}
    assert {*accepted, *op.list_spec.modes} <= names
    # What Close documents but this server refuses is left out, so no client reads it as served.
    assert not names & (set(op.list_spec.filters) - accepted)
    envelope = operation["responses"][str(op.status)]["content"]["application/json"]["schema"]
    assert envelope["properties"]["data"]["type"] == "array"


WRITES = [(p, m, op) for p, m, op in _operations() if m in ("POST", "PUT")]


@pytest.mark.parametrize(("path", "method", "op"), WRITES)
def test_it_documents_every_request_body(path: str, method: str, op: Op) -> None:
    body = _operation(method.lower(), path)["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"], f"{method} {path} has no declared body fields"


def test_it_documents_the_event_log_cursor_paging() -> None:
    operation = _operation("get", "/event/")
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["_limit"] == {"type": "integer", "minimum": 1, "maximum": 50}
    assert {"_cursor", "object_type", "date_updated__gte"} <= set(params)
    assert "_skip" not in params
    envelope = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert envelope["required"] == ["data", "cursor_next", "cursor_previous"]


def test_it_documents_choices_and_modes() -> None:
    params = {p["name"]: p for p in _operation("get", "/task/")["parameters"]}
    assert params["view"]["schema"] == {"type": "string", "enum": ["inbox", "future", "archive"]}
    assert "opportunity_due" in params["_type"]["description"]
    opportunities = {p["name"]: p for p in _operation("get", "/opportunity/")["parameters"]}
    assert "won" in opportunities["status_type"]["description"]
    feed = {p["name"]: p["schema"] for p in _operation("get", "/activity/")["parameters"]}
    assert feed["thread_emails"]["enum"] == ["only", "true"]


@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/pipeline/{id}/"), ("delete", "/custom_activity/{id}/")]
)
def test_it_documents_a_204_without_a_body(method: str, path: str) -> None:
    assert _operation(method, path)["responses"]["204"] == {"description": "No Content"}


def test_it_allows_empty_paging_values() -> None:
    params = {p["name"]: p for p in _operation("get", "/opportunity/")["parameters"]}
    assert all(params[n]["allowEmptyValue"] for n in ("_skip", "_limit", "_order_by", "_fields"))
    assert "allowEmptyValue" not in params["lead_id"]
