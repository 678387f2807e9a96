"""Webhook permissions, Close's model: admins manage every subscription, other members only
their own; nobody but an admin or the creator sees a subscription (or its ``signature_key``).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from crmapi.events.webhook_access import FORBIDDEN
from crmapi.resources import accounts
from crmapi.storage import tables as t
from tests.conftest import Api, make_org

EVENTS = [{"object_type": "lead", "action": "created"}]


class Org:
    def __init__(self, app: Any, client: TestClient) -> None:
        self.admin = make_org(app, client)
        with app.state.db.write() as conn:
            added = accounts.add_user(conn, self.admin.org_id, "member@acme.example")
        self.member = Api(client, added["api_key"], {**added, "organization_id": self.admin.org_id})
        self.outsider = make_org(app, client, "Globex", "owner@globex.example")


@pytest.fixture
def org(app: Any) -> Iterator[Org]:
    with TestClient(app) as client:
        yield Org(app, client)


def _subscribe(api: Api, url: str) -> dict[str, Any]:
    response = api.post("webhook/", {"url": url, "events": EVENTS})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# (caller, whose subscription, method, body) -> status; PUT bodies change the URL.
CASES = [
    ("admin", "admin", "GET", 200),
    ("admin", "member", "GET", 200),
    ("admin", "member", "PUT", 200),
    ("admin", "member", "DELETE", 200),
    ("member", "member", "GET", 200),
    ("member", "member", "PUT", 200),
    ("member", "member", "DELETE", 200),
    ("member", "admin", "GET", 403),
    ("member", "admin", "PUT", 403),
    ("member", "admin", "DELETE", 403),
    ("outsider", "admin", "GET", 404),
    ("outsider", "member", "PUT", 404),
    ("outsider", "admin", "DELETE", 404),
]


@pytest.mark.parametrize(("caller", "owner", "method", "status"), CASES)
def test_who_may_manage_a_subscription(
    org: Org, caller: str, owner: str, method: str, status: int
) -> None:
    sub = _subscribe(getattr(org, owner), f"https://example.com/{owner}")
    api: Api = getattr(org, caller)
    body = {"url": "https://attacker.example/"} if method == "PUT" else None
    response = api.request(method, f"webhook/{sub['id']}/", json=body)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json() == {"error": FORBIDDEN}
    if status != 200:  # refused: nothing changed
        assert org.admin.ok("GET", f"webhook/{sub['id']}/") == sub
    elif method == "GET":
        assert response.json()["signature_key"] == sub["signature_key"]


def test_lists_show_members_only_their_own(org: Org) -> None:
    mine = _subscribe(org.admin, "https://example.com/admin")
    theirs = _subscribe(org.member, "https://example.com/member")
    assert len(theirs["signature_key"]) == 64  # the creator gets its key, as Close returns it
    assert org.admin.ok("GET", "webhook/")["data"] == [mine, theirs]
    assert org.member.ok("GET", "webhook/")["data"] == [theirs]
    assert org.outsider.ok("GET", "webhook/")["data"] == []
    listed = org.member.ok("GET", "webhook/", params={"_fields": "id,signature_key"})
    assert listed["data"] == [{"id": theirs["id"], "signature_key": theirs["signature_key"]}]


def test_a_deactivated_admin_manages_nothing_but_their_own(app: Any, org: Org) -> None:
    theirs = _subscribe(org.member, "https://example.com/member")
    with app.state.db.write() as conn:
        conn.execute(
            update(t.membership)
            .where(t.membership.c.user_id == org.admin.user_id)
            .values(is_active=False)
        )
    # Whether a deactivated member authenticates at all is the membership item's concern;
    # if it does, it is no longer an admin.
    response = org.admin.get(f"webhook/{theirs['id']}/")
    assert response.status_code in (401, 403)
