"""API keys over real HTTP: admin only, the secret answered once, revoked at once, never itself."""

import httpx
import pytest

from tests.support.engine_process import EngineProcess

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


def test_it_creates_a_key_whose_secret_works_and_is_never_shown_again(
    engine: EngineProcess, api: httpx.Client
) -> None:
    response = api.post("/api-keys", json={"name": "ci runner", "scope": "read"})
    assert response.status_code == 201, response.text
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("bctrl_") and created["apiKey"]["scopes"] == ["read"]
    assert created["apiKey"]["lastUsedAt"] is None and created["apiKey"]["revokedAt"] is None

    with httpx.Client(base_url=f"{engine.url}/v1", headers={"Authorization": f"Bearer {secret}"}) as ci:
        assert ci.get("/auth/whoami").json()["apiKey"]["name"] == "ci runner"
        assert ci.post("/workspaces", json={"name": "nope"}).status_code == 403

    listed = api.get("/api-keys", params={"limit": 500}).json()
    assert secret not in str(listed)
    mine = next(k for k in listed["apiKeys"] if k["id"] == created["apiKey"]["id"])
    assert mine["lastUsedAt"] is not None  # it was used just above
    assert set(mine) == {"id", "name", "scopes", "team", "createdAt", "lastUsedAt", "revokedAt"}
    assert mine["team"] is False  # a script's key unless asked


def test_a_revoked_key_is_refused_at_once(engine: EngineProcess, api: httpx.Client) -> None:
    created = api.post("/api-keys", json={"name": "short-lived", "scope": "operator"}).json()
    headers = {"Authorization": f"Bearer {created['secret']}"}
    with httpx.Client(base_url=f"{engine.url}/v1", headers=headers) as client:
        assert client.get("/workspaces").status_code == 200
        assert api.delete(f"/api-keys/{created['apiKey']['id']}").status_code == 204
        refused = client.get("/workspaces")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "auth.required"
    listed = {k["id"]: k for k in api.get("/api-keys", params={"limit": 500}).json()["apiKeys"]}
    revoked_at = listed[created["apiKey"]["id"]]["revokedAt"]
    assert revoked_at is not None
    # Revoking again is calm and keeps the first moment.
    assert api.delete(f"/api-keys/{created['apiKey']['id']}").status_code == 204
    again = {k["id"]: k for k in api.get("/api-keys", params={"limit": 500}).json()["apiKeys"]}
    assert again[created["apiKey"]["id"]]["revokedAt"] == revoked_at


def test_a_key_cannot_revoke_itself(api: httpx.Client) -> None:
    own_id = api.get("/auth/whoami").json()["apiKey"]["id"]
    response = api.delete(f"/api-keys/{own_id}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "api_key.self"
    assert api.get("/auth/whoami").status_code == 200


@pytest.mark.parametrize("scope", ["operator", "read"])
def test_only_an_admin_key_may_see_or_change_keys(
    engine: EngineProcess, api: httpx.Client, scope: str
) -> None:
    target = api.post("/api-keys", json={"name": "target", "scope": "read"}).json()["apiKey"]["id"]
    with engine.client(scope) as client:
        for method, path, body in (
            ("GET", "/api-keys", None),
            ("POST", "/api-keys", {"name": "sneaky", "scope": "admin"}),
            ("DELETE", f"/api-keys/{target}", None),
        ):
            response = client.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["error"]["code"] == "auth.forbidden"


def test_it_refuses_bad_input_with_the_contracts_body(api: httpx.Client) -> None:
    for body in ({"name": "x", "scope": "root"}, {"name": "", "scope": "read"}, {"scope": "read"}):
        response = api.post("/api-keys", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "request.invalid"
    for key_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = api.delete(f"/api-keys/{key_id}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "api_key.not_found"
