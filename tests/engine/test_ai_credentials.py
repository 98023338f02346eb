"""AI credentials over real HTTP; `test` calls a local server speaking each provider's wire format."""

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.engine_process import EngineProcess, refused_port
from tests.support.model_server import ModelServer

GOOD_KEY = "sk-good-" + "x" * 20


@pytest.fixture(scope="module")
def provider(model_server: ModelServer) -> str:
    """A server speaking each provider's model listing (the session engine may call it)."""
    return model_server.url


@pytest.fixture
def credential_id(api: httpx.Client) -> Iterator[str]:
    credential_id = f"cred-{uuid.uuid4().hex[:8]}"
    yield credential_id
    api.delete(f"/ai-credentials/{credential_id}")


def create(api: httpx.Client, credential_id: str, **fields: object) -> httpx.Response:
    body = {"id": credential_id, "provider": "openai", "label": "Test", "apiKey": GOOD_KEY, **fields}
    return api.post("/ai-credentials", json=body)


def test_it_creates_a_credential_without_returning_its_key(api: httpx.Client, credential_id: str) -> None:
    response = create(api, credential_id, defaultModel="gpt-test")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == credential_id and body["enabled"] is True and body["defaultModel"] == "gpt-test"
    assert "apiKey" not in body and GOOD_KEY not in response.text
    assert GOOD_KEY not in api.get(f"/ai-credentials/{credential_id}").text
    listed = api.get("/ai-credentials", params={"provider": "openai"}).json()
    assert credential_id in [c["id"] for c in listed["credentials"]]


def test_a_duplicate_id_is_409(api: httpx.Client, credential_id: str) -> None:
    create(api, credential_id)
    response = create(api, credential_id)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ai_credential.exists"


@pytest.mark.parametrize(
    "fields",
    [{"id": "1starts-with-digit"}, {"provider": "mistral"}, {"label": ""}, {"baseUrl": "ftp://x"}],
)
def test_it_lists_bad_fields(api: httpx.Client, fields: dict) -> None:
    response = api.post(
        "/ai-credentials", json={"id": "ok-id", "provider": "openai", "label": "x", "apiKey": "k", **fields}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == next(iter(fields))


def test_openai_compatible_needs_a_base_url(api: httpx.Client, credential_id: str) -> None:
    response = create(api, credential_id, provider="openai-compatible")
    assert response.status_code == 400
    assert "baseUrl" in response.json()["error"]["message"]


def test_it_patches_label_key_and_enabled(api: httpx.Client, credential_id: str) -> None:
    create(api, credential_id)
    response = api.patch(f"/ai-credentials/{credential_id}", json={"label": "Renamed", "enabled": False})
    assert response.status_code == 200
    assert response.json()["label"] == "Renamed" and response.json()["enabled"] is False


@pytest.mark.parametrize(
    ("provider_name", "base_path", "header"),
    [
        ("openai", "/v1", "authorization"),
        ("openai-compatible", "/v1", "authorization"),
        ("anthropic", "/v1", "x-api-key"),
        ("google", "/v1beta", "x-goog-api-key"),
    ],
)
def test_it_tests_a_good_key_against_the_provider(
    api: httpx.Client,
    model_server: ModelServer,
    provider: str,
    credential_id: str,
    provider_name: str,
    base_path: str,
    header: str,
) -> None:
    create(api, credential_id, provider=provider_name, baseUrl=provider + base_path)
    body = api.post(f"/ai-credentials/{credential_id}/test").json()
    assert body == {"ok": True, "message": body["message"], "provider": provider_name, "code": None}
    assert "model(s)" in body["message"]
    seen = model_server.listings[-1]
    assert seen["path"] == f"{base_path}/models" and header in seen
    if provider_name == "anthropic":
        assert seen["anthropic-version"]


def test_a_rejected_key_is_reported_without_the_key(
    api: httpx.Client, provider: str, credential_id: str
) -> None:
    create(api, credential_id, apiKey="sk-bad-key-123456", baseUrl=provider + "/v1")
    response = api.post(f"/ai-credentials/{credential_id}/test")
    body = response.json()
    assert response.status_code == 200 and body["ok"] is False
    assert body["message"].startswith("The provider rejected the key")
    assert "sk-bad-key-123456" not in response.text


def test_an_unreachable_provider_is_a_clear_failure(
    api: httpx.Client, credential_id: str, closed_port: int
) -> None:
    create(api, credential_id, baseUrl=f"http://127.0.0.1:{closed_port}/v1")
    body = api.post(f"/ai-credentials/{credential_id}/test").json()
    assert body["ok"] is False and "Could not reach the provider" in body["message"]
    assert body["code"] == "provider.unreachable"


def test_deleting_a_credential_a_workspace_mounts_is_409(api: httpx.Client, credential_id: str) -> None:
    create(api, credential_id)
    workspace = api.post(
        "/workspaces", json={"name": "uses-cred", "mounts": {"ai": {"allow": [credential_id]}}}
    ).json()
    response = api.delete(f"/ai-credentials/{credential_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ai_credential.in_use"
    assert "uses-cred" in response.json()["error"]["message"]
    api.delete(f"/workspaces/{workspace['id']}")
    assert api.delete(f"/ai-credentials/{credential_id}").status_code == 204


def test_an_operator_can_test_but_not_create(
    engine: EngineProcess, api: httpx.Client, credential_id: str
) -> None:
    create(api, credential_id, baseUrl=f"http://127.0.0.1:{refused_port()}/v1")
    with engine.client("operator") as operator:
        assert operator.post(f"/ai-credentials/{credential_id}/test").status_code == 200
        assert create(operator, "op-made").status_code == 403
