"""Credentials: Basic with the key as user name, Bearer tokens, and everything else is 401."""

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from crmapi.domain.errors import UNAUTHORIZED_MESSAGE
from crmapi.resources import accounts
from tests.conftest import Api


def _basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _token(app: Any, api: Api, expires_in: int) -> str:
    with app.state.db.write() as conn:
        issued = accounts.create_access_token(conn, api.org_id, api.user_id, expires_in)
    return str(issued["access_token"])


class TestAuth:
    def test_it_accepts_the_api_key_as_basic_user_name(self, api: Api, client: TestClient) -> None:
        response = client.get("/api/v1/me/", headers={"Authorization": _basic(api.key)})
        assert response.status_code == 200
        assert response.json()["id"] == api.user_id

    def test_it_ignores_the_basic_password(self, api: Api, client: TestClient) -> None:
        response = client.get("/api/v1/me/", headers={"Authorization": _basic(api.key, "x")})
        assert response.status_code == 200

    def test_it_accepts_a_bearer_token(self, app: Any, api: Api, client: TestClient) -> None:
        token = _token(app, api, 3600)
        response = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["id"] == api.user_id

    def test_it_refuses_an_expired_token(self, app: Any, api: Api, client: TestClient) -> None:
        token = _token(app, api, -1)
        response = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json() == {"error": UNAUTHORIZED_MESSAGE}

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "Basic",
            "Basic !!!not-base64!!!",
            _basic("api_wrong"),
            _basic(""),
            "Bearer",
            "Bearer tok_unknown",
            "Digest abc",
            "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
        ],
    )
    def test_it_answers_401_with_closes_body(
        self, api: Api, client: TestClient, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header is not None else {}
        response = client.get("/api/v1/lead/", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": UNAUTHORIZED_MESSAGE}

    def test_it_stores_keys_and_tokens_hashed(self, app: Any, api: Api) -> None:
        token = _token(app, api, 60)
        with app.state.db.read() as conn:
            stored = [r[0] for r in conn.exec_driver_sql("SELECT key_hash FROM api_key")]
            stored += [r[0] for r in conn.exec_driver_sql("SELECT token_hash FROM access_token")]
        assert api.key not in stored
        assert token not in stored
        assert accounts.digest(api.key) in stored
