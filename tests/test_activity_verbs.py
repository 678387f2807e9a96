"""Every activity type answers exactly Close's verbs; any other verb is 405 ``{"error": ...}``."""

from typing import Any

import pytest

from crmapi.activities.registry import ACTIVITY_TYPES
from tests.conftest import Api

# Close's verbs per type (activities digest §2.1): L=list C=create G=get U=update D=delete.
CLOSE_VERBS = {
    "Note": "LCGUD",
    "Call": "LCGUD",
    "Email": "LCGUD",
    "EmailThread": "LGD",
    "SMS": "LCGUD",
    "WhatsAppMessage": "LCGUD",
    "Meeting": "LGUD",
    "CustomActivity": "LCGUD",
    "Created": "LG",
    "FormSubmission": "LGD",
    "LeadStatusChange": "LCGD",
    "OpportunityStatusChange": "LCGD",
    "LeadMerge": "LG",
    "TaskCompleted": "LGD",
}
LETTER = {"list": "L", "create": "C", "get": "G", "update": "U", "delete": "D"}
# (letter, method, on the item path?)
REQUESTS = [("C", "POST", False), ("U", "PUT", True), ("D", "DELETE", True)]
NEVER = [("PATCH", True), ("PATCH", False), ("PUT", False), ("DELETE", False), ("POST", True)]


def _missing(spec: Any) -> list[tuple[str, str]]:
    """(method, path) for every request of this type that Close does not serve."""
    cases = [
        (method, _path(spec.path, item))
        for letter, method, item in REQUESTS
        if letter not in CLOSE_VERBS[spec.type]
    ]
    return cases + [(method, _path(spec.path, item)) for method, item in NEVER]


def _path(type_path: str, item: bool) -> str:
    return f"activity/{type_path}/" + (
        "acti_0000000000000000000000000000000000000000000/" if item else ""
    )


def test_every_type_is_in_the_table() -> None:
    assert {s.type for s in ACTIVITY_TYPES} == set(CLOSE_VERBS)


@pytest.mark.parametrize("spec", ACTIVITY_TYPES, ids=lambda s: s.type)
def test_no_type_offers_a_verb_close_lacks(spec: Any) -> None:
    assert {LETTER[v] for v in spec.verbs} <= set(CLOSE_VERBS[spec.type])


@pytest.mark.parametrize("spec", ACTIVITY_TYPES, ids=lambda s: s.type)
def test_it_answers_405_for_verbs_close_lacks(api: Api, spec: Any) -> None:
    for method, path in _missing(spec):
        response = api.request(method, path, json={})
        assert response.status_code == 405, (method, path, response.text)
        body = response.json()
        assert list(body) == ["error"], (method, path)
        assert isinstance(body["error"], str)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_the_feed_is_read_only(api: Api, method: str) -> None:
    response = api.request(method, "activity/", json={})
    assert response.status_code == 405
    assert list(response.json()) == ["error"]
