"""AI credentials over real HTTP; `test` calls a local server speaking each provider's wire format."""

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support.engine_process import EngineProcess, refused_port

GOOD_KEY = "sk-good-" + "x" * 20


class FakeProvider(BaseHTTPRequestHandler):
    """GET /v1/models (and /v1beta/models) the way OpenAI, Anthropic and Google answer it."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        FakeProvider.seen.append({"path": self.path, **headers})
        key = (
            headers.get("authorization", "").removeprefix("Bearer ")
            or headers.get("x-api-key", "")
            or headers.get("x-goog-api-key", "")
        )
        if not self.path.endswith("/models"):
            self._send(404, {"error": "no such route"})
        elif key != GOOD_KEY:
            self._send(401, {"error": {"message": f"Incorrect API key provided: {key}"}})
        elif "x-goog-api-key" in headers:
            self._send(200, {"models": [{"name": "models/gemini-test"}]})
        else:
            self._send(200, {"data": [{"id": "model-a"}, {"id": "model-b"}]})

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
    api: httpx.Client, provider: str, credential_id: str, provider_name: str, base_path: str, header: str
) -> None:
    create(api, credential_id, provider=provider_name, baseUrl=provider + base_path)
    FakeProvider.seen.clear()
    body = api.post(f"/ai-credentials/{credential_id}/test").json()
    assert body == {"ok": True, "message": body["message"], "provider": provider_name}
    assert "model(s)" in body["message"]
    assert FakeProvider.seen[-1]["path"] == f"{base_path}/models" and header in FakeProvider.seen[-1]
    if provider_name == "anthropic":
        assert FakeProvider.seen[-1]["anthropic-version"]


def test_a_rejected_key_is_reported_without_the_key(
    api: httpx.Client, provider: str, credential_id: str
) -> None:
    create(api, credential_id, apiKey="sk-bad-key-123456", baseUrl=provider + "/v1")
    response = api.post(f"/ai-credentials/{credential_id}/test")
    body = response.json()
    assert response.status_code == 200 and body["ok"] is False
    assert body["message"].startswith("The provider rejected the key")
    assert "sk-bad-key-123456" not in response.text


def test_an_unreachable_provider_is_a_clear_failure(api: httpx.Client, credential_id: str) -> None:
    create(api, credential_id, baseUrl=f"http://127.0.0.1:{refused_port()}/v1")
    body = api.post(f"/ai-credentials/{credential_id}/test").json()
    assert body["ok"] is False and "Could not reach the provider" in body["message"]


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
