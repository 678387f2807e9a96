"""Close's ``max_skip``: the deepest offset a list accepts (it bounds the most expensive valid
page); past it, Close's 400 whose ``error`` string tap-closeio and Airbyte both recognise."""

import pytest

from crmapi.query.model import ListSpec
from tests.conftest import Api

CAP = ListSpec(filters={}, orderings={}).max_skip
LISTS = ["lead/", "contact/", "activity/", "activity/note/", "opportunity/", "task/", "user/"]


@pytest.mark.parametrize("path", LISTS)
def test_it_refuses_a_skip_past_max_skip_as_close_does(api: Api, path: str) -> None:
    assert api.get(f"{path}?_skip={CAP}").status_code == 200
    refused = api.get(f"{path}?_skip={CAP + 1}")
    assert refused.status_code == 400
    body = refused.json()
    assert f"max_skip = {CAP}" in body["error"]  # tap-closeio restarts its paging on this
    assert f"less than or equal to {CAP}" in body["error"]  # Airbyte's manifest matches this
    assert body["errors"] == []
    assert body["field-errors"] == {}


def test_the_document_states_max_skip(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    params = document["paths"]["/api/v1/lead/"]["get"]["parameters"]
    skip = next(p for p in params if p["name"] == "_skip")
    assert skip["schema"]["maximum"] == CAP
