"""Workspaces over real HTTP against a real engine process."""

import uuid

import httpx
import pytest

from tests.support.engine_process import EngineProcess

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


def test_it_creates_gets_and_lists_a_workspace(api: httpx.Client) -> None:
    name = f"crm-{uuid.uuid4().hex[:6]}"
    created = api.post("/workspaces", json={"name": name})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == name and body["runtimeCount"] == 0 and body["createdAt"].endswith("Z")
    assert api.get(f"/workspaces/{body['id']}").json()["id"] == body["id"]
    listed = api.get("/workspaces", params={"q": name}).json()
    assert [w["id"] for w in listed["workspaces"]] == [body["id"]]
    assert listed["nextCursor"] is None


def test_it_paginates_with_a_cursor(api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = {api.post("/workspaces", json={"name": f"page-{tag}-{i}"}).json()["id"] for i in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": f"page-{tag}", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/workspaces", params=params).json()
        seen += [w["id"] for w in page["workspaces"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and set(seen) == ids


def test_it_rejects_a_forged_cursor(api: httpx.Client) -> None:
    response = api.get("/workspaces", params={"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "request.invalid"


def test_it_lists_each_bad_field(api: httpx.Client) -> None:
    response = api.post("/workspaces", json={"name": "", "mounts": {"storage": {"workspace": "../x"}}})
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "request.invalid"
    paths = {f["path"] for f in body["error"]["details"]["fields"]}
    assert {"name", "mounts.storage.workspace"} <= paths
    assert body["requestId"] == response.headers["X-Request-Id"]


def test_it_refuses_mounts_naming_a_missing_ai_credential(api: httpx.Client) -> None:
    response = api.post("/workspaces", json={"name": "x", "mounts": {"ai": {"allow": ["nope"]}}})
    assert response.status_code == 400
    assert "nope" in response.json()["error"]["message"]


def test_it_patches_name_and_mounts(api: httpx.Client, workspace: dict) -> None:
    response = api.patch(
        f"/workspaces/{workspace['id']}", json={"name": "renamed", "mounts": {"vault": {"allow": ["prod/"]}}}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "renamed"
    assert response.json()["mounts"]["vault"]["allow"] == ["prod/"]


def test_it_returns_404_for_unknown_and_malformed_ids(api: httpx.Client) -> None:
    for workspace_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = api.get(f"/workspaces/{workspace_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "workspace.not_found"


def test_it_replays_a_create_with_the_same_idempotency_key(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    first = api.post("/workspaces", json={"name": "once"}, headers={"Idempotency-Key": key})
    again = api.post("/workspaces", json={"name": "once"}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = api.post("/workspaces", json={"name": "other"}, headers={"Idempotency-Key": key})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency.conflict"


def test_it_requires_a_key(engine: EngineProcess) -> None:
    response = httpx.get(f"{engine.url}/v1/workspaces")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"


def test_a_wrong_method_is_a_405_with_the_error_body(api: httpx.Client, workspace: dict) -> None:
    response = api.put(f"/workspaces/{workspace['id']}", json={"name": "x"})
    assert response.status_code == 405
    body = response.json()
    assert body["error"]["code"] == "request.method_not_allowed"
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert set(response.headers["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert body["error"]["details"]["allowed"] == ["DELETE", "GET", "PATCH"]


def test_a_read_key_cannot_create(engine: EngineProcess) -> None:
    with engine.client("read") as client:
        assert client.get("/workspaces").status_code == 200
        response = client.post("/workspaces", json={"name": "nope"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.forbidden"


def test_whoami_names_the_key(engine: EngineProcess) -> None:
    with engine.client("operator") as client:
        body = client.get("/auth/whoami").json()
    assert body["apiKey"]["scopes"] == ["operator"]
    assert body["organization"]["name"]


def test_it_deletes_an_empty_workspace(api: httpx.Client) -> None:
    workspace_id = api.post("/workspaces", json={"name": "doomed"}).json()["id"]
    assert api.delete(f"/workspaces/{workspace_id}").status_code == 204
    assert api.get(f"/workspaces/{workspace_id}").status_code == 404


def test_it_says_its_limits(engine: EngineProcess) -> None:
    with engine.client("read") as reader:
        limits = reader.get("/limits").json()
    assert limits["storageMaxBytes"] == 100 * 1024 * 1024 and limits["extensionMaxBytes"] == 50 * 1024 * 1024
    assert limits["maxActiveRuntimes"] >= 1 and limits["defaultIdleTimeoutSeconds"] == 900


def test_it_counts_each_resource_without_listing_it(engine: EngineProcess) -> None:
    with engine.client("operator") as api, engine.client("read") as reader:
        before = reader.get("/counts").json()
        workspace = api.post("/workspaces", json={"name": "counted"}).json()
        profile = api.post("/browser-profiles", json={"name": "counted"}).json()
        during = reader.get("/counts").json()
        assert during["workspaces"] == before["workspaces"] + 1
        assert during["profiles"] == before["profiles"] + 1
        assert {k: during[k] for k in ("extensions", "vaultEntries", "aiCredentials")} == {
            k: before[k] for k in ("extensions", "vaultEntries", "aiCredentials")
        }
        # the whole list agrees with the count (no totals elsewhere in the contract)
        listed = api.get("/workspaces", params={"limit": 500}).json()
        assert listed["nextCursor"] is not None or len(listed["workspaces"]) == during["workspaces"]
        active = api.get("/runtimes", params={"status": "active", "limit": 500}).json()["runtimes"]
        assert during["activeRuntimes"] == len(active)
        api.delete(f"/browser-profiles/{profile['id']}")
        api.delete(f"/workspaces/{workspace['id']}")
        assert reader.get("/counts").json()["workspaces"] == before["workspaces"]
