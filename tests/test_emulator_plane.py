"""The emulator plane's access rules: org key for its own org only, admin token, production."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.emulator.registry import plane_ops
from crmapi.settings import Settings
from tests.conftest import Api


def test_info_is_public(client: TestClient) -> None:
    body = client.get("/_crmapi/info").json()
    assert body["mode"] == "emulator"
    assert body["backend"] in ("sqlite", "postgresql")


def test_openapi_lists_every_plane_operation(client: TestClient) -> None:
    doc = client.get("/_crmapi/openapi.json").json()
    declared = {(op.method.lower(), "/_crmapi" + op.path.rstrip("/") + "/") for op in plane_ops()}
    served = {(m, p) for p, verbs in doc["paths"].items() for m in verbs}
    assert served == declared


@pytest.mark.parametrize(
    ("who", "status"),
    [("own", 200), ("other", 404), ("none", 401), ("garbage", 401)],
)
def test_org_scope_takes_only_the_orgs_own_key(
    client: TestClient, api: Api, other: Api, who: str, status: int
) -> None:
    auth: Any = {"own": (api.key, ""), "other": (other.key, ""), "none": None}.get(
        who, ("nope", "")
    )
    response = client.get(f"/_crmapi/orgs/{api.org_id}/info", auth=auth)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {
            "organization_id": api.org_id,
            "user_id": api.user_id,
            "admin": False,
        }
    else:
        assert set(response.json()) == {"error"}


def test_unknown_org_and_other_org_answer_alike(client: TestClient, api: Api, other: Api) -> None:
    missing = client.get("/_crmapi/orgs/orga_missing/info", auth=(api.key, ""))
    foreign = client.get(f"/_crmapi/orgs/{other.org_id}/info", auth=(api.key, ""))
    assert (missing.status_code, missing.json()) == (foreign.status_code, foreign.json())


def test_wrong_method_is_405_in_close_shape(client: TestClient) -> None:
    response = client.post("/_crmapi/info")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert set(response.json()) == {"error"}


def test_admin_token_opens_org_operations(settings: Settings, api: Api) -> None:
    app = create_app(
        Settings(**{**settings.__dict__, "admin_token": "s3cret"}), migrate_schema=False
    )
    with TestClient(app) as c:
        ok = c.get(f"/_crmapi/orgs/{api.org_id}/info", headers={"x-crmapi-admin-token": "s3cret"})
        assert ok.json()["admin"] is True
        bad = c.get(f"/_crmapi/orgs/{api.org_id}/info", headers={"x-crmapi-admin-token": "nope"})
        assert bad.status_code == 401
    app.state.db.dispose()


def test_plane_absent_in_production_mode(settings: Settings, api: Api) -> None:
    app = create_app(Settings(**{**settings.__dict__, "mode": "production"}), migrate_schema=False)
    with TestClient(app) as c:
        for path in ("/_crmapi/info", "/_crmapi/openapi.json", f"/_crmapi/orgs/{api.org_id}/info"):
            response = c.get(path, auth=(api.key, ""))
            assert response.status_code == 404, path
            assert response.json() == {"error": "The requested URL was not found on the server."}
        assert c.get("/api/v1/me/", auth=(api.key, "")).status_code == 200
    app.state.db.dispose()
