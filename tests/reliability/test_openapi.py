"""/api/v1/openapi.json is generated from the route table and describes all of it."""

from typing import Any

import pytest

from crmapi import openapi
from crmapi.domain.fields import Field
from crmapi.http.routing import API_PREFIX, route_table
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


def _operation(method: str, path: str) -> dict[str, Any]:
    return openapi.document()["paths"][API_PREFIX + path][method]


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
            assert {"400", "401", "404", "405", "413", "415", "429", "503"} <= set(
                operation["responses"]
            )


@pytest.mark.parametrize(
    ("field", "schema"),
    [
        (Field("n", "str", nullable=False, max_length=5), {"type": "string", "maxLength": 5}),
        (Field("n", "int"), {"type": ["integer", "null"]}),
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


def test_it_describes_a_route_without_metadata_generically() -> None:
    from crmapi.http.endpoint import Op

    document = openapi.document([("/thing/{id}/", {"PUT": Op(lambda ctx: {})})])
    operation = document["paths"][API_PREFIX + "/thing/{id}/"]["put"]
    assert operation["requestBody"]["required"] is False
    assert operation["parameters"][0]["name"] == "id"
