"""The registry is the one list of resources: what is derived from it stays consistent."""

import pytest

from crmapi import registry
from crmapi.events import webhooks
from crmapi.http.routing import route_table


@pytest.mark.parametrize("object_type", sorted(registry.event_object_types()))
def test_webhooks_accept_every_event_object_type_crmapi_emits(object_type: str) -> None:
    assert webhooks._check_event({"object_type": object_type, "action": "created"}, 0)


@pytest.mark.parametrize("family", sorted(registry.event_families()))
def test_webhooks_accept_every_event_family(family: str) -> None:
    assert webhooks.OBJECT_TYPE_FAMILIES.match(f"{family}.lead")


def test_every_resource_is_routed_under_its_path() -> None:
    paths = {path for path, _ in route_table()}
    for spec in registry.RESOURCES:
        assert spec.path in paths or spec.path + "{id}/" in paths, spec.name


def test_a_leads_children_are_the_resources_that_declare_it() -> None:
    names = [spec.name for spec in registry.LEAD_CHILDREN]
    assert names == [
        "contact",
        "opportunity",
        "task",
        "activity",
        "comment_thread",
        "comment",
        "sequence_subscription",
    ]
